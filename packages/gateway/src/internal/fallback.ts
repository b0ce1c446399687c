/**
 * What a request no other route took gets: a JSON error, never an empty body. A path the gateway serves
 * with other methods is a 405 with `Allow`; anything else a 404. The table lists every route the
 * gateway mounts (test/Fallback.test.ts checks each one is really served). @internal
 */
import { HttpLayerRouter, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Effect } from "effect"
import * as Requests from "./requests.js"
import * as Web from "./web.js"

/** Every route: method(s) and path pattern (`:name` is one segment). */
export const ROUTES: ReadonlyArray<readonly [string, string]> = [
  ["GET POST", "/v1/conversations/:id/messages"],
  ["POST", "/v1/conversations/:id/stop"],
  ["GET", "/v1/conversations"],
  ["GET", "/v1/conversations/:id/events"],
  ["PATCH DELETE", "/v1/conversations/:id"],
  ["POST", "/v1/conversations/:id/regenerate"],
  ["PUT", "/v1/conversations/:id/messages/:messageId"],
  ["GET", "/v1/conversations/:id/export"],
  ["POST", "/v1/chat/completions"],
  ["GET", "/v1/models"],
  ["GET", "/healthz"],
  ["GET", "/readyz"],
  ["GET", "/metrics"],
  ["GET", "/ws"],
  ["GET POST", "/webhooks/:channel/:account"],
  ...Web.assets.map((a) => ["GET", a.path] as const)
]

const patterns = ROUTES.map(([methods, path]) => ({
  methods: methods.split(" "),
  re: new RegExp(`^${path.replace(/:[A-Za-z]+/g, "[^/]+")}/?$`)
}))

/** The methods a path is served with (empty: no such path). HEAD goes with GET. */
export const allowed = (path: string): ReadonlyArray<string> => {
  const out = new Set<string>()
  for (const p of patterns) if (p.re.test(path)) for (const m of p.methods) out.add(m)
  if (out.has("GET")) out.add("HEAD")
  return [...out]
}

const error = (status: number, code: "NotFound" | "MethodNotAllowed", message: string, headers: Record<string, string> = {}) => {
  Requests.refused(code, message, status) // counted in sluice_errors_total
  return HttpServerResponse.unsafeJson({ error: { code, message } }, { status, headers })
}

const fallback = Effect.map(HttpServerRequest.HttpServerRequest, (req) => {
  const path = new URL(req.url, "http://x").pathname
  const methods = allowed(path)
  return methods.length === 0
    ? error(404, "NotFound", `no route for ${req.method} ${path}`)
    : error(405, "MethodNotAllowed", `${req.method} is not allowed on ${path}; allowed: ${methods.join(", ")}`, { allow: methods.join(", ") })
})

/** The routes every request no other route took lands on (`/*`: find-my-way tries it last). Not
 * HEAD: the router answers a HEAD with the GET route when it finds no HEAD route. */
export const routes = HttpLayerRouter.addAll(
  (["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] as const).map((m) => HttpLayerRouter.route(m, "/*", fallback))
)
