/**
 * A fake platform API for the 429 storm on the webhook channels, in its own process (CHANNEL):
 *
 * - `slack` (the Web API, docs.slack.dev): `POST /api/chat.postMessage` posts a message (`ts` back),
 *   `chat.update` replaces a posted message's text; a rate-limited call is HTTP 429 with a
 *   `Retry-After` header (seconds) and `{"ok":false,"error":"ratelimited"}`. Other methods answer ok.
 * - `whatsapp` (the Cloud API): `POST /{version}/{phone-number-id}/messages` with
 *   `{ messaging_product, to, type: "text", text: { body } }` sends a message (`messages[0].id` back);
 *   a throughput error is HTTP 429 with `{ error: { code: 130429, message: "Rate limit hit" } }`.
 *
 * Every call that targets a chat is answered 429 with probability STORM (seeded: SEED), else taken,
 * and recorded per chat: arrival time, method, whether it was taken; the messages a user would see
 * (their latest text, in the order they were posted) are kept per chat.
 *
 * Prints `{"url":…}` once listening; on every "stats" line on stdin one line `{"stats":…}`. A
 * SIGTERM stops it.
 */
import { serve } from "./fakeApi.js"
import { seeded } from "./random.js"

export interface ChannelCall {
  readonly t: number
  readonly method: string
  readonly taken: boolean
}

const channel = process.env.CHANNEL ?? "slack"
const storm = Number(process.env.STORM ?? 0.5)
const retryAfter = Number(process.env.RETRY_AFTER ?? 1)
const random = seeded(Number(process.env.SEED ?? 1))

const calls = new Map<string, Array<ChannelCall>>()
/** Per chat, the messages as the user sees them (latest text), in the order they were posted. */
const shown = new Map<string, Array<{ id: string; text: string }>>()
let nextId = 1
const t0 = Date.now()

serve(
  (_req, path, p, answer) => {
    const method = channel === "slack" ? (/^\/api\/([\w.]+)$/.exec(path)?.[1] ?? "") : /\/messages$/.test(path) ? "messages" : ""
    const chat = channel === "slack" ? p.channel : p.to
    if (typeof chat !== "string" || chat === "" || !["chat.postMessage", "chat.update", "messages"].includes(method)) {
      return answer(200, channel === "slack" ? { ok: true } : { success: true })
    }
    const list = calls.get(chat) ?? []
    calls.set(chat, list)
    const t = Date.now() - t0
    if (random() < storm) {
      list.push({ t, method, taken: false })
      return channel === "slack"
        ? answer(429, { ok: false, error: "ratelimited" }, { "retry-after": String(retryAfter) })
        : answer(429, { error: { message: "(#130429) Rate limit hit", type: "OAuthException", code: 130429 } })
    }
    list.push({ t, method, taken: true })
    const messages = shown.get(chat) ?? []
    shown.set(chat, messages)
    if (method === "chat.update") {
      const m = messages.find((x) => x.id === p.ts)
      if (m === undefined) return answer(200, { ok: false, error: "message_not_found" })
      m.text = String(p.text ?? "")
      return answer(200, { ok: true, channel: chat, ts: m.id })
    }
    const id = channel === "slack" ? `1700000000.${String(nextId++).padStart(6, "0")}` : `wamid.${nextId++}`
    messages.push({ id, text: String(channel === "slack" ? (p.text ?? "") : (p.text?.body ?? "")) })
    return channel === "slack"
      ? answer(200, { ok: true, channel: chat, ts: id })
      : answer(200, { messaging_product: "whatsapp", contacts: [{ input: chat, wa_id: chat }], messages: [{ id }] })
  },
  () => ({ calls: Object.fromEntries(calls), texts: Object.fromEntries([...shown].map(([chat, ms]) => [chat, ms.map((m) => m.text)])) })
)

