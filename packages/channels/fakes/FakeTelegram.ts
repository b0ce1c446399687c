/**
 * A loopback fake of the Telegram Bot API: same endpoints (`/bot<token>/<method>`), payload shapes
 * and error bodies. sendMessage validates `parse_mode` entities like the real API (400 "Bad Request:
 * can't parse entities: …"), text length (4096 after parsing), per-chat flood control (429 with
 * `parameters.retry_after`); sendMessageDraft only in private chats; getUpdates long-polls.
 */
import { listen, type Running } from "./fakeHttp.js"
import { parseHtml, parseMarkdownV2 } from "./telegramEntities.js"

export interface SentMessage {
  readonly chatId: number | string
  readonly threadId?: number | undefined
  readonly text: string
  readonly parseMode?: string | undefined
  /** What the user sees (entities parsed). */
  readonly visible: string
  readonly messageId: number
}
export interface DraftCall {
  readonly chatId: number | string
  readonly draftId: number
  readonly text: string
  readonly parseMode?: string | undefined
  /** What the user sees (entities parsed). */
  readonly visible: string
}

const err = (code: number, description: string, parameters?: Record<string, unknown>) => ({
  status: code,
  body: { ok: false, error_code: code, description, ...(parameters ? { parameters } : {}) }
})

export class FakeTelegram {
  readonly sent: Array<SentMessage> = []
  readonly drafts: Array<DraftCall> = []
  /** Every call in order (method names), 429s included. */
  readonly calls: Array<string> = []
  private updates: Array<{ update_id: number; message: unknown }> = []
  private nextUpdateId = 1
  private nextMessageId = 100
  private waiters: Array<() => void> = []
  private limited: Array<number> = []
  private lastSendAt = new Map<string, number>()
  private running: Running | undefined
  /** Reject formatted messages (simulates the API's parser disagreeing). */
  rejectFormattedNext = 0

  constructor(
    readonly token: string,
    readonly options: { readonly floodIntervalMs?: number; readonly retryAfterSeconds?: number } = {}
  ) {}

  get url(): string {
    return this.running!.url
  }

  async start(): Promise<this> {
    this.running = await listen(async (req) => {
      const m = /^\/bot([^/]+)\/(\w+)$/.exec(req.path)
      if (m === null) return err(404, "Not Found")
      if (m[1] !== this.token) return err(401, "Unauthorized")
      const method = m[2]!
      this.calls.push(method)
      const p = (req.json ?? Object.fromEntries(req.query)) as Record<string, unknown>
      switch (method) {
        case "getMe":
          return { status: 200, body: { ok: true, result: { id: 1, is_bot: true, first_name: "fake", username: "fake_bot" } } }
        case "sendMessage":
          return this.sendMessage(p)
        case "sendMessageDraft":
          return this.sendMessageDraft(p)
        case "getUpdates":
          return this.getUpdates(p)
        default:
          return err(404, "Not Found: method not found")
      }
    })
    return this
  }

  async close(): Promise<void> {
    for (const w of this.waiters.splice(0)) w()
    await this.running?.close()
  }

  /** The next `n` sendMessage calls answer 429 with `retry_after` seconds. */
  rateLimitNext(n: number, retryAfterSeconds: number): void {
    for (let i = 0; i < n; i++) this.limited.push(retryAfterSeconds)
  }

  /** A user writes to the bot (delivered through getUpdates, or use `update()` for a webhook body). */
  pushMessage(m: { chatId: number; text: string; fromId?: number; type?: string; threadId?: number }): void {
    this.updates.push(this.update(m))
    for (const w of this.waiters.splice(0)) w()
  }

  update(m: { chatId: number; text: string; fromId?: number; type?: string; threadId?: number }) {
    return {
      update_id: this.nextUpdateId++,
      message: {
        message_id: this.nextMessageId++,
        date: Math.floor(Date.now() / 1000),
        from: { id: m.fromId ?? m.chatId, is_bot: false, first_name: "User" },
        chat: { id: m.chatId, type: m.type ?? (m.chatId > 0 ? "private" : "supergroup") },
        ...(m.threadId !== undefined ? { message_thread_id: m.threadId, is_topic_message: true } : {}),
        text: m.text
      }
    }
  }

  private sendMessage(p: Record<string, unknown>) {
    if (p.chat_id === undefined) return err(400, "Bad Request: chat_id is empty")
    const text = typeof p.text === "string" ? p.text : ""
    if (text === "") return err(400, "Bad Request: message text is empty")
    const limited = this.limited.shift()
    if (limited !== undefined) return err(429, `Too Many Requests: retry after ${limited}`, { retry_after: limited })
    const key = String(p.chat_id)
    const now = Date.now()
    const flood = this.options.floodIntervalMs
    if (flood !== undefined && now - (this.lastSendAt.get(key) ?? -Infinity) < flood) {
      const ra = this.options.retryAfterSeconds ?? 1
      return err(429, `Too Many Requests: retry after ${ra}`, { retry_after: ra })
    }
    const mode = typeof p.parse_mode === "string" ? p.parse_mode : undefined
    let visible = text
    if (mode !== undefined) {
      if (this.rejectFormattedNext > 0) {
        this.rejectFormattedNext--
        return err(400, "Bad Request: can't parse entities: Can't find end of the entity starting at byte offset 0")
      }
      const parsed = mode === "HTML" ? parseHtml(text) : mode === "MarkdownV2" ? parseMarkdownV2(text) : { ok: true as const, text }
      if (!parsed.ok) return err(400, parsed.description)
      visible = parsed.text
    }
    if (visible.length > 4096) return err(400, "Bad Request: message is too long")
    this.lastSendAt.set(key, now)
    const messageId = this.nextMessageId++
    this.sent.push({
      chatId: p.chat_id as number,
      threadId: p.message_thread_id as number | undefined,
      text,
      parseMode: mode,
      visible,
      messageId
    })
    return { status: 200, body: { ok: true, result: { message_id: messageId, date: Math.floor(now / 1000), chat: { id: p.chat_id }, text: visible } } }
  }

  private sendMessageDraft(p: Record<string, unknown>) {
    const chatId = p.chat_id
    if (typeof chatId !== "number" || chatId <= 0) return err(400, "Bad Request: TEXTDRAFT_PEER_INVALID")
    if (typeof p.draft_id !== "number" || p.draft_id === 0) return err(400, "Bad Request: draft_id must be non-zero")
    const text = typeof p.text === "string" ? p.text : ""
    const mode = typeof p.parse_mode === "string" ? p.parse_mode : undefined
    const parsed = mode === "HTML" ? parseHtml(text) : mode === "MarkdownV2" ? parseMarkdownV2(text) : { ok: true as const, text }
    if (!parsed.ok) return err(400, parsed.description)
    if (parsed.text.length > 4096) return err(400, "Bad Request: text is too long")
    this.drafts.push({ chatId, draftId: p.draft_id, text, parseMode: mode, visible: parsed.text })
    return { status: 200, body: { ok: true, result: true } }
  }

  private async getUpdates(p: Record<string, unknown>) {
    const offset = Number(p.offset ?? 0)
    this.updates = this.updates.filter((u) => u.update_id >= offset)
    if (this.updates.length === 0) {
      const timeout = Math.min(Number(p.timeout ?? 0), 50) * 1000
      if (timeout > 0) {
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, timeout)
          this.waiters.push(() => {
            clearTimeout(t)
            resolve()
          })
        })
      }
    }
    return { status: 200, body: { ok: true, result: this.updates.filter((u) => u.update_id >= offset) } }
  }
}
