/**
 * A loopback fake of Discord: REST `POST /api/v10/channels/{id}/messages` and `PATCH …/messages/{id}`
 * (edit; 404 code 10008 for an unknown message) (bot auth, 2000-char
 * content, `nonce` + `enforce_nonce` dedupe, X-RateLimit-* headers from a per-channel bucket, 429
 * JSON `{message, retry_after, global}` + Retry-After) and the Gateway WebSocket on `/gateway`
 * (Hello, Identify → READY, heartbeat ACKs, Resume → replay + RESUMED, MESSAGE_CREATE dispatches).
 */
import { WebSocketServer, type WebSocket } from "ws"
import { listen, type Running } from "./fakeHttp.js"

export interface Created {
  readonly channelId: string
  /** The message's current content (after any edit). */
  content: string
  readonly nonce?: string | undefined
  readonly id: string
  /** Every content the message showed, in order (the create, then each edit). */
  readonly versions: Array<string>
}

/** One REST call as the fake answered it: taken, a 429 it was told to give, or a 429 of the channel's bucket. */
export interface Answered {
  readonly t: number
  readonly channelId: string
  readonly method: "createMessage" | "editMessage"
  readonly outcome: "taken" | "injected" | "bucket"
}

export class FakeDiscord {
  readonly created: Array<Created> = []
  readonly answered: Array<Answered> = []
  readonly calls: Array<string> = []
  readonly ops: Array<number> = []
  identifies = 0
  resumes = 0
  connections = 0
  private failing = 0
  private zombie: WebSocket | undefined
  private limited: Array<number> = []
  private nonces = new Map<string, Created>()
  private bucket = new Map<string, { remaining: number; resetAt: number }>()
  private running: Running | undefined
  private wss: WebSocketServer | undefined
  private socket: WebSocket | undefined
  private seq = 0
  private log: Array<{ s: number; t: string; d: unknown }> = []
  private ids = 1000

  constructor(
    readonly token: string,
    readonly options: {
      readonly bucketSize?: number
      readonly bucketResetMs?: number
      readonly heartbeatMs?: number
      /** Answer this share of REST calls 429 (`retry_after` 1 s), drawn from `random` (a storm). */
      readonly stormRate?: number
      readonly random?: () => number
    } = {}
  ) {}

  get url(): string {
    return this.running!.url
  }
  get gatewayUrl(): string {
    return this.running!.url.replace("http", "ws") + "/gateway"
  }
  get connected(): boolean {
    return this.socket !== undefined
  }

  async start(): Promise<this> {
    this.running = await listen((req) => {
      const m = /^\/api\/v10\/channels\/(\d+)\/messages(?:\/(\d+))?$/.exec(req.path)
      const editing = m?.[2] !== undefined
      if (m === null || req.method !== (editing ? "PATCH" : "POST")) return { status: 404, body: { message: "404: Not Found", code: 0 } }
      this.calls.push(editing ? "editMessage" : "createMessage")
      if (req.headers.authorization !== `Bot ${this.token}`) return { status: 401, body: { message: "401: Unauthorized", code: 0 } }
      const channelId = m[1]!
      const method = editing ? "editMessage" : "createMessage"
      const answered = (outcome: Answered["outcome"]) => this.answered.push({ t: Date.now(), channelId, method, outcome })
      const storm = this.options.stormRate !== undefined && (this.options.random ?? Math.random)() < this.options.stormRate
      const after = this.limited.shift() ?? (storm ? 1 : undefined)
      if (after !== undefined) {
        answered("injected")
        return {
          status: 429,
          body: { message: "You are being rate limited.", retry_after: after, global: false },
          headers: { "retry-after": String(Math.ceil(after)), "x-ratelimit-scope": "user", "x-ratelimit-global": "false" }
        }
      }
      const headers = this.take(channelId)
      if (headers === undefined) {
        answered("bucket")
        const b = this.bucket.get(channelId)!
        const ra = Math.max(0, b.resetAt - Date.now()) / 1000
        return { status: 429, body: { message: "You are being rate limited.", retry_after: ra, global: false }, headers: { "retry-after": String(Math.ceil(ra)), "x-ratelimit-scope": "user" } }
      }
      const p = (req.json ?? {}) as Record<string, unknown>
      const content = typeof p.content === "string" ? p.content : ""
      if (content === "" || content.length > 2000) {
        return { status: 400, body: { message: "Invalid Form Body", code: 50035, errors: { content: { _errors: [{ code: "BASE_TYPE_MAX_LENGTH", message: "Must be 2000 or fewer in length." }] } } } }
      }
      answered("taken")
      if (editing) {
        const msg = this.created.find((c) => c.id === m[2] && c.channelId === channelId)
        if (msg === undefined) return { status: 404, body: { message: "Unknown Message", code: 10008 } }
        msg.content = content
        msg.versions.push(content)
        return { status: 200, body: { id: msg.id, channel_id: channelId, content, edited_timestamp: new Date().toISOString() }, headers }
      }
      const nonce = typeof p.nonce === "string" ? p.nonce : undefined
      if (nonce !== undefined && p.enforce_nonce === true && this.nonces.has(nonce)) {
        const prev = this.nonces.get(nonce)!
        return { status: 200, body: { id: prev.id, channel_id: channelId, content: prev.content, nonce }, headers }
      }
      const created = { channelId, content, nonce, id: String(++this.ids), versions: [content] }
      this.created.push(created)
      if (nonce !== undefined) this.nonces.set(nonce, created)
      return { status: 200, body: { id: created.id, channel_id: channelId, content, nonce, author: { id: "1", bot: true } }, headers }
    })
    this.wss = new WebSocketServer({ server: this.running.server, path: "/gateway" })
    this.wss.on("connection", (ws) => {
      this.connections++
      if (this.failing > 0) {
        this.failing--
        return ws.close(4000, "Unknown error")
      }
      this.socket = ws
      const send = (p: unknown) => ws.send(JSON.stringify(p))
      send({ op: 10, d: { heartbeat_interval: this.options.heartbeatMs ?? 45000 }, s: null, t: null })
      ws.on("message", (raw) => {
        if (this.zombie === ws) return
        const p = JSON.parse(String(raw)) as { op: number; d?: Record<string, unknown> }
        this.ops.push(p.op)
        if (p.op === 1) send({ op: 11 })
        if (p.op === 2) {
          if (p.d?.token !== this.token) return ws.close(4004, "Authentication failed")
          this.identifies++
          this.dispatch("READY", { v: 10, session_id: "sess-1", resume_gateway_url: this.gatewayUrl, user: { id: "1", username: "sluice", bot: true } })
        }
        if (p.op === 6) {
          if (p.d?.session_id !== "sess-1" || p.d?.token !== this.token) return send({ op: 9, d: false })
          this.resumes++
          for (const e of this.log.filter((e) => e.s > Number(p.d?.seq ?? 0))) send({ op: 0, ...e })
          this.dispatch("RESUMED", {})
        }
      })
      ws.on("close", () => {
        if (this.socket === ws) this.socket = undefined
      })
    })
    return this
  }

  async close(): Promise<void> {
    for (const c of this.wss?.clients ?? []) c.terminate()
    this.wss?.close()
    await this.running?.close()
  }

  rateLimitNext(n: number, retryAfterSeconds: number): void {
    for (let i = 0; i < n; i++) this.limited.push(retryAfterSeconds)
  }

  /** A user posts in a channel (dispatched now, or replayed on resume if disconnected). */
  userMessage(channelId: string, content: string, opts: { guildId?: string; authorId?: string } = {}): void {
    this.dispatch("MESSAGE_CREATE", {
      id: String(++this.ids),
      channel_id: channelId,
      ...(opts.guildId ? { guild_id: opts.guildId } : {}),
      author: { id: opts.authorId ?? "42", username: "user" },
      content,
      timestamp: new Date().toISOString()
    })
  }

  /** The connection stays open but goes silent: no heartbeat ACKs, no dispatches (they are kept for a
   * resume). A client must notice the missing ACK and reconnect. */
  goSilent(): void {
    this.zombie = this.socket
    this.socket = undefined
  }

  /** The next `n` gateway connections are closed (code 4000) before Hello. */
  failNextConnections(n: number): void {
    this.failing += n
  }

  /** Drops the gateway connection abruptly (the client must resume). */
  dropConnection(): void {
    this.socket?.terminate()
    this.socket = undefined
  }

  private dispatch(t: string, d: unknown): void {
    const e = { s: ++this.seq, t, d }
    if (t !== "READY" && t !== "RESUMED") this.log.push(e)
    this.socket?.send(JSON.stringify({ op: 0, ...e }))
  }

  private take(channelId: string): Record<string, string> | undefined {
    const size = this.options.bucketSize ?? 5
    const resetMs = this.options.bucketResetMs ?? 200
    const now = Date.now()
    let b = this.bucket.get(channelId)
    if (b === undefined || now >= b.resetAt) {
      b = { remaining: size, resetAt: now + resetMs }
      this.bucket.set(channelId, b)
    }
    if (b.remaining === 0) return undefined
    b.remaining--
    return {
      "x-ratelimit-limit": String(size),
      "x-ratelimit-remaining": String(b.remaining),
      "x-ratelimit-reset": String((b.resetAt / 1000).toFixed(3)),
      "x-ratelimit-reset-after": String(((b.resetAt - now) / 1000).toFixed(3)),
      "x-ratelimit-bucket": `bucket-${channelId}`
    }
  }
}
