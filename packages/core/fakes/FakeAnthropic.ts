/**
 * A protocol-faithful fake of the Anthropic Messages API on 127.0.0.1, for tests and for trying
 * the gateway without a key (`ANTHROPIC_BASE_URL=<url>`, any `ANTHROPIC_API_KEY`).
 *
 * Wire format as in `protocols.md` §1.7–1.9: every frame is `event: <name>` + `data: <json>` + a
 * blank line, `usage` in both `message_start` and `message_delta`, pings, `request-id` header.
 * It accepts both `anthropic-version` values (`2023-06-01`, `2026-10-21`) and both auth headers
 * (`x-api-key`, `Authorization: Bearer`); anything else gets the API's own error bodies
 * (401 `authentication_error`, 400 `invalid_request_error`, 404 `not_found_error`). Bodies are
 * checked as the API checks them (content blocks, images, tools, tool calls paired with their
 * results: `anthropicRequest.ts`) before a script is taken.
 *
 * Scriptable per request: a FIFO queue of scripts, one consumed per `POST …/v1/messages`, then
 * the default script (a deterministic markdown answer built from the last user message). The
 * constructors below cover the faults the model layer must survive: HTTP 429/529/500 with
 * `retry-after`, an in-stream `event: error` with no `message_stop`, a TCP reset mid-stream, a
 * stall after `message_start`, a slow first token, invalid JSON in a frame.
 *
 * It records every request (headers, parsed body, timing, how it ended) and every TCP connection
 * (opened/closed at, `performance.now()` milliseconds), so tests can assert e.g. that an
 * interrupt closed the connection.
 *
 * @since 0.1.0
 */
import { Effect, type Scope } from "effect"
import * as http from "node:http"
import type { AddressInfo, Socket } from "node:net"
import { performance } from "node:perf_hooks"
import { pathToFileURL } from "node:url"
import { compose, tokenize } from "../src/internal/scripted.js"
import * as AnthropicRequest from "./anthropicRequest.js"

/** One step of a streamed response. */
export type Frame =
  /** `event: <event>\ndata: <JSON.stringify(data)>\n\n` */
  | { readonly _tag: "Event"; readonly event: string; readonly data: unknown }
  /** Written verbatim (e.g. a frame with invalid JSON). */
  | { readonly _tag: "Raw"; readonly text: string }
  | { readonly _tag: "Delay"; readonly ms: number }
  /** Destroy the TCP connection (RST where the platform supports it). */
  | { readonly _tag: "Reset" }
  /** Write nothing more and never end; the connection stays open until the client goes away. */
  | { readonly _tag: "Stall" }

export interface Script {
  /** HTTP status; 200 by default. */
  readonly status?: number
  readonly headers?: Readonly<Record<string, string>>
  /** Wait before sending the response headers. */
  readonly headersDelayMs?: number
  /** JSON body for a non-200 response. */
  readonly body?: unknown
  /** The SSE frames of a 200 response; the response ends after the last one (unless Reset/Stall). */
  readonly frames?: ReadonlyArray<Frame>
}

export type ScriptLike = Script | ((request: RecordedRequest) => Script)

export interface RecordedRequest {
  readonly id: number
  readonly connectionId: number
  readonly method: string
  readonly path: string
  readonly headers: Readonly<Record<string, string | Array<string> | undefined>>
  /** Parsed JSON body (undefined when it was not JSON). */
  // biome-ignore lint/suspicious/noExplicitAny: the recorded request body is arbitrary client JSON
  readonly body: any
  readonly auth: "x-api-key" | "bearer" | null
  readonly apiVersion: string | null
  readonly receivedAt: number
  /** When the response was closed (finished or aborted), `performance.now()` ms. */
  closedAt: number | undefined
  /** How it ended: the whole script ran ("completed"), the client went away ("aborted"), or a Reset frame. */
  outcome: "pending" | "completed" | "aborted" | "reset"
}

export interface ConnectionRecord {
  readonly id: number
  readonly openedAt: number
  closedAt: number | undefined
}

export interface Options {
  /** Used when the queue is empty; a markdown answer to the last user message by default. */
  readonly defaultScript?: ScriptLike
  /** Delay between text deltas of the default script (ms, default 0). */
  readonly deltaDelayMs?: number
  readonly port?: number
  readonly host?: string
}

export interface FakeAnthropicServer {
  /** Base URL for `ANTHROPIC_BASE_URL` / the SDK's `baseURL`. */
  readonly url: string
  readonly port: number
  readonly enqueue: (...scripts: ReadonlyArray<ScriptLike>) => void
  readonly setDefault: (script: ScriptLike) => void
  /** Scripts still queued. */
  readonly pending: () => number
  readonly requests: ReadonlyArray<RecordedRequest>
  readonly connections: ReadonlyArray<ConnectionRecord>
  readonly openConnections: () => number
  /** Resolves with `closedAt` once the request's response has closed (immediately if it has). */
  readonly whenClosed: (request: RecordedRequest) => Promise<number>
  /** Stops listening, destroys open connections, clears timers. */
  readonly close: () => Promise<void>
}

export const VERSIONS = ["2023-06-01", "2026-10-21"] as const

// ---------------------------------------------------------------------------------------------
// frames

const ev = (event: string, data: unknown): Frame => ({ _tag: "Event", event, data })

export const messageStart = (o: { id?: string; model?: string; inputTokens?: number } = {}): Frame =>
  ev("message_start", {
    type: "message_start",
    message: {
      id: o.id ?? "msg_01FakeTextExample0001",
      type: "message",
      role: "assistant",
      model: o.model ?? "claude-sonnet-5-5",
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: {
        input_tokens: o.inputTokens ?? 21,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 0,
        output_tokens: 1
      }
    }
  })
export const ping: Frame = ev("ping", { type: "ping" })
export const blockStart = (index: number, block: unknown): Frame =>
  ev("content_block_start", { type: "content_block_start", index, content_block: block })
export const textDelta = (index: number, text: string): Frame =>
  ev("content_block_delta", { type: "content_block_delta", index, delta: { type: "text_delta", text } })
export const thinkingDelta = (index: number, thinking: string): Frame =>
  ev("content_block_delta", { type: "content_block_delta", index, delta: { type: "thinking_delta", thinking } })
export const blockStop = (index: number): Frame => ev("content_block_stop", { type: "content_block_stop", index })
export const messageDelta = (outputTokens: number, stopReason = "end_turn", thinkingTokens?: number): Frame =>
  ev("message_delta", {
    type: "message_delta",
    delta: { stop_reason: stopReason, stop_sequence: null },
    usage: {
      output_tokens: outputTokens,
      ...(thinkingTokens !== undefined ? { output_tokens_details: { thinking_tokens: thinkingTokens } } : {})
    }
  })
export const messageStop: Frame = ev("message_stop", { type: "message_stop" })
export const errorEvent = (type = "overloaded_error", message = "Overloaded"): Frame =>
  ev("error", { type: "error", error: { type, message } })
export const delay = (ms: number): Frame => ({ _tag: "Delay", ms })
export const reset: Frame = { _tag: "Reset" }
export const stall: Frame = { _tag: "Stall" }
export const raw = (text: string): Frame => ({ _tag: "Raw", text })

const tokensOf = (s: string) => Math.max(1, Math.ceil(s.length / 4))

const withDelays = (frames: ReadonlyArray<Frame>, ms: number | undefined): Array<Frame> =>
  ms === undefined || ms <= 0 ? [...frames] : frames.flatMap((f) => [delay(ms), f])

const asChunks = (text: string | ReadonlyArray<string>): ReadonlyArray<string> =>
  typeof text === "string" ? [text] : text

export interface TextOptions {
  readonly model?: string
  readonly inputTokens?: number
  /** Delay before each delta (ms). */
  readonly deltaDelayMs?: number
  readonly stopReason?: string
  /** Insert a ping after the block start (default true, as in the docs' example). */
  readonly ping?: boolean
}

/** Text block frames only (block start, deltas, stop) at `index`. */
const textBlock = (index: number, chunks: ReadonlyArray<string>, o: TextOptions): Array<Frame> => [
  blockStart(index, { type: "text", text: "" }),
  ...(o.ping === false ? [] : [ping]),
  ...withDelays(
    chunks.map((c) => textDelta(index, c)),
    o.deltaDelayMs
  ),
  blockStop(index)
]

/** Example A: a plain text answer; pass an array to control the deltas. */
export const text = (answer: string | ReadonlyArray<string>, o: TextOptions = {}): Script => {
  const chunks = asChunks(answer)
  return {
    frames: [
      messageStart(o),
      ...textBlock(0, chunks, o),
      messageDelta(tokensOf(chunks.join("")), o.stopReason ?? "end_turn"),
      messageStop
    ]
  }
}

/** Example B: a thinking block (with its signature), then text. */
export const thinkingThenText = (
  thinking: string | ReadonlyArray<string>,
  answer: string | ReadonlyArray<string>,
  o: TextOptions = {}
): Script => {
  const th = asChunks(thinking)
  const tx = asChunks(answer)
  const thinkingTokens = tokensOf(th.join(""))
  return {
    frames: [
      messageStart({ ...o, id: "msg_01FakeThinkExample0002" }),
      blockStart(0, { type: "thinking", thinking: "", signature: "" }),
      ...withDelays(
        th.map((c) => thinkingDelta(0, c)),
        o.deltaDelayMs
      ),
      ev("content_block_delta", {
        type: "content_block_delta",
        index: 0,
        delta: { type: "signature_delta", signature: "EqQBCkYIBhgCIkBfakeSignatureBase64==" }
      }),
      blockStop(0),
      ...textBlock(1, tx, { ...o, ping: false }),
      messageDelta(thinkingTokens + tokensOf(tx.join("")), o.stopReason ?? "end_turn", thinkingTokens),
      messageStop
    ]
  }
}

/** Optional text, then one `tool_use` block whose input arrives as `input_json_delta`s. */
export const toolUse = (o: { name: string; input: unknown; id?: string; text?: string }): Script => {
  const json = JSON.stringify(o.input)
  const half = Math.floor(json.length / 2)
  const toolIndex = o.text === undefined ? 0 : 1
  const inputDelta = (partial_json: string) =>
    ev("content_block_delta", {
      type: "content_block_delta",
      index: toolIndex,
      delta: { type: "input_json_delta", partial_json }
    })
  return {
    frames: [
      messageStart({ id: "msg_01FakeToolExample0003" }),
      ...(o.text === undefined ? [] : textBlock(0, [o.text], { ping: false })),
      blockStart(toolIndex, { type: "tool_use", id: o.id ?? "toolu_01FakeTool", name: o.name, input: {} }),
      inputDelta(""),
      inputDelta(json.slice(0, half)),
      inputDelta(json.slice(half)),
      blockStop(toolIndex),
      messageDelta(tokensOf(json) + tokensOf(o.text ?? ""), "tool_use"),
      messageStop
    ]
  }
}

/** An HTTP error with the API's JSON error body. */
export const httpError = (
  status: number,
  type: string,
  message: string,
  o: { retryAfter?: number | string; errorCode?: string; headers?: Record<string, string> } = {}
): Script => ({
  status,
  headers: {
    ...(o.retryAfter !== undefined ? { "retry-after": String(o.retryAfter) } : {}),
    ...o.headers
  },
  body: {
    type: "error",
    error: { type, message, ...(o.errorCode !== undefined ? { details: { error_code: o.errorCode } } : {}) },
    request_id: "req_011CfakeError"
  }
})

export const rateLimited = (retryAfterSeconds?: number): Script =>
  httpError(429, "rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit", {
    ...(retryAfterSeconds !== undefined ? { retryAfter: retryAfterSeconds } : {})
  })
/** The monthly spend cap: a 429 with no `retry-after` that must not be retried. */
export const spendLimit = (): Script =>
  httpError(429, "rate_limit_error", "You have reached your specified workspace API usage limits", {
    errorCode: "enforced_spend_limit_reached"
  })
export const overloaded = (retryAfterSeconds?: number): Script =>
  httpError(529, "overloaded_error", "Overloaded", {
    ...(retryAfterSeconds !== undefined ? { retryAfter: retryAfterSeconds } : {})
  })
export const internalError = (): Script => httpError(500, "api_error", "Internal server error")

/** Some text deltas, then `event: error` and the end of the body, with no `message_stop`. */
export const errorMidStream = (
  before: ReadonlyArray<string> = ["Partial ", "answer "],
  o: { type?: string; message?: string } = {}
): Script => ({
  frames: [
    messageStart(),
    blockStart(0, { type: "text", text: "" }),
    ...before.map((c) => textDelta(0, c)),
    errorEvent(o.type ?? "overloaded_error", o.message ?? "Overloaded")
  ]
})

/** Some text deltas, then the TCP connection is destroyed. */
export const resetMidStream = (before: ReadonlyArray<string> = ["Partial ", "answer "]): Script => ({
  frames: [messageStart(), blockStart(0, { type: "text", text: "" }), ...before.map((c) => textDelta(0, c)), reset]
})

/** Headers and `message_start`, then silence (the SDK's own timeout does not cover this). */
export const stallAfterStart = (): Script => ({ frames: [messageStart(), ping, stall] })

/** Headers at once, then nothing for `ms`, then a normal text answer. */
export const slowFirstToken = (ms: number, answer: string | ReadonlyArray<string> = "Finally here."): Script => ({
  frames: [delay(ms), ...(text(answer).frames ?? [])]
})

/** Some text deltas, then a frame whose `data:` is not JSON. */
export const invalidJson = (before: ReadonlyArray<string> = ["Partial "]): Script => ({
  frames: [
    messageStart(),
    blockStart(0, { type: "text", text: "" }),
    ...before.map((c) => textDelta(0, c)),
    raw('event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_del\n\n')
  ]
})

/** A long answer of `deltas` small deltas (`deltaText` each) — for benches and load tests. */
export const longText = (deltas: number, deltaText = "tok "): Script =>
  text(Array.from({ length: deltas }, () => deltaText), { ping: false })

/** An unknown event type between blocks (clients must ignore it). */
export const withUnknownEvent = (s: Script): Script => {
  const frames = [...(s.frames ?? [])]
  frames.splice(1, 0, ev("some_future_event", { type: "some_future_event", detail: 1 }))
  return { ...s, frames }
}

/** The default: a deterministic markdown answer to the last user message (thinking first if asked). */
export const answer =
  (o: { deltaDelayMs?: number; seed?: number } = {}) =>
  (request: RecordedRequest): Script => {
    const messages: ReadonlyArray<{ role?: string; content?: unknown }> = request.body?.messages ?? []
    const last = [...messages].reverse().find((m) => m.role === "user")
    const content =
      typeof last?.content === "string"
        ? last.content
        : Array.isArray(last?.content)
          // biome-ignore lint/suspicious/noExplicitAny: request content blocks are arbitrary client JSON
          ? last.content.map((b: any) => (typeof b?.text === "string" ? b.text : "")).join(" ")
          : ""
    const thinkingType = request.body?.thinking?.type
    const c = compose(content, {
      seed: o.seed ?? 0,
      words: 80,
      thinking: thinkingType === "enabled" || thinkingType === "adaptive",
      banner: "*(Fake Anthropic server — a scripted reply.)*"
    })
    const opts = { model: String(request.body?.model ?? "claude-sonnet-5-5"), ...o }
    return c.thinking.length > 0
      ? thinkingThenText(
          tokenize(c.thinking.join("\n\n")),
          tokenize(c.text),
          opts
        )
      : text(tokenize(c.text), opts)
  }

// ---------------------------------------------------------------------------------------------
// server

const lowerHeaders = (h: http.IncomingHttpHeaders) => ({ ...h })

/** Start a fake server (plain Promise API, for benches and scripts). Remember to `close()` it. */
export const start = (options: Options = {}): Promise<FakeAnthropicServer> =>
  new Promise((resolve, reject) => {
    const queue: Array<ScriptLike> = []
    let fallback: ScriptLike =
      options.defaultScript ?? answer(options.deltaDelayMs !== undefined ? { deltaDelayMs: options.deltaDelayMs } : {})
    const requests: Array<RecordedRequest> = []
    const connections: Array<ConnectionRecord> = []
    const sockets = new Set<Socket>()
    const socketIds = new WeakMap<Socket, number>()
    const timers = new Set<NodeJS.Timeout>()
    const waiters = new Map<RecordedRequest, Array<(t: number) => void>>()
    let closing = false

    const sleep = (ms: number, res: http.ServerResponse) =>
      new Promise<void>((done) => {
        const t = setTimeout(() => {
          timers.delete(t)
          res.off("close", onClose)
          done()
        }, ms)
        const onClose = () => {
          clearTimeout(t)
          timers.delete(t)
          done()
        }
        timers.add(t)
        res.once("close", onClose)
      })

    const sendJson = (res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
      const payload = JSON.stringify(body)
      res.writeHead(status, {
        "content-type": "application/json",
        "request-id": "req_011CfakeJson",
        "content-length": Buffer.byteLength(payload),
        ...headers
      })
      res.end(payload)
    }
    const apiError = (res: http.ServerResponse, status: number, type: string, message: string) =>
      sendJson(res, status, { type: "error", error: { type, message }, request_id: "req_011CfakeError" })

    const run = async (script: Script, rec: RecordedRequest, req: http.IncomingMessage, res: http.ServerResponse) => {
      const gone = () => res.destroyed || res.writableEnded
      if (script.headersDelayMs) await sleep(script.headersDelayMs, res)
      if (gone()) return
      const status = script.status ?? 200
      if (status !== 200) return sendJson(res, status, script.body ?? {}, { ...script.headers })
      res.writeHead(200, {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-cache",
        "request-id": `req_011Cfake${rec.id}`,
        ...script.headers
      })
      res.flushHeaders()
      let buffer = ""
      const flush = async () => {
        if (buffer === "" || gone()) return
        const ok = res.write(buffer)
        buffer = ""
        if (!ok) await new Promise<void>((done) => {
          const finish = () => {
            res.off("drain", finish)
            res.off("close", finish)
            done()
          }
          res.on("drain", finish)
          res.on("close", finish)
        })
      }
      for (const frame of script.frames ?? []) {
        if (gone()) return
        switch (frame._tag) {
          case "Event":
            buffer += `event: ${frame.event}\ndata: ${JSON.stringify(frame.data)}\n\n`
            if (buffer.length > 16_384) await flush()
            break
          case "Raw":
            buffer += frame.text
            break
          case "Delay":
            await flush()
            await sleep(frame.ms, res)
            break
          case "Reset": {
            await flush()
            rec.outcome = "reset"
            const socket = req.socket as Socket & { resetAndDestroy?: () => void }
            // let the written bytes leave before the reset
            await sleep(5, res)
            if (typeof socket.resetAndDestroy === "function") socket.resetAndDestroy()
            else socket.destroy()
            return
          }
          case "Stall":
            await flush()
            return // never end; the client (or close()) tears the connection down
        }
      }
      await flush()
      if (!gone()) res.end()
    }

    const server = http.createServer((req, res) => {
      const chunks: Array<Buffer> = []
      req.on("data", (c: Buffer) => chunks.push(c))
      req.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8")
        // biome-ignore lint/suspicious/noExplicitAny: a wire fake reads whatever JSON the client sent
        let body: any
        try {
          body = text === "" ? undefined : JSON.parse(text)
        } catch {
          body = undefined
        }
        const authz = req.headers.authorization
        const auth = req.headers["x-api-key"] ? "x-api-key" : typeof authz === "string" && /^Bearer \S+/.test(authz) ? "bearer" : null
        const version = req.headers["anthropic-version"]
        const rec: RecordedRequest = {
          id: requests.length + 1,
          connectionId: socketIds.get(req.socket) ?? -1,
          method: req.method ?? "",
          path: req.url ?? "",
          headers: lowerHeaders(req.headers),
          body,
          auth,
          apiVersion: typeof version === "string" ? version : null,
          receivedAt: performance.now(),
          closedAt: undefined,
          outcome: "pending"
        }
        requests.push(rec)
        res.on("close", () => {
          rec.closedAt = performance.now()
          if (rec.outcome === "pending") rec.outcome = res.writableFinished ? "completed" : "aborted"
          for (const w of waiters.get(rec) ?? []) w(rec.closedAt)
          waiters.delete(rec)
        })
        const path = (req.url ?? "").split("?")[0]!
        if (req.method !== "POST" || !path.endsWith("/v1/messages")) {
          return apiError(res, 404, "not_found_error", `Not found: ${req.method} ${path}`)
        }
        if (auth === null) {
          return apiError(res, 401, "authentication_error", "x-api-key header or Authorization: Bearer is required")
        }
        if (rec.apiVersion === null || !(VERSIONS as ReadonlyArray<string>).includes(rec.apiVersion)) {
          return apiError(res, 400, "invalid_request_error", `anthropic-version: unsupported value ${rec.apiVersion}`)
        }
        if (body === undefined || typeof body !== "object") {
          return apiError(res, 400, "invalid_request_error", "The request body is not valid JSON")
        }
        if (body.stream !== true) {
          return apiError(res, 400, "invalid_request_error", "This fake server only supports stream: true")
        }
        const invalid = AnthropicRequest.check(body)
        if (invalid !== undefined) return apiError(res, 400, "invalid_request_error", invalid)
        const next = queue.shift() ?? fallback
        const script = typeof next === "function" ? next(rec) : next
        run(script, rec, req, res).catch(() => res.destroy())
      })
    })
    server.on("connection", (socket: Socket) => {
      const record: ConnectionRecord = { id: connections.length + 1, openedAt: performance.now(), closedAt: undefined }
      connections.push(record)
      sockets.add(socket)
      socketIds.set(socket, record.id)
      socket.on("close", () => {
        record.closedAt = performance.now()
        sockets.delete(socket)
      })
      if (closing) socket.destroy()
    })
    server.on("error", reject)
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => {
      const port = (server.address() as AddressInfo).port
      const host = options.host ?? "127.0.0.1"
      resolve({
        url: `http://${host}:${port}`,
        port,
        enqueue: (...scripts) => {
          queue.push(...scripts)
        },
        setDefault: (s) => {
          fallback = s
        },
        pending: () => queue.length,
        requests,
        connections,
        openConnections: () => sockets.size,
        whenClosed: (rec) =>
          rec.closedAt !== undefined
            ? Promise.resolve(rec.closedAt)
            : new Promise((done) => waiters.set(rec, [...(waiters.get(rec) ?? []), done])),
        close: () =>
          new Promise<void>((done) => {
            closing = true
            for (const t of timers) clearTimeout(t)
            timers.clear()
            const open = [...sockets].map((s) => new Promise<void>((closed) => s.once("close", () => closed())))
            let pending = 2
            const step = () => {
              if (--pending === 0) done()
            }
            server.close(() => step())
            Promise.all(open).then(step)
            server.closeAllConnections()
            for (const s of sockets) s.destroy()
          })
      })
    })
  })

/** A fake server for the life of the scope. */
export const make = (options: Options = {}): Effect.Effect<FakeAnthropicServer, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.promise(() => start(options)),
    (server) => Effect.promise(() => server.close())
  )

/**
 * Run it on its own to try the gateway without a key:
 * `node --import tsx packages/core/src/FakeAnthropic.ts [port]`, then
 * `ANTHROPIC_BASE_URL=<printed url> ANTHROPIC_API_KEY=fake pnpm start`.
 */
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const port = Number(process.argv[2] ?? process.env.FAKE_ANTHROPIC_PORT ?? 0)
  start({ port, deltaDelayMs: 30 }).then((server) => {
    console.log(`fake Anthropic API on ${server.url}`)
    console.log(`  ANTHROPIC_BASE_URL=${server.url} ANTHROPIC_API_KEY=fake pnpm start`)
    const stop = () => server.close().then(() => process.exit(0))
    process.once("SIGINT", stop)
    process.once("SIGTERM", stop)
  })
}
