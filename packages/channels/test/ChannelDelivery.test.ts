import { describe, expect, it } from "@effect/vitest"
import { type ReplyEvent, StreamingSettings } from "@sluice/core"
import { Clock, Effect, Fiber, Queue, Stream, TestClock } from "effect"
import { Channel, ChannelDelivery, RateLimiter } from "../src/index.js"

type Ev = ReplyEvent.ReplyEvent
let seq = 0
const env = () => ({ seq: ++seq, conversationId: "c", runId: "r1", at: 0 })
const started = (): Ev => {
  drafted = ""
  return { _tag: "RunStarted", ...env() }
}
const block = (text: string, index = 0): Ev => ({ _tag: "Block", index, text, ...env() })
/** A Draft that grows the visible reply to `full` (Drafts carry only the new text, at an offset). */
let drafted = ""
const draft = (full: string): Ev => {
  const offset = full.startsWith(drafted) ? drafted.length : 0
  drafted = full
  return { _tag: "Draft", offset, text: full.slice(offset), ...env() }
}
const final = (text: string): Ev => ({ _tag: "Final", text, ...env() })
const ended = (): Ev => ({ _tag: "RunEnded", reason: "completed", ...env() })

const recorder = (caps: Partial<Channel.Capabilities> = {}, failOn?: (text: string) => boolean) => {
  const sent: Array<string> = []
  const drafts: Array<{ at: number; text: string }> = []
  const adapter: Channel.Adapter = {
    channel: "telegram",
    accountId: "a",
    capabilities: { ...Channel.capabilities.telegram, dialect: "plain", ...caps },
    send: (_t, text) =>
      failOn?.(text.plain) === true
        ? Effect.fail(new Channel.ChannelError({ channel: "telegram", method: "sendMessage", status: 500, description: "boom" }))
        : Effect.sync(() => {
            sent.push(text.plain)
            return { messageId: String(sent.length) }
          }),
    sendDraft: (_t, _id, text) => Effect.flatMap(Clock.currentTimeMillis, (at) => Effect.sync(() => drafts.push({ at, text }))),
    inbound: Stream.empty
  }
  return { adapter, sent, drafts }
}
const settings = (over: Partial<StreamingSettings.StreamingSettings> = {}): StreamingSettings.StreamingSettings => ({
  ...StreamingSettings.defaults,
  ...over
})
const run = (r: ReturnType<typeof recorder>, s: StreamingSettings.StreamingSettings, events: ReadonlyArray<Ev>, isPrivate = false) =>
  ChannelDelivery.deliver({ adapter: r.adapter, target: { chatId: "1", isPrivate }, settings: s }, Stream.fromIterable(events))

describe("ChannelDelivery", () => {
  it.effect("block streaming: blocks go out, the final that repeats them does not (#70921)", () =>
    Effect.gen(function* () {
      const r = recorder()
      yield* run(r, settings(), [started(), block("First paragraph."), block("```ts\nconst a = 1\n```"), block("```ts\nconst b = 2\n```\n\nEnd."), final("First paragraph.\n\n```ts\nconst a = 1\nconst b = 2\n```\n\nEnd."), ended()])
      expect(r.sent).toEqual(["First paragraph.", "const a = 1", "const b = 2\n\nEnd."])
    })
  )

  it.effect("a final that goes on past the blocks sends only the missing tail (#102578)", () =>
    Effect.gen(function* () {
      const r = recorder()
      yield* run(r, settings(), [started(), block("One."), final("One.\n\nTwo, the tail."), ended()])
      expect(r.sent).toEqual(["One.", "Two, the tail."])
    })
  )

  it.effect("block streaming off: only the final, split to the channel limit", () =>
    Effect.gen(function* () {
      const r = recorder({ textChunkLimit: 20 })
      yield* run(r, settings({ blockStreaming: false }), [started(), block("aaaa bbbb"), final("aaaa bbbb cccc dddd eeee ffff"), ended()])
      expect(r.sent).toEqual(["aaaa bbbb cccc dddd", "eeee ffff"])
    })
  )

  it.effect("rollback after a delivered block: one notice, then the new attempt; the final is not resent", () =>
    Effect.gen(function* () {
      const r = recorder()
      const b1 = block("Attempt one says hi.")
      const rollback: Ev = { _tag: "Rollback", discardFromSeq: b1.seq, attempt: 2, reason: "overloaded", ...env() }
      yield* run(r, settings(), [started(), b1, rollback, block("Attempt two."), final("Attempt two."), ended()])
      expect(r.sent).toEqual(["Attempt one says hi.", ChannelDelivery.ROLLBACK_NOTICE, "Attempt two."])
    })
  )

  it.effect("rollback before anything was delivered: nothing said, the final goes out once", () =>
    Effect.gen(function* () {
      const r = recorder()
      const rollback: Ev = { _tag: "Rollback", discardFromSeq: seq + 2, attempt: 2, reason: "overloaded", ...env() }
      yield* run(r, settings({ blockStreaming: false }), [started(), rollback, final("Clean answer."), ended()])
      expect(r.sent).toEqual(["Clean answer."])
    })
  )

  it.effect("an error becomes one short message", () =>
    Effect.gen(function* () {
      const r = recorder()
      const err: Ev = { _tag: "Error", error: { tag: "Overloaded", message: "The model is overloaded" }, ...env() }
      yield* run(r, settings(), [started(), err, ended()])
      expect(r.sent).toEqual([ChannelDelivery.errorNotice("The model is overloaded")])
    })
  )

  it.effect("a failed send does not skip the remaining blocks", () =>
    Effect.gen(function* () {
      const r = recorder({}, (t) => t === "two")
      yield* run(r, settings(), [started(), block("one"), block("two"), block("three"), final("one two three"), ended()])
      expect(r.sent).toEqual(["one", "three"])
    })
  )

  it.effect("Telegram partial drafts in a private chat: latest text, spaced by the draft interval; blocks off; final as a message", () =>
    Effect.gen(function* () {
      const r = recorder()
      const q = yield* Queue.unbounded<Ev>()
      const s = settings({ streamMode: "partial" })
      const fiber = yield* ChannelDelivery.deliver(
        { adapter: r.adapter, target: { chatId: "1", isPrivate: true }, settings: s, draftIntervalMs: 1000 },
        Stream.fromQueue(q).pipe(Stream.takeUntil((e) => e._tag === "RunEnded"))
      ).pipe(Effect.fork)
      yield* q.offer(started())
      yield* q.offer(draft("He"))
      yield* q.offer(draft("Hello"))
      yield* TestClock.adjust(1000)
      yield* q.offer(draft("Hello wor"))
      yield* q.offer(block("Hello world"))
      yield* TestClock.adjust(0)
      yield* q.offer(final("Hello world"))
      yield* q.offer(ended())
      yield* Fiber.join(fiber)
      expect(r.drafts).toEqual([
        { at: 0, text: "He" },
        { at: 1000, text: "Hello wor" }
      ])
      expect(r.sent).toEqual(["Hello world"])
    })
  )
})

describe("RateLimiter", () => {
  it.effect("spaces sends per chat, waits the advertised time on 429, keeps order, no duplicates", () =>
    Effect.gen(function* () {
      const limiter = yield* RateLimiter.make({ minIntervalMs: 1000 })
      const log: Array<[string, number]> = []
      let limitedOnce = false
      const send = (key: string, label: string) =>
        limiter.run(
          key,
          Effect.flatMap(Clock.currentTimeMillis, (now) => {
            if (label === "b" && !limitedOnce) {
              limitedOnce = true
              return Effect.fail(new Channel.RateLimited({ channel: "t", retryAfterMs: 5000 }))
            }
            log.push([label, now])
            return Effect.void
          })
        )
      const fiber = yield* Effect.all([send("chat1", "a"), send("chat1", "b"), send("chat1", "c"), send("chat2", "x")], { concurrency: "unbounded" }).pipe(Effect.fork)
      yield* TestClock.adjust(10_000)
      yield* Fiber.join(fiber)
      expect(log).toEqual([
        ["a", 0],
        ["x", 0],
        ["b", 6000],
        ["c", 7000]
      ])
    })
  )

  it.effect("gives up with a ChannelError after maxRetries 429s", () =>
    Effect.gen(function* () {
      const limiter = yield* RateLimiter.make({ minIntervalMs: 0, maxRetries: 2 })
      const fiber = yield* limiter.run("k", Effect.fail(new Channel.RateLimited({ channel: "t", retryAfterMs: 10 }))).pipe(Effect.flip, Effect.fork)
      yield* TestClock.adjust(1000)
      const e = yield* Fiber.join(fiber)
      expect(e._tag).toBe("ChannelError")
    })
  )
})
