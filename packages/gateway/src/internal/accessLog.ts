/**
 * One log line per HTTP request: method, path (never the query: it may carry `?token=`), status,
 * duration and principal (never the token). Streams (SSE) are logged when their headers go out. @internal
 */
import { HttpServerRequest, type HttpServerResponse } from "@effect/platform"
import { Clock, Effect, Exit } from "effect"
import * as Auth from "../Auth.js"
import type { State } from "./state.js"

export const middleware =
  (state: State) =>
  <E, R>(app: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>): Effect.Effect<HttpServerResponse.HttpServerResponse, E, R | HttpServerRequest.HttpServerRequest> =>
    Effect.gen(function* () {
      const req = yield* HttpServerRequest.HttpServerRequest
      const started = yield* Clock.currentTimeMillis
      const exit = yield* Effect.exit(app)
      const ms = (yield* Clock.currentTimeMillis) - started
      const path = req.url.split("?")[0] ?? "/"
      const status = Exit.isSuccess(exit) ? exit.value.status : 500
      const token = Auth.bearer(req.headers.authorization) ?? new URL(req.url, "http://x").searchParams.get("token") ?? undefined
      const principal = state.auth.authenticate(token) ?? "-"
      yield* Effect.logInfo(`${req.method} ${path} ${status} ${ms} ms ${principal}`).pipe(
        Effect.annotateLogs({ kind: "access", method: req.method, path, status, durationMs: ms, principal })
      )
      return yield* exit
    })
