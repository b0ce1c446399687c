/**
 * A fake Telegram Bot API for the 429 storm, in its own process, written from the Bot API's docs:
 * `POST /bot<token>/<method>` with a JSON body, answers `{ ok, result }` or `{ ok: false,
 * error_code, description, parameters: { retry_after } }`.
 *
 * - `getUpdates` (long polling, `offset`, `timeout`): at start CHATS private chats each have
 *   QUESTIONS text messages waiting (a burst of questions, so a burst of replies to each chat).
 * - Every other method that targets a chat (`sendMessage`, `sendMessageDraft`, `editMessageText`, …)
 *   is answered 429 (`retry_after` RETRY_AFTER s) with probability STORM (seeded: SEED), else taken.
 * - Every request to a chat is recorded with its arrival time, method, whether it was taken, and
 *   the text of a taken `sendMessage`.
 *
 * Prints `{"url":…}` once listening; on every "stats" line on stdin one line `{"stats":…}`. A
 * SIGTERM stops it.
 */
import { serve } from "./fakeApi.js"
import { seeded } from "./random.js"

export interface Call {
  readonly t: number
  readonly method: string
  readonly taken: boolean
  readonly text?: string
}

const chats = Number(process.env.CHATS ?? 4)
const questions = Number(process.env.QUESTIONS ?? 3)
const storm = Number(process.env.STORM ?? 0.5)
const retryAfter = Number(process.env.RETRY_AFTER ?? 1)
const random = seeded(Number(process.env.SEED ?? 1))

const updates: Array<unknown> = []
for (let q = 0; q < questions; q++) {
  for (let c = 0; c < chats; c++) {
    const chatId = 1000 + c
    updates.push({
      update_id: updates.length + 1,
      message: { message_id: q + 1, from: { id: chatId, is_bot: false, first_name: `user${c}` }, chat: { id: chatId, type: "private" }, date: 0, text: `chat${c} question${q}` }
    })
  }
}
const calls = new Map<string, Array<Call>>()
let polls = 0
let nextId = 1
const t0 = Date.now()

serve(
  (req, path, params: { offset?: number; timeout?: number; chat_id?: number | string; text?: string }, answer) => {
    const method = /\/bot[^/]+\/(\w+)$/.exec(path)?.[1] ?? ""
    if (method === "getUpdates") {
      polls++
      const offset = params.offset ?? 0
      const ready = updates.filter((u) => (u as { update_id: number }).update_id >= offset)
      if (ready.length > 0) return answer(200, { ok: true, result: ready.slice(0, 100) })
      // Nothing new: hold the poll as Telegram does, at most its timeout (capped at 2 s here).
      const timer = setTimeout(() => answer(200, { ok: true, result: [] }), Math.min(2, params.timeout ?? 0) * 1000)
      req.socket.once("close", () => clearTimeout(timer))
      return
    }
    if (params.chat_id === undefined) return answer(200, { ok: true, result: true })
    const chat = String(params.chat_id)
    const list = calls.get(chat) ?? []
    calls.set(chat, list)
    const t = Date.now() - t0
    if (random() < storm) {
      list.push({ t, method, taken: false })
      return answer(429, { ok: false, error_code: 429, description: `Too Many Requests: retry after ${retryAfter}`, parameters: { retry_after: retryAfter } })
    }
    list.push({ t, method, taken: true, ...(method === "sendMessage" ? { text: params.text ?? "" } : {}) })
    const id = nextId++
    answer(200, { ok: true, result: method === "sendMessageDraft" ? true : { message_id: id, chat: { id: params.chat_id, type: "private" }, date: 0, text: params.text } })
  },
  () => ({ polls, calls: Object.fromEntries(calls) })
)

