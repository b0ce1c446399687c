/**
 * A loopback fake of the Slack Web API (`POST /api/chat.postMessage`, `chat.update` of a posted
 * message): bearer auth (`invalid_auth`), `no_text`, `msg_too_long` (40 000), `channel_not_found`,
 * `message_not_found`, and rate limiting
 * with HTTP 429 + `Retry-After` (seconds) + `{"ok":false,"error":"ratelimited"}`. Also signs
 * Events API requests the way Slack does, for webhook tests.
 */
import { createHmac } from "node:crypto"
import { listen, type Running } from "./fakeHttp.js"

export interface Posted {
  readonly channel: string
  /** The message's current text (after any `chat.update`). */
  text: string
  readonly threadTs?: string | undefined
  readonly ts: string
  /** Every text the message showed, in order (the post, then each update). */
  readonly versions: Array<string>
}

export class FakeSlack {
  readonly posted: Array<Posted> = []
  readonly calls: Array<string> = []
  private limited: Array<number> = []
  private seq = 0
  private running: Running | undefined

  constructor(readonly token: string) {}

  get url(): string {
    return this.running!.url
  }

  async start(): Promise<this> {
    this.running = await listen((req) => {
      const m = /^\/api\/([\w.]+)$/.exec(req.path)
      if (m === null) return { status: 404, body: "not found" }
      const method = m[1]!
      this.calls.push(method)
      if (req.headers.authorization !== `Bearer ${this.token}`) return { status: 200, body: { ok: false, error: "invalid_auth" } }
      const p = (req.json ?? {}) as Record<string, unknown>
      if (method === "chat.postMessage" || method === "chat.update") {
        const after = this.limited.shift()
        if (after !== undefined) return { status: 429, body: { ok: false, error: "ratelimited" }, headers: { "retry-after": String(after) } }
        if (typeof p.channel !== "string" || p.channel === "") return { status: 200, body: { ok: false, error: "channel_not_found" } }
        const text = typeof p.text === "string" ? p.text : ""
        if (text === "") return { status: 200, body: { ok: false, error: "no_text" } }
        if (text.length > 40000) return { status: 200, body: { ok: false, error: "msg_too_long" } }
        if (method === "chat.update") {
          const msg = this.posted.find((x) => x.channel === p.channel && x.ts === p.ts)
          if (msg === undefined) return { status: 200, body: { ok: false, error: "message_not_found" } }
          msg.text = text
          msg.versions.push(text)
          return { status: 200, body: { ok: true, channel: p.channel, ts: msg.ts, text } }
        }
        const ts = `1700000000.${String(++this.seq).padStart(6, "0")}`
        this.posted.push({ channel: p.channel, text, threadTs: p.thread_ts as string | undefined, ts, versions: [text] })
        return { status: 200, body: { ok: true, channel: p.channel, ts, message: { text, ts } } }
      }
      return { status: 200, body: { ok: false, error: "unknown_method" } }
    })
    return this
  }

  async close(): Promise<void> {
    await this.running?.close()
  }

  /** The next `n` posts answer 429 with `Retry-After: seconds`. */
  rateLimitNext(n: number, seconds: number): void {
    for (let i = 0; i < n; i++) this.limited.push(seconds)
  }

  static sign(secret: string, body: string, timestampSeconds: number): Record<string, string> {
    const sig = "v0=" + createHmac("sha256", secret).update(`v0:${timestampSeconds}:${body}`).digest("hex")
    return { "x-slack-request-timestamp": String(timestampSeconds), "x-slack-signature": sig, "content-type": "application/json" }
  }

  static messageEvent(e: { channel: string; user: string; text: string; ts?: string; threadTs?: string; eventId?: string; channelType?: string }): string {
    return JSON.stringify({
      token: "legacy",
      team_id: "T1",
      api_app_id: "A1",
      type: "event_callback",
      event_id: e.eventId ?? `Ev${Math.random().toString(36).slice(2)}`,
      event_time: Math.floor(Date.now() / 1000),
      event: {
        type: "message",
        channel: e.channel,
        user: e.user,
        text: e.text,
        ts: e.ts ?? `${Math.floor(Date.now() / 1000)}.000100`,
        ...(e.threadTs ? { thread_ts: e.threadTs } : {}),
        channel_type: e.channelType ?? "channel"
      }
    })
  }
}
