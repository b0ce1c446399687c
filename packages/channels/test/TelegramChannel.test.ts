import { describe, expect, it } from "@effect/vitest"
import { FetchHttpClient } from "@effect/platform"
import { Cause, Effect, Logger, Redacted, Stream } from "effect"
import { closedPort } from "@sluice/core/fakes/closedPort"
import { FakeTelegram } from "../fakes/FakeTelegram.js"
import { parseHtml } from "../fakes/telegramEntities.js"
import { Channel, Markdown, TelegramChannel } from "../src/index.js"
import { blocksOf, expectedMessages, fake, finalOf, runEvents, startHub, waitUntil } from "./support/harness.js"

const TOKEN = "123:ABC"
const adapter = (tg: FakeTelegram, extra: Partial<TelegramChannel.Options> = {}) =>
  TelegramChannel.make({ accountId: "main", token: TOKEN, baseUrl: tg.url, pollTimeoutSeconds: 1, minIntervalMs: 20, ...extra })

describe("TelegramChannel end to end (long polling → Conversations → scripted model → fake Bot API)", () => {
  it.scopedLive("private chat: the reply streams in the draft (blocks off), the final arrives as normal messages within the limit", () =>
    Effect.gen(function* () {
      const tg = yield* fake(() => new FakeTelegram(TOKEN))
      const { conversations } = yield* startHub(adapter(tg), {
        // block streaming asked for, but a private chat drafts: blocks are off for the reply
        config: { channels: { telegram: { textChunkLimit: 300, blockStreaming: true, streamMode: "partial" } } },
        tokensPerSecond: 400 // the reply streams live (at 0 it is over before the delivery subscribes, and no draft is due)
      })
      tg.pushMessage({ chatId: 42, text: "How do I speed up my build?" })
      const events = yield* runEvents(conversations, "telegram:main:42")
      expect(blocksOf(events).length).toBeGreaterThan(1)
      const final = finalOf(events)
      const expected = expectedMessages(final, Channel.capabilities.telegram, 300)
      expect(expected.length).toBeGreaterThan(1)
      yield* waitUntil("final messages", () => tg.sent.length >= expected.length)
      yield* Effect.sleep(100)
      expect(tg.sent.map((m) => m.text)).toEqual(expected)
      expect(tg.sent.every((m) => m.parseMode === "HTML" && m.visible.length <= 300 && m.chatId === 42)).toBe(true)
      // drafts render like the final (HTML, a partial fence closed as code), never raw markdown
      expect(tg.drafts.length).toBeGreaterThan(0)
      expect(tg.drafts.every((d) => d.chatId === 42 && d.parseMode === "HTML" && d.visible.length <= 4096)).toBe(true)
      expect(tg.drafts.some((d) => d.text.includes("<pre><code"))).toBe(true)
      // (a draft cut right after an opening "*" still shows it: emphasis renders once it closes)
      expect(tg.drafts.filter((d) => d.visible.length > 40).some((d) => /```|\*\*|\*\(/.test(d.visible))).toBe(false)
    })
  )

  it.scopedLive("group with block streaming: blocks go out as they come, the final is not sent again", () =>
    Effect.gen(function* () {
      const tg = yield* fake(() => new FakeTelegram(TOKEN))
      const { conversations } = yield* startHub(adapter(tg), {
        config: { channels: { telegram: { blockStreaming: true } } },
        words: 400
      })
      tg.pushMessage({ chatId: -100, text: "Explain caching", fromId: 7 })
      const events = yield* runEvents(conversations, "telegram:main:-100")
      const blocks = blocksOf(events)
      expect(blocks.length).toBeGreaterThan(1)
      const expected = blocks.flatMap((b) => expectedMessages(b, Channel.capabilities.telegram, 4000))
      yield* waitUntil("block messages", () => tg.sent.length >= expected.length)
      yield* Effect.sleep(150)
      expect(tg.sent.map((m) => m.text)).toEqual(expected)
      expect(tg.drafts).toEqual([]) // no drafts in groups
      const squash = (s: string) => s.replace(/\s+/g, "")
      expect(squash(tg.sent.map((m) => m.visible).join(""))).toBe(squash(Markdown.toPlain(finalOf(events))))
    })
  )

  it.scopedLive("a 429 storm loses, reorders and duplicates nothing", () =>
    Effect.gen(function* () {
      const tg = yield* fake(() => new FakeTelegram(TOKEN))
      const { conversations } = yield* startHub(adapter(tg), {
        config: { channels: { telegram: { blockStreaming: true, textChunkLimit: 200 } } },
        words: 300
      })
      tg.rateLimitNext(5, 0.05)
      tg.pushMessage({ chatId: -5, text: "Tell me about queues" })
      const events = yield* runEvents(conversations, "telegram:main:-5")
      const expected = blocksOf(events).flatMap((b) => expectedMessages(b, Channel.capabilities.telegram, 200))
      yield* waitUntil("all messages", () => tg.sent.length >= expected.length)
      yield* Effect.sleep(150)
      expect(tg.sent.map((m) => m.text)).toEqual(expected)
      expect(tg.calls.filter((c) => c === "sendMessage").length).toBe(expected.length + 5)
    })
  )

  it.scopedLive("when the API rejects the formatting, the same part is resent as plain text", () =>
    Effect.gen(function* () {
      const tg = yield* fake(() => new FakeTelegram(TOKEN))
      const { conversations } = yield* startHub(adapter(tg, { parseMode: "MarkdownV2" }))
      tg.rejectFormattedNext = 1
      tg.pushMessage({ chatId: 9, text: "hi" })
      const events = yield* runEvents(conversations, "telegram:main:9")
      const final = finalOf(events)
      yield* waitUntil("messages", () => tg.sent.length >= 1)
      yield* Effect.sleep(100)
      expect(tg.sent).toHaveLength(1)
      expect(tg.sent[0]!.parseMode).toBeUndefined()
      expect(tg.sent[0]!.text).toBe(Markdown.toPlain(final))
    })
  )

  it.scopedLive("/reasoning stream shows reasoning in the draft and keeps it out of the final", () =>
    Effect.gen(function* () {
      const tg = yield* fake(() => new FakeTelegram(TOKEN))
      const { conversations } = yield* startHub(adapter(tg), { thinking: true })
      tg.pushMessage({ chatId: 77, text: "/reasoning stream" })
      yield* waitUntil("ack", () => tg.sent.length === 1)
      tg.pushMessage({
        chatId: 77,
        text: "Compare three approaches to caching in a distributed system, explain the trade-offs step by step and design a migration plan with code"
      })
      const events = yield* runEvents(conversations, "telegram:main:77")
      expect(events.some((e) => e._tag === "ReasoningDelta")).toBe(true)
      yield* waitUntil("final", () => tg.sent.length >= 2)
      yield* Effect.sleep(100)
      expect(tg.drafts.some((d) => d.text.startsWith("🧠"))).toBe(true)
      const finalMessages = tg.sent.slice(1).map((m) => m.visible).join("\n")
      expect(finalMessages).not.toContain("🧠")
      expect(finalMessages.replace(/\s+/g, "")).toBe(Markdown.toPlain(finalOf(events)).replace(/\s+/g, ""))
    })
  )

  it.scopedLive("the draft's stop button stops the reply: its text so far arrives as the final message, and an old draft's button stops nothing", () =>
    Effect.gen(function* () {
      const tg = yield* fake(() => new FakeTelegram(TOKEN))
      const { conversations } = yield* startHub(adapter(tg), {
        config: { channels: { telegram: { streamMode: "partial" } } },
        words: 400,
        tokensPerSecond: 100 // about 4 s of reply
      })
      tg.pushMessage({ chatId: 42, text: "tell me a long story" })
      // First the "Thinking…" placeholder (empty text) with the stop button, then the text as it grows.
      yield* waitUntil("a draft with text", () => tg.drafts.some((d) => d.visible.length > 80), 10_000)
      expect(tg.drafts[0]).toMatchObject({ visible: "", canStop: true, keepOnStop: true })
      expect(tg.drafts.every((d) => d.canStop && d.keepOnStop)).toBe(true)
      const draftId = tg.drafts.at(-1)!.draftId
      expect(tg.pressStop(42, draftId)).toBe(true) // delivered: the bot asked for stopped_message_generation
      yield* waitUntil("the partial reply sent", () => tg.sent.length >= 1, 10_000)
      yield* Effect.sleep(300)
      const history = yield* conversations.history("telegram:main:42")
      expect(history.map((m) => m.role)).toEqual(["user", "assistant"])
      expect(history[1]).toMatchObject({ status: "interrupted" })
      // What the user saw at the press is kept: the final message is the partial reply, far from 400 words.
      const shown = tg.sent.map((m) => m.visible).join("\n")
      expect(shown.replace(/\s+/g, "")).toBe(Markdown.toPlain(history[1]!.text).replace(/\s+/g, ""))
      expect(shown.split(/\s+/).length).toBeLessThan(300)
      expect(tg.sent.some((m) => m.visible === "Stopped.")).toBe(false) // the button needs no answer

      // The next reply gets a new draft id; the old draft's button (pressed late) does not stop it.
      const before = tg.drafts.length
      tg.pushMessage({ chatId: 42, text: "and another one" })
      yield* waitUntil("the second reply's draft", () => tg.drafts.slice(before).some((d) => d.visible.length > 20), 10_000)
      const second = tg.drafts.slice(before).find((d) => d.visible.length > 20)!.draftId
      expect(second).not.toBe(draftId)
      const stale = yield* Effect.sync(() => tg.sent.length)
      tg.pressStop(42, draftId)
      yield* waitUntil("the second reply", () => tg.sent.length > stale, 15_000)
      const h2 = yield* Effect.gen(function* () {
        for (let i = 0; i < 100; i++) {
          const h = yield* conversations.history("telegram:main:42")
          if (h.length === 4 && h[3]!.status !== "streaming") return h
          yield* Effect.sleep(100)
        }
        return yield* conversations.history("telegram:main:42")
      })
      expect(h2[3]).toMatchObject({ role: "assistant", status: "complete" })
    }), { timeout: 60_000 })

  it.scopedLive("group previews (opt-in): one message edited as the reply grows, the final replacing it — nothing arrives twice", () =>
    Effect.gen(function* () {
      const tg = yield* fake(() => new FakeTelegram(TOKEN))
      const { conversations } = yield* startHub(adapter(tg, { groupPreviews: true }), {
        config: { channels: { telegram: { streamMode: "partial", textChunkLimit: 600 } } },
        words: 300,
        tokensPerSecond: 200
      })
      tg.pushMessage({ chatId: -100, text: "Explain caching", fromId: 7 })
      const events = yield* runEvents(conversations, "telegram:main:-100")
      const expected = expectedMessages(finalOf(events), Channel.capabilities.telegram, 600)
      expect(expected.length).toBeGreaterThan(1)
      yield* waitUntil("the whole reply", () => tg.sent.length >= expected.length, 10_000)
      yield* Effect.sleep(200)
      expect(tg.drafts).toEqual([]) // no drafts outside private chats
      expect(tg.edits.length).toBeGreaterThan(1) // the preview grew in place
      // What the chat shows in the end is exactly the reply, once: the preview became its first part.
      expect(tg.sent).toHaveLength(expected.length)
      expect(tg.messagesIn(-100)).toEqual(expected.map((html) => (parseHtml(html) as { text: string }).text))
      const squash = (x: string) => x.replace(/\s+/g, "")
      expect(squash(tg.messagesIn(-100).join(""))).toBe(squash(Markdown.toPlain(finalOf(events))))
    }), { timeout: 60_000 })

  it("a stopped_message_generation update becomes a stop of that draft (polling and webhook alike)", () => {
    const req = (body: string) => ({ method: "POST", headers: { "x-telegram-bot-api-secret-token": "s" }, query: new URLSearchParams(), body, now: 0 })
    const update = JSON.stringify({ update_id: 9, stopped_message_generation: { chat: { id: 42, type: "private" }, draft_id: 7 } })
    const r = TelegramChannel.handleWebhook("a", "s", req(update))
    expect(r.status).toBe(200)
    expect(r.messages).toHaveLength(1)
    expect(r.messages[0]).toMatchObject({ chatId: "42", stopDraft: 7 })
    expect(Channel.conversationId(r.messages[0]!)).toBe("telegram:a:42")
    // without a draft id it is not a stop of anything
    const bad = JSON.stringify({ update_id: 10, stopped_message_generation: { chat: { id: 42 } } })
    expect(TelegramChannel.handleWebhook("a", "s", req(bad)).messages).toEqual([])
  })

  it("webhook: the secret token header is required and checked; a malformed update is a 400", () => {
    const req = (headers: Record<string, string>, body: string) => ({ method: "POST", headers, query: new URLSearchParams(), body, now: 0 })
    const update = JSON.stringify({ update_id: 1, message: { message_id: 5, chat: { id: 3, type: "private" }, from: { id: 3 }, text: "hello" } })
    expect(TelegramChannel.handleWebhook("a", "s3cret", req({}, update)).status).toBe(401)
    expect(TelegramChannel.handleWebhook("a", "s3cret", req({ "x-telegram-bot-api-secret-token": "nope" }, update)).status).toBe(401)
    expect(TelegramChannel.handleWebhook("a", "s3cret", req({ "x-telegram-bot-api-secret-token": "s3cret" }, "{nope")).status).toBe(400)
    const ok = TelegramChannel.handleWebhook("a", "s3cret", req({ "x-telegram-bot-api-secret-token": "s3cret" }, update))
    expect(ok.status).toBe(200)
    expect(ok.messages.map((m) => Channel.conversationId(m))).toEqual(["telegram:a:3"])
  })
})

describe("TelegramChannel when the Bot API is unreachable", () => {
  it("backs off exponentially with jitter, capped", () => {
    const b = { initialMs: 1000, maxMs: 60_000 }
    expect([0, 1, 2, 3].map((n) => TelegramChannel.pollDelayMs(n, 0.999999, b))).toEqual([1000, 2000, 4000, 8000])
    expect(TelegramChannel.pollDelayMs(0, 0, b)).toBe(500)
    expect(TelegramChannel.pollDelayMs(20, 0.999999, b)).toBe(60_000)
    expect(TelegramChannel.pollDelayMs(1000, 0, b)).toBe(30_000)
  })

  it.scopedLive("the token never reaches a log line; each failure is one line and the waits grow", () =>
    Effect.gen(function* () {
      const secret = "987654:SECRET-token_value"
      const lines: Array<string> = []
      const logger = Logger.make(({ message, cause }) => {
        const text = [Array.isArray(message) ? message.map(String).join(" ") : String(message), ...(Cause.isEmpty(cause) ? [] : [Cause.pretty(cause)])].join(" ")
        lines.push(text)
      })
      // Nothing listens on this port: every getUpdates fails at the transport.
      const port = yield* Effect.promise(closedPort)
      const tg = yield* TelegramChannel.make({
        accountId: "main",
        token: Redacted.make(secret),
        baseUrl: `http://127.0.0.1:${port}`,
        pollBackoff: { initialMs: 20, maxMs: 200 }
      }).pipe(Effect.provide(FetchHttpClient.layer))
      const started = Date.now()
      yield* tg.inbound.pipe(
        Stream.runDrain,
        Effect.timeout("900 millis"),
        Effect.ignore,
        Effect.provide(Logger.replace(Logger.defaultLogger, logger))
      )
      const elapsed = Date.now() - started
      expect(lines.length).toBeGreaterThanOrEqual(3)
      // 20, 40, 80, 160, 200, 200 … ms (× jitter ≥ 0.5): far fewer than a fixed short retry would make.
      expect(lines.length).toBeLessThan(elapsed / 10)
      for (const l of lines) {
        expect(l).not.toContain(secret)
        expect(l).not.toContain("SECRET")
        expect(l).not.toContain("\n")
        expect(l).toMatch(/^telegram:main getUpdates failed \(unreachable: .*\); retrying in (\d+ ms|\d+\.\d s)$/)
      }
      expect(lines.some((l) => l.includes("<redacted>"))).toBe(true)
    })
  )
})
