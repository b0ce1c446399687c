/**
 * A loopback fake of the Telegram Bot API: same endpoints (`/bot<token>/<method>`), payload shapes
 * and error bodies. sendMessage validates `parse_mode` entities like the real API (400 "Bad Request:
 * can't parse entities: …"), text length (4096 after parsing), per-chat flood control (429 with
 * `parameters.retry_after`); sendMessageDraft only in private chats (`can_stop` / `keep_on_stop`
 * recorded, empty text is the "Thinking…" placeholder); editMessageText ("message is not modified"
 * when nothing changes); getUpdates long-polls and honours `allowed_updates`; `pressStop` is the
 * user pressing a draft's stop button (a `stopped_message_generation` update).
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
  /** What the user sees (entities parsed; "" shows Telegram's "Thinking…" placeholder). */
  readonly visible: string
  /** The stop button is shown (`can_stop`), and the draft stays when pressed (`keep_on_stop`). */
  readonly canStop: boolean
  readonly keepOnStop: boolean
}
export interface EditCall {
  readonly chatId: number | string
  readonly messageId: number
  readonly text: string
  readonly visible: string
  readonly at: number
}

const err = (code: number, description: string, parameters?: Record<string, unknown>) => ({
  status: code,
  body: { ok: false, error_code: code, description, ...(parameters ? { parameters } : {}) }
})

export class FakeTelegram {
  readonly sent: Array<SentMessage> = []
  readonly drafts: Array<DraftCall> = []
  readonly edits: Array<EditCall> = []
  /** Every call in order (method names), 429s included. */
  readonly calls: Array<string> = []
  private updates: Array<{ update_id: number; message?: unknown; stopped_message_generation?: unknown }> = []
  /** `allowed_updates` of the last getUpdates (the API remembers it; undefined = all but a few). */
  private allowed: ReadonlyArray<string> | undefined
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
        case "editMessageText":
          return this.editMessageText(p)
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
    const u = this.update(m)
    this.everything.push(u)
    this.updates.push(u)
    for (const w of this.waiters.splice(0)) w()
  }
  private everything: Array<{ update_id: number; message?: unknown }> = []

  /** Every update pushed so far is pending again, as when a bot restarts before its offset was
   * confirmed (the next getUpdates from offset 0 returns them all). Returns how many. */
  replayAll(): number {
    this.updates = [...this.everything]
    this.updatesServed = 0
    return this.updates.length
  }
  /** Updates returned by getUpdates since the last `replayAll`. */
  updatesServed = 0

  /** The user presses the stop button of draft `draftId` in a private chat: a
   * `stopped_message_generation` update, delivered only to a bot that asked for it in `allowed_updates`
   * (and only when the draft was shown with `can_stop`). Returns whether it was delivered. */
  pressStop(chatId: number, draftId: number): boolean {
    const shown = this.drafts.some((d) => d.chatId === chatId && d.draftId === draftId && d.canStop)
    if (!shown || !(this.allowed ?? []).includes("stopped_message_generation")) return false
    this.updates.push({
      update_id: this.nextUpdateId++,
      stopped_message_generation: { chat: { id: chatId, type: "private", first_name: "User" }, draft_id: draftId }
    })
    for (const w of this.waiters.splice(0)) w()
    return true
  }

  /** Each message of `chatId` as the user sees it now (edits applied), in order. */
  messagesIn(chatId: number | string): ReadonlyArray<string> {
    return this.sent.filter((m) => m.chatId === chatId).map((m) => this.current.get(m.messageId) ?? m.visible)
  }
  private current = new Map<number, string>()

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
    this.drafts.push({
      chatId,
      draftId: p.draft_id,
      text,
      parseMode: mode,
      visible: parsed.text,
      canStop: p.can_stop === true,
      keepOnStop: p.keep_on_stop === true
    })
    return { status: 200, body: { ok: true, result: true } }
  }

  private editMessageText(p: Record<string, unknown>) {
    const target = this.sent.find((m) => m.messageId === p.message_id && m.chatId === p.chat_id)
    if (target === undefined) return err(400, "Bad Request: message to edit not found")
    const text = typeof p.text === "string" ? p.text : ""
    if (text === "") return err(400, "Bad Request: message text is empty")
    const mode = typeof p.parse_mode === "string" ? p.parse_mode : undefined
    const parsed = mode === "HTML" ? parseHtml(text) : mode === "MarkdownV2" ? parseMarkdownV2(text) : { ok: true as const, text }
    if (!parsed.ok) return err(400, parsed.description)
    if (parsed.text.length > 4096) return err(400, "Bad Request: MESSAGE_TOO_LONG")
    if ((this.current.get(target.messageId) ?? target.visible) === parsed.text) {
      return err(400, "Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message")
    }
    this.current.set(target.messageId, parsed.text)
    this.edits.push({ chatId: target.chatId, messageId: target.messageId, text, visible: parsed.text, at: Date.now() })
    return { status: 200, body: { ok: true, result: { message_id: target.messageId, chat: { id: target.chatId }, text: parsed.text } } }
  }

  private async getUpdates(p: Record<string, unknown>) {
    if (Array.isArray(p.allowed_updates)) this.allowed = p.allowed_updates as Array<string>
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
    const result = this.updates.filter((u) => u.update_id >= offset)
    this.updatesServed += result.length
    return { status: 200, body: { ok: true, result } }
  }
}
