/**
 * HTTP surface: REST for conversations, SSE events, health, readiness, metrics and the web page.
 * The OpenAI-compatible endpoint lives in `openai.ts`.
 */
import { HttpLayerRouter, HttpRouter, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import type { ReplyEvent } from "@sluice/core"
import { QueueMode } from "@sluice/core/Conversations"
import * as Protocol from "@sluice/core/Protocol"
import { Deferred, Duration, Effect, Either, Layer, Option, Redacted, Schema, Stream } from "effect"
import * as Auth from "../Auth.js"
import * as Metrics from "../Metrics.js"
import * as Ids from "./ids.js"
import * as Requests from "./requests.js"
import type { State } from "./state.js"
import * as Web from "./web.js"

export const errorResponse = (e: Requests.Refused) =>
  HttpServerResponse.unsafeJson(
    { error: e.body },
    {
      status: e.status,
      headers: e.body.retryAfterMs !== undefined ? { "retry-after": String(Math.ceil(e.body.retryAfterMs / 1000)) } : {}
    }
  )

/** The caller's principal, from `Authorization: Bearer` or `?token=` (EventSource cannot set headers). */
export const principal = (state: State) =>
  Effect.gen(function* () {
    const req = yield* HttpServerRequest.HttpServerRequest
    if (!state.auth.required) return Auth.LOCAL
    const token = Auth.bearer(req.headers.authorization) ?? new URL(req.url, "http://x").searchParams.get("token") ?? undefined
    const p = state.auth.authenticate(token)
    if (p === undefined) {
      return yield* Effect.fail(
        Requests.refused("Unauthorized", token === undefined ? "missing bearer token" : "invalid bearer token", 401)
      )
    }
    return p
  })

/** `/metrics`: the metrics token, or a principal's token when tokens are configured; open otherwise. */
export const metricsAccess = (state: State) =>
  Effect.gen(function* () {
    const req = yield* HttpServerRequest.HttpServerRequest
    const token = Auth.bearer(req.headers.authorization)
    const scraper = state.options.metricsToken
    if (scraper !== undefined && token !== undefined && Auth.safeEqual(token, Redacted.value(scraper))) return
    if (scraper === undefined && !state.auth.required) return
    yield* principal(state)
  })

/** Reads and decodes a JSON body within the size limit; errors name the problem. */
export const body = <A, I>(state: State, schema: Schema.Schema<A, I>) =>
  Effect.gen(function* () {
    const req = yield* HttpServerRequest.HttpServerRequest
    const max = state.options.limits.maxBodyBytes
    const declared = Number(req.headers["content-length"] ?? "NaN")
    // Built only when refused: building it counts it in sluice_errors_total.
    const tooLarge = () => Requests.refused("PayloadTooLarge", `request body over ${max} bytes`, 413)
    if (declared > max) return yield* Effect.fail(tooLarge())
    // Read by hand rather than with withMaxBodySize: a chunked body over the limit is drained (up to
    // 4× the limit) so the client reads the 413 instead of a reset connection.
    let size = 0
    const chunks: Array<Uint8Array> = []
    yield* req.stream.pipe(
      Stream.takeWhile(() => size <= max * 4),
      Stream.runForEach((chunk) =>
        Effect.sync(() => {
          size += chunk.length
          if (size <= max) chunks.push(chunk)
        })
      ),
      Effect.mapError(() => Requests.refused("BadJson", "the request body could not be read", 400))
    )
    if (size > max) return yield* Effect.fail(tooLarge())
    const text = Buffer.concat(chunks).toString("utf8")
    let json: unknown
    try {
      json = JSON.parse(text)
    } catch (e) {
      return yield* Effect.fail(Requests.refused("BadJson", `body is not JSON: ${(e as Error).message}`, 400))
    }
    const decoded = Schema.decodeUnknownEither(schema, { errors: "first" })(json)
    if (Either.isLeft(decoded)) {
      const issue = Protocol.firstIssue(decoded.left)
      const where = issue && issue.path.length > 0 ? `${issue.path.join(".")}: ` : ""
      return yield* Effect.fail(Requests.refused("BadFrame", `${where}${issue?.message ?? "invalid body"}`, 400))
    }
    return decoded.right
  })

/** The path's conversation id, held to the same rule as the WebSocket's. */
const conversationId = Effect.flatMap(HttpRouter.params, (p) => Requests.checkId(p.id ?? ""))

/** Runs a handler, turning refusals into JSON error responses. */
const handle = <E, R>(effect: Effect.Effect<HttpServerResponse.HttpServerResponse, E | Requests.Refused, R>) =>
  Effect.catchIf(effect, (e): e is Requests.Refused => e instanceof Requests.Refused, (e) => Effect.succeed(errorResponse(e)))

const json = (value: unknown, status = 200) => HttpServerResponse.unsafeJson(value, { status })

const SendBody = Schema.Struct({
  text: Schema.String.pipe(Schema.minLength(1)),
  queueMode: Schema.optional(QueueMode),
  clientMessageId: Schema.optional(Protocol.ClientMessageId)
})

/** `id: seq`, `event: <tag>`, `data: <json>`. */
export const sseEvent = (ev: ReplyEvent.ReplyEvent): string => `id: ${ev.seq}\nevent: ${ev._tag}\ndata: ${JSON.stringify(ev)}\n\n`

export const sseHeaders = {
  "cache-control": "no-cache",
  "x-accel-buffering": "no",
  connection: "keep-alive"
} as const

/** A text/event-stream body that ends at shutdown, with heartbeat comments, counted as a connection. */
export const sseStream = (state: State, events: Stream.Stream<string, unknown>, prelude = "") =>
  Stream.make(prelude).pipe(
    Stream.concat(events),
    Stream.merge(
      Stream.tick(Duration.millis(state.options.sseHeartbeatMs)).pipe(Stream.drop(1), Stream.as(": ping\n\n")),
      { haltStrategy: "left" }
    ),
    Stream.interruptWhen(Deferred.await(state.shutdown)),
    Stream.catchAllCause(() => Stream.make(`event: error\ndata: ${JSON.stringify({ code: "Internal", message: "stream failed" })}\n\n`)),
    Stream.encodeText,
    Stream.ensuring(Effect.sync(() => Metrics.unsafeGaugeAdd(Metrics.activeConnections, -1, { transport: "sse" }))),
    Stream.onStart(Effect.sync(() => Metrics.unsafeGaugeAdd(Metrics.activeConnections, 1, { transport: "sse" })))
  )

export const routes = (state: State) => {
  const post = HttpLayerRouter.add(
    "POST",
    "/v1/conversations/:id/messages",
    handle(
      Effect.gen(function* () {
        const who = yield* principal(state)
        const id = yield* conversationId
        const b = yield* body(state, SendBody)
        // The key in the body, or the conventional `Idempotency-Key` header.
        const request = yield* HttpServerRequest.HttpServerRequest
        const header = request.headers["idempotency-key"]
        const key = b.clientMessageId ?? (header !== undefined && header !== "" ? header.slice(0, 200) : undefined)
        const accepted = yield* Requests.send(state, who, id, b.text, { queueMode: b.queueMode, clientMessageId: key })
        return json(accepted, 202)
      })
    )
  )
  const stop = HttpLayerRouter.add(
    "POST",
    "/v1/conversations/:id/stop",
    handle(
      Effect.gen(function* () {
        const who = yield* principal(state)
        return json(yield* Requests.stop(state, who, yield* conversationId))
      })
    )
  )
  const messages = HttpLayerRouter.add(
    "GET",
    "/v1/conversations/:id/messages",
    handle(
      Effect.gen(function* () {
        const who = yield* principal(state)
        return json({ messages: yield* Requests.history(state, who, yield* conversationId) })
      })
    )
  )
  const list = HttpLayerRouter.add(
    "GET",
    "/v1/conversations",
    handle(
      Effect.gen(function* () {
        const who = yield* principal(state)
        return json({ conversations: yield* Requests.list(state, who) })
      })
    )
  )
  const events = HttpLayerRouter.add(
    "GET",
    "/v1/conversations/:id/events",
    handle(
      Effect.gen(function* () {
        const req = yield* HttpServerRequest.HttpServerRequest
        const who = yield* principal(state)
        const id = yield* conversationId
        const stored = yield* Requests.checkOwner(state, who, id, false)
        const raw = req.headers["last-event-id"] ?? new URL(req.url, "http://x").searchParams.get("fromSeq") ?? "0"
        const fromSeq = /^\d{1,15}$/.test(raw.trim()) ? Number(raw.trim()) : Number.NaN
        if (!Number.isSafeInteger(fromSeq)) {
          return yield* Effect.fail(Requests.refused("BadFrame", `Last-Event-ID / fromSeq must be a seq, got ${JSON.stringify(raw)}`, 400))
        }
        const stream = state.conversations.subscribe(stored, { fromSeq }).pipe(Stream.map((e) => sseEvent(Ids.eventFor(who, e))))
        return HttpServerResponse.stream(sseStream(state, stream, "retry: 1000\n: connected\n\n"), {
          contentType: "text/event-stream",
          headers: sseHeaders
        })
      })
    )
  )
  /** One process: ready. A cluster runner: ready once it holds shards (it serves its share), with how many. */
  const readiness = (st: State) => {
    if (Option.isNone(st.cluster)) return json({ ready: true })
    const shards = st.cluster.value.shards()
    const cluster = { runner: st.cluster.value.runner, shardsHeld: shards.held, shards: shards.total }
    return shards.held > 0 ? json({ ready: true, cluster }) : json({ ready: false, reason: "cluster: this runner holds no shards yet", cluster }, 503)
  }
  const health = HttpLayerRouter.add("GET", "/healthz", Effect.succeed(json({ status: "ok" })))
  const ready = HttpLayerRouter.add(
    "GET",
    "/readyz",
    Effect.suspend(() =>
      state.isShuttingDown()
        ? Effect.succeed(json({ ready: false, reason: "shutting down" }, 503))
        : // A read of the store that finds nothing: no client id starts with "@" (ids.ts), no stored id is "@".
          state.conversations.owner("@").pipe(
            Effect.as(readiness(state)),
            Effect.orElseSucceed(() => json({ ready: false, reason: "store unavailable" }, 503))
          )
    )
  )
  const metrics = HttpLayerRouter.add(
    "GET",
    "/metrics",
    handle(
      Effect.zipRight(
        metricsAccess(state),
        Effect.map(Metrics.prometheus, (text) => HttpServerResponse.text(text, { contentType: "text/plain; version=0.0.4; charset=utf-8" }))
      )
    )
  )
  const web = HttpLayerRouter.addAll(
    Web.assets.map((a) =>
      HttpLayerRouter.route(
        "GET",
        a.path,
        Effect.sync(() =>
          HttpServerResponse.text(a.body(), { contentType: a.contentType, headers: { "cache-control": "no-cache" } })
        )
      )
    )
  )
  return Layer.mergeAll(post, stop, messages, list, events, health, ready, metrics, web)
}
