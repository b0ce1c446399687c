/**
 * Slack native streaming (`streamMode: "native"`): the real Slack adapter over HTTP against the fake
 * Web API, the delivery on the TestClock, so minutes of a slow reply pass in moments. The fake's
 * clock is the TestClock's, so its 5-minute stream expiry happens in simulated time.
 */
import { FetchHttpClient } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { type ReplyEvent, StreamingSettings } from "@sluice/core"
import { Clock, Effect, Fiber, Queue, Stream, TestClock } from "effect"
import { FakeSlack } from "../fakes/FakeSlack.js"
import { Channel, ChannelDelivery, SlackChannel } from "../src/index.js"
import { pieces } from "../src/internal/nativeStream.js"
import { expectedMessages, fake, finalOf, runEvents, startHub, waitUntil } from "./support/harness.js"

const TOKEN = "xoxb-native"
type Ev = ReplyEvent.ReplyEvent
let seq = 0
const env = () => ({ seq: ++seq, conversationId: "c", runId: "r1", at: 0 })

/** A 9,000-character reply: paragraphs, a list, a code fence and emoji. */
const reply = (chars: number): string => {
  const parts: Array<string> = []
  let i = 0
  while (parts.join("\n\n").length < chars) {
    i++
    parts.push(
      i % 7 === 0
        ? "```ts\nconst cache = new Map<string, number>()\nfor (const k of keys) cache.set(k, k.length)\n```"
        : i % 5 === 0
          ? `- item ${i} 🚀\n- item ${i + 1} 👍🏽\n- **bold** and _italic_`
          : `Paragraph ${i}: canal locks raise and lower boats between stretches of water at different levels, one chamber at a time.`
    )
  }
  return parts.join("\n\n").slice(0, chars)
}

const target = { chatId: "C42", replyTo: "1700000000.000001", recipientId: "U1", teamId: "T1" }

/** Streams `text` as Drafts of `step` characters every `everyMs` of simulated time, then the final. */
const streamReply = (slack: FakeSlack, text: string, step: number, everyMs: number, sync: Effect.Effect<void> = Effect.void) =>
  Effect.gen(function* () {
    const adapter = yield* SlackChannel.make({ accountId: "a", token: TOKEN, baseUrl: slack.url, minIntervalMs: 0 }).pipe(
      Effect.provide(FetchHttpClient.layer)
    )
    const q = yield* Queue.unbounded<Ev>()
    const fiber = yield* ChannelDelivery.deliver(
      { adapter, target, settings: { ...StreamingSettings.defaults, streamMode: "native" } },
      Stream.fromQueue(q).pipe(Stream.takeUntil((e) => e._tag === "RunEnded"))
    ).pipe(Effect.fork)
    // Let the delivery finish what is due (its HTTP calls are real) before time moves on.
    const settle = Effect.promise(() => new Promise((r) => setTimeout(r, 8)))
    yield* q.offer({ _tag: "RunStarted", ...env() })
    for (let at = 0; at < text.length; at += step) {
      yield* q.offer({ _tag: "Draft", offset: at, text: text.slice(at, at + step), ...env() })
      yield* settle
      yield* TestClock.adjust(everyMs)
      yield* sync
      yield* settle
    }
    yield* q.offer({ _tag: "Final", text, ...env() })
    yield* q.offer({ _tag: "RunEnded", reason: "completed", ...env() })
    yield* Fiber.join(fiber)
  })

const simulatedClock = () => {
  let now = 0
  return {
    now: () => now,
    sync: Effect.flatMap(Clock.currentTimeMillis, (t) =>
      Effect.sync(() => {
        now = t
      })
    )
  }
}

describe("Slack native streaming", () => {
  it.scoped("a 9,000-character reply streamed over 6 simulated minutes arrives whole, once, rotated before Slack's 5-minute end", () =>
    Effect.gen(function* () {
      const clock = simulatedClock()
      const slack = yield* fake(() => new FakeSlack(TOKEN, { now: clock.now }))
      const text = reply(9000)
      // 180 steps of 50 characters, one every 2 s: 6 minutes. The fake reads the TestClock's time.
      yield* streamReply(slack, text, 50, 2000, clock.sync)
      expect(slack.streams.length).toBe(2) // rotated at 4 minutes
      expect(slack.streams.map((s) => s.text).join("")).toBe(text) // whole, in order, nothing twice
      expect(slack.streams.every((s) => s.state === "stopped")).toBe(true) // none left to expire
      expect(slack.streams[1]!.startedAt - slack.streams[0]!.startedAt).toBeLessThan(300_000)
      expect(slack.streams.flatMap((s) => s.calls).every((n) => n <= 12_000)).toBe(true)
      // A reply in the thread of the message it answers, to its author (a channel needs the recipient).
      expect(slack.streams.every((s) => s.threadTs === target.replyTo && s.recipientUserId === "U1" && s.recipientTeamId === "T1")).toBe(true)
      expect(slack.posted).toEqual([]) // nothing fell back to ordinary messages
    })
  )

  it.scoped("appends are paced to one a second however fast the model writes (within Tier 4's 100 a minute)", () =>
    Effect.gen(function* () {
      const slack = yield* fake(() => new FakeSlack(TOKEN))
      const text = reply(2000)
      yield* streamReply(slack, text, 20, 100) // 100 Drafts in 10 simulated seconds
      expect(slack.streams.map((s) => s.text).join("")).toBe(text)
      const calls = slack.streams.flatMap((s) => s.calls).length
      expect(calls).toBeGreaterThanOrEqual(9)
      expect(calls).toBeLessThanOrEqual(12) // the start, ~one append a second, the final flush
    })
  )

  it.scoped("a stream Slack ended early (message_not_in_streaming_state) continues in a new one, nothing lost or repeated", () =>
    Effect.gen(function* () {
      const clock = simulatedClock()
      const slack = yield* fake(() => new FakeSlack(TOKEN, { now: clock.now, streamExpiresAfterMs: 50_000 }))
      const text = reply(4000)
      yield* streamReply(slack, text, 40, 2000, clock.sync) // 200 s, streams ending every 50 s
      expect(slack.streams.length).toBeGreaterThanOrEqual(4)
      expect(slack.streams.map((s) => s.text).join("")).toBe(text)
      expect(slack.streams.slice(0, -1).every((s) => s.state === "expired")).toBe(true)
      expect(slack.posted).toEqual([])
    })
  )

  it.scoped("one long burst goes out in calls of at most 12,000 characters", () =>
    Effect.gen(function* () {
      const slack = yield* fake(() => new FakeSlack(TOKEN))
      const text = reply(30_000)
      yield* streamReply(slack, text, 30_000, 1000)
      expect(slack.streams.map((s) => s.text).join("")).toBe(text)
      const calls = slack.streams.flatMap((s) => s.calls)
      expect(calls.length).toBeGreaterThanOrEqual(3)
      expect(calls.every((n) => n <= 12_000)).toBe(true)
    })
  )

  it.scoped("where the workspace lacks the streaming methods, the reply arrives as ordinary messages, whole", () =>
    Effect.gen(function* () {
      const slack = yield* fake(() => new FakeSlack(TOKEN, { nativeStreaming: false }))
      const text = reply(6000)
      yield* streamReply(slack, text, 500, 1000)
      expect(slack.streams).toEqual([])
      expect(slack.posted.map((p) => p.text)).toEqual(expectedMessages(text, Channel.capabilities.slack, 4000))
      expect(slack.posted.every((p) => p.threadTs === target.replyTo)).toBe(true)
    })
  )

  it("pieces: at most `max` each, on grapheme boundaries, joined back to the text", () => {
    const text = "👍🏽".repeat(5000) + "\nline\n".repeat(2000)
    const out = pieces(text, 12_000)
    expect(out.join("")).toBe(text)
    expect(out.every((p) => p.length <= 12_000 && !/^[\udc00-\udfff]/.test(p))).toBe(true)
  })
})

describe("Slack native streaming through the hub", () => {
  it.scopedLive("channels.slack.streamMode native: the reply streams into one message in the user's thread", () =>
    Effect.gen(function* () {
      const slack = yield* fake(() => new FakeSlack(TOKEN))
      const { hub, conversations } = yield* startHub(SlackChannel.make({ accountId: "main", token: TOKEN, baseUrl: slack.url, minIntervalMs: 20 }), {
        config: { channels: { slack: { streamMode: "native" } } },
        words: 200,
        tokensPerSecond: 400
      })
      yield* hub.receive({ channel: "slack", accountId: "main", chatId: "D7", isPrivate: true, messageId: "1700000000.000009", senderId: "U1", text: "hi" })
      const events = yield* runEvents(conversations, "slack:main:D7")
      yield* waitUntil("the stream stopped", () => slack.streams.length > 0 && slack.streams.every((s) => s.state === "stopped"), 10_000)
      expect(slack.streams.map((s) => s.text).join("")).toBe(finalOf(events))
      expect(slack.streams[0]!.threadTs).toBe("1700000000.000009")
      expect(slack.posted).toEqual([])
    })
  )
})
