/**
 * The WebSocket side of the gateway, on `ws` directly (the platform's upgrade hides the knobs we
 * need: max payload, per-connection deflate, buffered amount, protocol pings).
 *
 * Per connection: handshake, requests with ids, subscriptions (a callback each, no fiber), a token bucket,
 * and a bounded send path: events go out one frame each while the socket keeps up; once its
 * buffered bytes pass the high-water mark they are held back and sent as one `batch` frame when
 * it drains; a client whose held-back bytes or wait exceed the limits is closed with 4008.
 */
import { randomUUID } from "node:crypto"
import type { IncomingMessage } from "node:http"
import type { Duplex } from "node:stream"
import type { Conversations, ReplyEvent } from "@sluice/core"
import { Protocol } from "@sluice/core"
import { Effect, Either, Exit, Runtime } from "effect"
import { Packr } from "msgpackr"
import { type RawData, WebSocket, WebSocketServer } from "ws"
import * as Auth from "../Auth.js"
import * as Metrics from "../Metrics.js"
import * as Manage from "./manage.js"
import * as Ids from "./ids.js"
import * as Requests from "./requests.js"
import type { State } from "./state.js"

type Event = ReplyEvent.ReplyEvent

const packr = new Packr({ useRecords: false })
const HELLO_TIMEOUT_MS = 10_000

export interface Hub {
  readonly path: string
  readonly handleUpgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void
  readonly size: () => number
  /** Closes every connection with `code` and waits (bounded) until they are gone. */
  readonly closeAll: (code: number, reason: string) => Effect.Effect<void>
}

export const make = (state: State, path = "/v1/ws") =>
  Effect.gen(function* () {
    const runtime = yield* Effect.runtime<Conversations.Conversations>()
    const runFork = Runtime.runFork(runtime)
    const limits = state.options.limits
    const common = { noServer: true, maxPayload: limits.maxFrameBytes, clientTracking: false } as const
    const plain = new WebSocketServer({ ...common, perMessageDeflate: false })
    const deflate = new WebSocketServer({ ...common, perMessageDeflate: { threshold: 256 } })
    const connections = new Set<Connection>()

    const heartbeat = setInterval(() => {
      for (const c of connections) c.heartbeat()
    }, state.options.heartbeatMs)
    heartbeat.unref()

    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        clearInterval(heartbeat)
        for (const c of connections) c.ws.terminate()
        plain.close()
        deflate.close()
      })
    )

    class Connection {
      readonly id = randomUUID()
      principal: string | undefined
      encoding: Protocol.Encoding = "json"
      alive = true
      closed = false
      readonly subs = new Map<string, Sub>()
      tokens = limits.burst
      refilledAt = performance.now()
      pending: Array<Event> = []
      pendingBytes = 0
      pendingSince = 0
      flushTimer: ReturnType<typeof setTimeout> | undefined
      helloTimer: ReturnType<typeof setTimeout> | undefined

      constructor(
        readonly ws: WebSocket,
        readonly headerPrincipal: string | undefined
      ) {}

      heartbeat() {
        if (!this.alive) {
          this.ws.terminate()
          return
        }
        this.alive = false
        this.ws.ping()
      }

      write(frame: Protocol.ServerFrame) {
        if (this.closed || this.ws.readyState !== WebSocket.OPEN) return
        if (this.encoding === "msgpack") this.ws.send(packr.pack(frame), { binary: true })
        else this.ws.send(JSON.stringify(frame))
        Metrics.unsafeIncrement(Metrics.framesSent)
      }

      /** One event as one frame, encoded once per event whatever the number of sockets showing it. */
      writeEvent(event: Event) {
        if (this.closed || this.ws.readyState !== WebSocket.OPEN) return
        if (this.encoding === "msgpack") this.ws.send(encodedMsgpack(event), { binary: true })
        else this.ws.send(encodedJson(event))
        Metrics.unsafeIncrement(Metrics.framesSent)
      }

      error(error: Protocol.ErrorBody, id?: string | number) {
        this.write(id === undefined ? { type: "error", error } : { type: "res", id, ok: false, error })
      }

      close(code: number, reason: string) {
        if (this.closed) return
        this.release()
        this.ws.close(code, reason)
        // A peer that does not answer the close handshake is cut off.
        setTimeout(() => this.ws.terminate(), 2000).unref()
      }

      /** Stops subscriptions and drops held-back events; idempotent. */
      release() {
        if (this.closed) return
        this.closed = true
        connections.delete(this)
        if (this.helloTimer) clearTimeout(this.helloTimer)
        if (this.flushTimer) clearTimeout(this.flushTimer)
        this.pending = []
        this.pendingBytes = 0
        for (const sub of this.subs.values()) endSub(sub)
        this.subs.clear()
        Metrics.unsafeGaugeAdd(Metrics.activeConnections, -1, { transport: "ws" })
      }

      // ---- outbound ------------------------------------------------------------------------

      deliver(sub: Sub, events: ReadonlyArray<Event>) {
        if (this.closed || sub.ended) return
        // Never a duplicate, whatever the source does.
        const fresh = events.length === 1 ? (events[0]!.seq > sub.lastSeq ? events : []) : events.filter((e) => e.seq > sub.lastSeq)
        if (fresh.length === 0) return
        sub.lastSeq = fresh[fresh.length - 1]!.seq
        if (this.pending.length === 0 && this.ws.bufferedAmount < limits.sendHighWaterBytes) {
          if (fresh.length === 1) this.writeEvent(fresh[0]!)
          else this.writeBatch(fresh)
          return
        }
        if (this.pending.length === 0) this.pendingSince = performance.now()
        for (const e of fresh) {
          this.pending.push(e)
          this.pendingBytes += approxSize(e)
        }
        if (this.pendingBytes > limits.maxPendingBytes) return this.tooSlow()
        this.scheduleFlush()
      }

      writeBatch(events: ReadonlyArray<Event>) {
        this.write({ type: "batch", events })
        Metrics.unsafeIncrement(Metrics.batchesSent)
      }

      scheduleFlush() {
        if (this.flushTimer !== undefined) return
        this.flushTimer = setTimeout(() => {
          this.flushTimer = undefined
          this.flush()
        }, 10)
      }

      flush() {
        if (this.closed || this.pending.length === 0) return
        if (this.ws.bufferedAmount < limits.sendHighWaterBytes) {
          const events = this.pending
          this.pending = []
          this.pendingBytes = 0
          this.writeBatch(events)
          return
        }
        if (performance.now() - this.pendingSince > limits.slowConsumerMs) return this.tooSlow()
        this.scheduleFlush()
      }

      tooSlow() {
        Metrics.unsafeIncrement(Metrics.slowClosed)
        const held = this.pendingBytes
        this.close(
          Protocol.CloseCode.TooSlow,
          `client too slow: ${held} bytes held back; reconnect and resume from your last seq`.slice(0, 120)
        )
      }

      // ---- inbound -------------------------------------------------------------------------

      onMessage(data: RawData, isBinary: boolean) {
        this.alive = true
        let parsed: unknown
        try {
          const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer)
          parsed = isBinary ? packr.unpack(buf) : JSON.parse(buf.toString("utf8"))
        } catch (e) {
          return this.error({ code: "BadJson", message: `${isBinary ? "not MessagePack" : "not JSON"}: ${(e as Error).message}` })
        }
        const decoded = Protocol.decodeClientFrame(parsed)
        if (Either.isLeft(decoded)) {
          if (this.principal === undefined) {
            return this.close(Protocol.CloseCode.BadHandshake, `bad hello: ${decoded.left.message}`.slice(0, 120))
          }
          const id = idOf(parsed)
          return this.error(decoded.left, id)
        }
        const frame = decoded.right
        if (frame.type === "hello") return this.onHello(frame)
        if (this.principal === undefined) {
          return this.close(Protocol.CloseCode.BadHandshake, "the first frame must be hello")
        }
        if (!this.take()) {
          return this.error(
            { code: "RateLimited", message: `more than ${limits.messagesPerSecond} messages per second`, retryAfterMs: this.retryAfter() },
            frame.id
          )
        }
        this.onRequest(this.principal, frame)
      }

      onHello(hello: Protocol.Hello) {
        if (this.principal !== undefined) return this.error({ code: "BadFrame", message: "hello was already received" })
        if (this.helloTimer) clearTimeout(this.helloTimer)
        if (hello.protocol !== Protocol.VERSION) {
          return this.close(
            Protocol.CloseCode.UnsupportedProtocol,
            `unsupported protocol ${hello.protocol}; this gateway speaks ${Protocol.VERSION}`
          )
        }
        const principal = hello.token !== undefined ? state.auth.authenticate(hello.token) : this.headerPrincipal
        if (principal === undefined) {
          Metrics.unsafeIncrement(Metrics.errors, { tag: "Unauthorized" })
          return this.close(Protocol.CloseCode.Unauthorized, state.auth.required ? "missing or invalid token" : "unauthorized")
        }
        this.principal = principal
        this.encoding = hello.encoding ?? "json"
        this.write({
          type: "welcome",
          protocol: Protocol.VERSION,
          connectionId: this.id,
          principal,
          encoding: this.encoding,
          compression: this.ws.extensions.includes("permessage-deflate") ? "permessage-deflate" : "none",
          model: { name: state.options.modelName, offline: state.options.offline, choices: state.options.models },
          limits: {
            maxFrameBytes: limits.maxFrameBytes,
            messagesPerSecond: limits.messagesPerSecond,
            heartbeatMs: state.options.heartbeatMs
          }
        })
      }

      take(): boolean {
        const now = performance.now()
        this.tokens = Math.min(limits.burst, this.tokens + ((now - this.refilledAt) / 1000) * limits.messagesPerSecond)
        this.refilledAt = now
        if (this.tokens < 1) return false
        this.tokens -= 1
        return true
      }

      retryAfter(): number {
        return Math.ceil(((1 - this.tokens) / limits.messagesPerSecond) * 1000)
      }

      respond(id: string | number, effect: Effect.Effect<unknown, Requests.Refused>) {
        const fiber = runFork(effect)
        fiber.addObserver((exit) => {
          if (Exit.isSuccess(exit)) return this.write({ type: "res", id, ok: true, result: exit.value ?? null })
          const failure = exit.cause._tag === "Fail" ? exit.cause.error : undefined
          if (failure instanceof Requests.Refused) return this.error(failure.body, id)
          Metrics.unsafeIncrement(Metrics.errors, { tag: "Internal" })
          this.error({ code: "Internal", message: "internal error" }, id)
        })
      }

      onRequest(principal: string, req: Protocol.Request) {
        switch (req.type) {
          case "ping":
            return this.write({ type: "res", id: req.id, ok: true, result: { now: Date.now() } })
          case "send":
            return this.respond(req.id, Requests.send(state, principal, req.conversationId, req.text, { queueMode: req.queueMode, clientMessageId: req.clientMessageId }))
          case "stop":
            return this.respond(req.id, Requests.stop(state, principal, req.conversationId, req.runId))
          case "history":
            return this.respond(req.id, Requests.history(state, principal, req.conversationId))
          case "list":
            return this.respond(req.id, Requests.list(state, principal))
          case "update":
            return this.respond(req.id, Manage.update(state, principal, req.conversationId, req))
          case "delete":
            return this.respond(req.id, Manage.remove(state, principal, req.conversationId))
          case "regenerate":
            return this.respond(req.id, Manage.regenerate(state, principal, req.conversationId))
          case "edit":
            return this.respond(req.id, Manage.edit(state, principal, req.conversationId, req.messageId, req.text))
          case "export":
            return this.respond(req.id, Manage.exportConversation(state, principal, req.conversationId, req.format))
          case "unsubscribe": {
            const sub = this.subs.get(req.conversationId)
            this.subs.delete(req.conversationId)
            if (sub) endSub(sub)
            return this.write({ type: "res", id: req.id, ok: true, result: { subscribed: false } })
          }
          case "subscribe":
            return this.respond(
              req.id,
              Requests.checkOwner(state, principal, req.conversationId, false).pipe(
                Effect.map((stored) => {
                  this.subscribe(req.conversationId, stored, principal, req.fromSeq)
                  return { subscribed: true, fromSeq: req.fromSeq }
                })
              )
            )
        }
      }

      // A callback listener, not a Stream: no fiber, queue or PubSub subscription per socket
      // (those were most of the ~150 KiB heap per connection).
      /** `conversationId` as the client names it, `stored` as the store does (`ids.ts`). */
      subscribe(conversationId: string, stored: string, principal: string, fromSeq: number) {
        const previous = this.subs.get(conversationId)
        if (previous) endSub(previous)
        if (this.closed) return
        const sub: Sub = { lastSeq: fromSeq, unlisten: undefined, ended: false }
        this.subs.set(conversationId, sub)
        const seen = Ids.eventsFor<Event>(principal)
        const fiber = runFork(
          state.feed.listen(
            stored,
            { fromSeq },
            (events) => {
              this.deliver(sub, seen(events))
            },
            () => {
              // Deleted: the listener is already stopped; tell the client.
              sub.ended = true
              if (this.subs.get(conversationId) === sub) this.subs.delete(conversationId)
              this.write({ type: "ended", conversationId, reason: "deleted" })
            }
          )
        )
        fiber.addObserver((exit) => {
          if (Exit.isSuccess(exit)) {
            if (sub.ended) exit.value()
            else sub.unlisten = exit.value
            return
          }
          if (this.subs.get(conversationId) === sub) this.subs.delete(conversationId)
          sub.ended = true
          if (!Exit.isInterrupted(exit)) {
            this.error({ code: "Internal", message: `subscription to ${conversationId} ended: ${String(exit.cause).slice(0, 200)}` })
          }
        })
      }
    }

    const onConnection = (ws: WebSocket, req: IncomingMessage) => {
      const headerToken = Auth.bearer(req.headers.authorization) ?? new URL(req.url ?? "/", "http://x").searchParams.get("token") ?? undefined
      const headerPrincipal = state.auth.required ? state.auth.authenticate(headerToken) : Auth.LOCAL
      const conn = new Connection(ws, headerPrincipal)
      connections.add(conn)
      Metrics.unsafeGaugeAdd(Metrics.activeConnections, 1, { transport: "ws" })
      conn.helloTimer = setTimeout(() => conn.close(Protocol.CloseCode.BadHandshake, "no hello within 10 s"), HELLO_TIMEOUT_MS)
      conn.helloTimer.unref()
      ws.on("message", (data, isBinary) => conn.onMessage(data, isBinary))
      ws.on("pong", () => {
        conn.alive = true
      })
      const openedAt = Date.now()
      // The access log's line for a connection: when it ends, who it was, how long, how it closed (never the token).
      ws.on("close", (code) => {
        conn.release()
        runFork(
          Effect.logInfo(`WS ${hub.path} closed ${code} after ${Date.now() - openedAt} ms ${conn.principal ?? "-"}`).pipe(
            Effect.annotateLogs({ kind: "access", method: "WS", path: hub.path, status: code, durationMs: Date.now() - openedAt, principal: conn.principal ?? "-" })
          )
        )
      })
      ws.on("error", () => conn.release())
    }

    const hub: Hub = {
      path,
      handleUpgrade: (req, socket, head) => {
        if (state.isShuttingDown()) {
          socket.end("HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\ncontent-length: 0\r\n\r\n")
          return
        }
        const url = new URL(req.url ?? "/", "http://x")
        const wss = url.searchParams.get("compression") === "permessage-deflate" ? deflate : plain
        wss.handleUpgrade(req, socket, head, (ws) => onConnection(ws, req))
      },
      size: () => connections.size,
      closeAll: (code, reason) =>
        Effect.gen(function* () {
          const open = new Set<WebSocket>()
          for (const c of [...connections]) {
            const ws = c.ws
            c.close(code, reason)
            if (ws.readyState !== WebSocket.CLOSED) {
              open.add(ws) // counted until the socket is really closed
              ws.once("close", () => open.delete(ws))
            }
          }
          yield* Effect.async<void>((resume) => {
            const check = setInterval(() => {
              if (open.size === 0) {
                clearInterval(check)
                resume(Effect.void)
              }
            }, 10)
            return Effect.sync(() => clearInterval(check))
          }).pipe(Effect.timeout("3 seconds"), Effect.ignore)
        })
    }
    return hub
  })

// Events are immutable and shared by every subscriber, and a live event reaches all of them in one
// synchronous loop (Conversations.listen): a one-entry cache per encoding means a conversation
// shown in several sockets (tabs, devices, SSE aside) is encoded once, at no cost for one socket.
let lastJson: { event: Event | undefined; bytes: string } = { event: undefined, bytes: "" }
let lastMsgpack: { event: Event | undefined; bytes: Uint8Array } = { event: undefined, bytes: new Uint8Array() }
const encodedJson = (event: Event): string => {
  if (lastJson.event !== event) lastJson = { event, bytes: JSON.stringify({ type: "event", event }) }
  return lastJson.bytes
}
const encodedMsgpack = (event: Event): Uint8Array => {
  if (lastMsgpack.event !== event) lastMsgpack = { event, bytes: packr.pack({ type: "event", event }) }
  return lastMsgpack.bytes
}

interface Sub {
  lastSeq: number
  unlisten: (() => void) | undefined
  ended: boolean
}

const endSub = (sub: Sub) => {
  sub.ended = true
  sub.unlisten?.()
  sub.unlisten = undefined
}

const idOf = (u: unknown): string | number | undefined => {
  if (typeof u !== "object" || u === null) return undefined
  const id = (u as { id?: unknown }).id
  return typeof id === "string" || typeof id === "number" ? id : undefined
}

const approxSize = (e: Event): number => {
  let n = 160
  if ("text" in e && typeof e.text === "string") n += e.text.length
  return n
}
