import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { FakeSignal } from "../fakes/FakeSignal.js"
import { Channel, SignalChannel } from "../src/index.js"
import { blocksOf, expectedMessages, fake, finalOf, runEvents, startHub, waitUntil } from "./support/harness.js"

describe("SignalChannel end to end (SSE events → Conversations → scripted model → fake signal-cli JSON-RPC)", () => {
  it.scopedLive("a direct message is answered with plain text within 2 KiB parts, through a rate-limit storm", () =>
    Effect.gen(function* () {
      const sig = yield* fake(() => new FakeSignal("+15550009999"))
      const { conversations } = yield* startHub(SignalChannel.make({ accountId: "me", baseUrl: sig.url, reconnectMs: 50 }), {
        config: { channels: { signal: { textChunkLimit: 400 } } }
      })
      yield* waitUntil("event stream connected", () => sig.subscriberCount > 0)
      sig.rateLimitNext(3, 0.05)
      sig.receive("+15551230000", "Plan a birthday party for ten people")
      const events = yield* runEvents(conversations, "signal:me:+15551230000")
      // (rendered once, in Signal's plain dialect: plain text parsed again as Markdown would lose code indentation)
      const expected = expectedMessages(finalOf(events), Channel.capabilities.signal, 400)
      expect(expected.length).toBeGreaterThan(1)
      yield* waitUntil("messages", () => sig.sent.length >= expected.length)
      yield* Effect.sleep(100)
      expect(sig.sent.map((m) => [m.recipient, m.message])).toEqual(expected.map((e) => ["+15551230000", e]))
      expect(sig.sent.every((m) => !m.message.includes("**") && !m.message.includes("```"))).toBe(true)
      expect(sig.calls.length).toBe(expected.length + 3)
    })
  )

  it.scopedLive("group messages become their own conversation; block streaming delivers blocks, no final repeat", () =>
    Effect.gen(function* () {
      const sig = yield* fake(() => new FakeSignal("+15550009999"))
      const { conversations } = yield* startHub(SignalChannel.make({ accountId: "me", baseUrl: sig.url, reconnectMs: 50 }), {
        config: { channels: { signal: { blockStreaming: true } } },
        words: 300
      })
      yield* waitUntil("event stream connected", () => sig.subscriberCount > 0)
      sig.receive("+15551230000", "Ideas for a team offsite", "R3JvdXBJZA==")
      const events = yield* runEvents(conversations, "signal:me:group:R3JvdXBJZA==")
      const expected = blocksOf(events).flatMap((b) => expectedMessages(b, Channel.capabilities.signal, 4000))
      expect(expected.length).toBeGreaterThan(1)
      yield* waitUntil("block messages", () => sig.sent.length >= expected.length)
      yield* Effect.sleep(150)
      expect(sig.sent.map((m) => [m.groupId, m.message])).toEqual(expected.map((e) => ["R3JvdXBJZA==", e]))
    })
  )
})
