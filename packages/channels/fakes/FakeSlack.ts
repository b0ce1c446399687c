/**
 * A loopback fake of the Slack Web API (`POST /api/chat.postMessage`, `chat.update` of a posted
 * message): bearer auth (`invalid_auth`), `no_text`, `msg_too_long` (40 000), `channel_not_found`,
 * `message_not_found`, and rate limiting
 * with HTTP 429 + `Retry-After` (seconds) + `{"ok":false,"error":"ratelimited"}`. Also signs
 * Events API requests the way Slack does, for webhook tests.
 *
 * Native streaming (docs.slack.dev `chat.startStream` / `chat.appendStream` / `chat.stopStream`):
 * `markdown_text` at most 12,000 characters a call (`msg_too_long`); `recipient_user_id` and
 * `recipient_team_id` required in channels (`missing_recipient_user_id`); appends are Tier 4 (more
 * than 100 in a minute answer 429); a stream ends on its own 5 minutes after its start (the
 * undocumented expiry reported in python-slack-sdk#1859), after which appends and stops answer
 * `message_not_in_streaming_state`. Time comes from `options.now` so a test can simulate minutes.
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

export interface Streamed {
  readonly channel: string
  readonly ts: string
  readonly threadTs?: string | undefined
  readonly recipientUserId?: string | undefined
  readonly recipientTeamId?: string | undefined
  /** The message's markdown as the user sees it: the start's text and every accepted append. */
  text: string
  readonly startedAt: number
  state: "streaming" | "stopped" | "expired"
  /** Characters of each accepted call (start, appends). */
  readonly calls: Array<number>
}

export interface FakeSlackOptions {
  readonly now?: () => number
  /** A stream ends this long after its start (default 300,000 ms). */
  readonly streamExpiresAfterMs?: number
  /** false: the workspace lacks the streaming methods (GovSlack): `unknown_method`. */
  readonly nativeStreaming?: boolean
}

export class FakeSlack {
  readonly posted: Array<Posted> = []
  readonly streams: Array<Streamed> = []
  private appendTimes: Array<number> = []
  readonly calls: Array<string> = []
  private limited: Array<number> = []
  private seq = 0
  private running: Running | undefined

  constructor(
    readonly token: string,
    readonly options: FakeSlackOptions = {}
  ) {}

  private now(): number {
    return this.options.now?.() ?? Date.now()
  }

  /** Every message of `channel` as the user sees it, posted and streamed, in order. */
  messagesIn(channel: string): ReadonlyArray<string> {
    return [...this.posted.map((p) => ({ ts: p.ts, text: p.text, channel: p.channel })), ...this.streams]
      .filter((m) => m.channel === channel)
      .sort((a, b) => (a.ts < b.ts ? -1 : 1))
      .map((m) => m.text)
  }

  private stream(method: string, p: Record<string, unknown>) {
    if (this.options.nativeStreaming === false) return { status: 200, body: { ok: false, error: "unknown_method" } }
    if (typeof p.channel !== "string" || p.channel === "") return { status: 200, body: { ok: false, error: "channel_not_found" } }
    const markdown = typeof p.markdown_text === "string" ? p.markdown_text : undefined
    if (markdown !== undefined && markdown.length > 12_000) return { status: 200, body: { ok: false, error: "msg_too_long" } }
    const now = this.now()
    if (method === "chat.startStream") {
      if (p.channel.startsWith("C") && (typeof p.recipient_user_id !== "string" || typeof p.recipient_team_id !== "string")) {
        return { status: 200, body: { ok: false, error: "missing_recipient_user_id" } }
      }
      const ts = `1700000000.${String(++this.seq).padStart(6, "0")}`
      this.streams.push({
        channel: p.channel,
        ts,
        threadTs: p.thread_ts as string | undefined,
        recipientUserId: p.recipient_user_id as string | undefined,
        recipientTeamId: p.recipient_team_id as string | undefined,
        text: markdown ?? "",
        startedAt: now,
        state: "streaming",
        calls: markdown === undefined ? [] : [markdown.length]
      })
      return { status: 200, body: { ok: true, channel: p.channel, ts } }
    }
    const msg = this.streams.find((x) => x.channel === p.channel && x.ts === p.ts)
    if (msg === undefined) return { status: 200, body: { ok: false, error: "message_not_found" } }
    if (msg.state === "streaming" && now - msg.startedAt > (this.options.streamExpiresAfterMs ?? 300_000)) msg.state = "expired"
    if (msg.state !== "streaming") return { status: 200, body: { ok: false, error: "message_not_in_streaming_state" } }
    if (method === "chat.appendStream") {
      if (markdown === undefined || markdown === "") return { status: 200, body: { ok: false, error: "invalid_arguments" } }
      this.appendTimes = this.appendTimes.filter((t) => now - t < 60_000)
      if (this.appendTimes.length >= 100) return { status: 429, body: { ok: false, error: "ratelimited" }, headers: { "retry-after": "1" } }
      this.appendTimes.push(now)
      msg.text += markdown
      msg.calls.push(markdown.length)
      return { status: 200, body: { ok: true, channel: p.channel, ts: msg.ts } }
    }
    if (markdown !== undefined) msg.text += markdown
    msg.state = "stopped"
    return { status: 200, body: { ok: true, channel: p.channel, ts: msg.ts } }
  }

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
      if (method === "chat.startStream" || method === "chat.appendStream" || method === "chat.stopStream") return this.stream(method, p)
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
