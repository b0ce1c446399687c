/**
 * A Session against a running gateway over its WebSocket protocol (`Protocol` in core): hello →
 * welcome, requests with ids, seq-numbered events. When the connection drops it reconnects by itself
 * (backoff 200 ms doubling to 5 s) and resubscribes from the last seq it saw, so no event is lost or
 * shown twice. Refusals (bad token, wrong protocol) end the session instead.
 */
import type { HistoryMessage } from "@sluice/core/Conversations"
import * as Protocol from "@sluice/core/Protocol"
import type { ReplyEvent } from "@sluice/core/ReplyEvent"
import { Effect, Either, Option, Redacted, Schema, Stream, type Scope } from "effect"
import WebSocket from "ws"
import { RemoteUnavailable } from "./errors.js"
import type { Session, SessionError } from "./session.js"

export interface RemoteOptions {
  readonly url: string
  readonly token: Option.Option<Redacted.Redacted>
  readonly conversationId: string
  /** Give up connecting after this long (the first connection only; later drops retry forever). */
  readonly connectTimeoutMs?: number | undefined
}

/** `http://h:p`, `ws://h:p`, `h:p` → `ws://h:p/v1/ws` (a path given is kept). */
export const wsUrl = (url: string): string => {
  const withScheme = /^[a-z]+:\/\//i.test(url) ? url : `ws://${url}`
  const u = new URL(withScheme)
  if (u.protocol === "http:") u.protocol = "ws:"
  if (u.protocol === "https:") u.protocol = "wss:"
  if (u.pathname === "/" || u.pathname === "") u.pathname = "/v1/ws"
  return u.toString()
}

const decodeServerFrame = Schema.decodeUnknownEither(Protocol.ServerFrame)

type Pending = { readonly resolve: (r: unknown) => void; readonly reject: (e: SessionError) => void }

class Connection {
  ws: WebSocket | undefined
  welcome: Protocol.Welcome | undefined
  nextId = 1
  pending = new Map<number, Pending>()
  listeners = new Set<(ev: ReplyEvent) => void>()
  statusListeners = new Set<(s: "connected" | "reconnecting") => void>()
  subscribedFrom: number | undefined
  lastSeq = 0
  closed = false
  fatal: SessionError | undefined
  ready: Promise<void>
  private markReady!: () => void
  private markFailed!: (e: SessionError) => void
  private attempt = 0
  private everConnected = false

  constructor(
    readonly url: string,
    readonly token: string | undefined,
    readonly conversationId: string,
    readonly connectTimeoutMs: number
  ) {
    this.ready = this.newReady()
    this.connect()
  }

  private newReady() {
    return new Promise<void>((resolve, reject) => {
      this.markReady = resolve
      this.markFailed = reject
    })
  }

  private connect() {
    if (this.closed) return
    const ws = new WebSocket(this.url, { handshakeTimeout: this.connectTimeoutMs })
    this.ws = ws
    let opened = false
    ws.on("open", () => {
      opened = true
      ws.send(JSON.stringify({ type: "hello", protocol: Protocol.VERSION, ...(this.token !== undefined ? { token: this.token } : {}) }))
    })
    ws.on("message", (data, isBinary) => {
      if (isBinary) return
      let parsed: unknown
      try {
        parsed = JSON.parse(data.toString())
      } catch {
        return
      }
      const frame = decodeServerFrame(parsed)
      if (Either.isLeft(frame)) return
      this.onFrame(frame.right)
    })
    let failure: string | undefined
    ws.on("error", (e: NodeJS.ErrnoException) => {
      failure = e.code // "close" follows
    })
    ws.on("close", (code, reason) => {
      if (this.ws !== ws) return
      this.ws = undefined
      this.welcome = undefined
      for (const p of this.pending.values()) p.reject(new RemoteUnavailable({ message: "connection to the gateway lost" }))
      this.pending.clear()
      if (this.closed) return
      if (code === Protocol.CloseCode.Unauthorized || code === Protocol.CloseCode.UnsupportedProtocol || code === Protocol.CloseCode.BadHandshake) {
        this.fail(new RemoteUnavailable({ message: `the gateway refused the connection (${code}${reason.length > 0 ? `: ${reason.toString()}` : ""})` }))
        return
      }
      if (!this.everConnected && !opened) {
        // A name that does not resolve will not resolve in a moment either: say so at once.
        if (failure === "ENOTFOUND") {
          this.fail(new RemoteUnavailable({ message: `cannot reach the gateway at ${this.url}: the host name does not resolve` }))
          return
        }
        this.attempt++
        if (this.attempt * 250 >= this.connectTimeoutMs) {
          this.fail(new RemoteUnavailable({ message: `cannot reach the gateway at ${this.url}` }))
          return
        }
        setTimeout(() => this.connect(), 250)
        return
      }
      for (const l of this.statusListeners) l("reconnecting")
      const delay = Math.min(5000, 200 * 2 ** Math.min(5, this.attempt++))
      this.ready = this.newReady()
      this.ready.catch(() => {})
      setTimeout(() => this.connect(), delay)
    })
  }

  private fail(e: SessionError) {
    this.fatal = e
    this.closed = true
    this.markFailed(e)
    for (const l of this.listeners) l(undefined as never) // wake streams so they see `fatal`
  }

  private onFrame(frame: Protocol.ServerFrame) {
    switch (frame.type) {
      case "welcome": {
        this.welcome = frame
        const reconnected = this.everConnected
        this.everConnected = true
        this.attempt = 0
        if (this.subscribedFrom !== undefined) {
          // resume: every event after the last one we saw, exactly once
          void this.request({ type: "subscribe", conversationId: this.conversationId, fromSeq: this.lastSeq }).catch(() => {})
        }
        this.markReady()
        if (reconnected) for (const l of this.statusListeners) l("connected")
        return
      }
      case "res": {
        const p = this.pending.get(Number(frame.id))
        if (p === undefined) return
        this.pending.delete(Number(frame.id))
        if (frame.ok) p.resolve(frame.result)
        else p.reject({ _tag: frame.error.code, message: frame.error.message })
        return
      }
      case "event":
        this.deliver(frame.event)
        return
      case "batch":
        for (const ev of frame.events) this.deliver(ev)
        return
      case "error":
        return
    }
  }

  private deliver(ev: ReplyEvent) {
    if (ev.conversationId !== this.conversationId || ev.seq <= this.lastSeq) return
    this.lastSeq = ev.seq
    for (const l of this.listeners) l(ev)
  }

  async request(body: Record<string, unknown>): Promise<unknown> {
    await this.ready
    const ws = this.ws
    if (ws === undefined || ws.readyState !== WebSocket.OPEN) throw new RemoteUnavailable({ message: "not connected to the gateway" })
    const id = this.nextId++
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject })
      ws.send(JSON.stringify({ ...body, id }))
    })
  }

  close() {
    this.closed = true
    this.ws?.close(1000)
    this.ws = undefined
  }
}

const req = <A>(conn: Connection, body: Record<string, unknown>): Effect.Effect<A, SessionError> =>
  Effect.tryPromise({
    try: () => conn.request(body) as Promise<A>,
    catch: (e) =>
      typeof e === "object" && e !== null && "_tag" in e && "message" in e
        ? (e as SessionError)
        : new RemoteUnavailable({ message: String(e) })
  })

export const make = (o: RemoteOptions): Effect.Effect<Session, SessionError, Scope.Scope> =>
  Effect.gen(function* () {
    const url = yield* Effect.try({
      try: () => wsUrl(o.url),
      catch: () => new RemoteUnavailable({ message: `not a gateway URL: ${o.url}` })
    })
    const conn = yield* Effect.acquireRelease(
      Effect.sync(
        () =>
          new Connection(url, Option.getOrUndefined(Option.map(o.token, Redacted.value)), o.conversationId, o.connectTimeoutMs ?? 5000)
      ),
      (c) => Effect.sync(() => c.close())
    )
    yield* Effect.tryPromise({ try: () => conn.ready, catch: (e) => e as SessionError })
    const welcome = conn.welcome!
    const events = (fromSeq: number): Stream.Stream<ReplyEvent, SessionError> =>
      Stream.asyncPush<ReplyEvent, SessionError>((emit) =>
        Effect.acquireRelease(
          Effect.gen(function* () {
            conn.lastSeq = fromSeq
            conn.subscribedFrom = fromSeq
            const listener = (ev: ReplyEvent | undefined) => {
              if (ev === undefined) {
                if (conn.fatal !== undefined) emit.fail(conn.fatal)
                return
              }
              emit.single(ev)
            }
            conn.listeners.add(listener)
            yield* req(conn, { type: "subscribe", conversationId: o.conversationId, fromSeq })
            return listener
          }),
          (listener) =>
            Effect.sync(() => {
              conn.listeners.delete(listener)
              conn.subscribedFrom = undefined
            })
        ), { bufferSize: "unbounded" }
      )
    return {
      model: welcome.model.name,
      offline: welcome.model.offline,
      conversationId: o.conversationId,
      send: (text) => req(conn, { type: "send", conversationId: o.conversationId, text }),
      stop: req<{ readonly stopped: boolean }>(conn, { type: "stop", conversationId: o.conversationId }).pipe(
        Effect.map((r) => r.stopped)
      ),
      history: req<ReadonlyArray<HistoryMessage>>(conn, { type: "history", conversationId: o.conversationId }).pipe(
        Effect.catchIf((e) => e._tag === "NotFound", () => Effect.succeed([]))
      ),
      events,
      status: Stream.async<"connected" | "reconnecting">((emit) => {
        const l = (s: "connected" | "reconnecting") => void emit.single(s)
        conn.statusListeners.add(l)
        return Effect.sync(() => conn.statusListeners.delete(l))
      })
    } satisfies Session
  })
