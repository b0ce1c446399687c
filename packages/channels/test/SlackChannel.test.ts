import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { FakeSlack } from "../fakes/FakeSlack.js"
import { Channel, SlackChannel } from "../src/index.js"
import { expectedMessages, fake, finalOf, runEvents, startHub, waitUntil } from "./support/harness.js"

const TOKEN = "xoxb-test"
const adapter = (slack: FakeSlack) => SlackChannel.make({ accountId: "main", token: TOKEN, baseUrl: slack.url, minIntervalMs: 20 })
const inbound = (text: string) => ({
  channel: "slack" as const,
  accountId: "main",
  chatId: "C42",
  messageId: "1700000000.000001",
  senderId: "U1",
  text
})

describe("SlackChannel end to end (inbound → Conversations → scripted model → fake Web API)", () => {
  it.scopedLive("streamMode partial: one message is posted and edited while the reply streams, then holds the final's first part", () =>
    Effect.gen(function* () {
      const slack = yield* fake(() => new FakeSlack(TOKEN))
      const { hub, conversations } = yield* startHub(adapter(slack), {
        config: { channels: { slack: { streamMode: "partial", textChunkLimit: 600 } } },
        words: 220,
        tokensPerSecond: 400
      })
      yield* hub.receive(inbound("Explain backpressure"))
      const events = yield* runEvents(conversations, "slack:main:C42")
      const expected = expectedMessages(finalOf(events), Channel.capabilities.slack, 600)
      expect(expected.length).toBeGreaterThan(1)
      yield* waitUntil("final parts", () => slack.posted.length >= expected.length && slack.posted[0]!.text === expected[0])
      yield* Effect.sleep(150)
      // what the channel shows in the end: exactly the reply, split to the limit, nothing twice
      expect(slack.posted.map((m) => m.text)).toEqual(expected)
      // the first message was a live preview first: several versions before the final text
      const preview = slack.posted[0]!.versions
      expect(preview.length).toBeGreaterThan(2)
      // (a preview taken just as the reply reached the end of part 1 may equal it: that is fine)
      expect(preview[0]).not.toBe(expected[0])
      expect(new Set(preview.slice(0, -1)).size).toBeGreaterThan(1)
      expect(slack.posted.slice(1).every((m) => m.versions.length === 1)).toBe(true)
      expect(slack.calls.filter((c) => c === "chat.update").length).toBe(preview.length - 1)
    })
  )

  it.scopedLive("without streamMode (the default) the reply is posted once, as whole messages, never edited", () =>
    Effect.gen(function* () {
      const slack = yield* fake(() => new FakeSlack(TOKEN))
      const { hub, conversations } = yield* startHub(adapter(slack), { words: 60, tokensPerSecond: 400 })
      yield* hub.receive(inbound("hi"))
      const events = yield* runEvents(conversations, "slack:main:C42")
      const expected = expectedMessages(finalOf(events), Channel.capabilities.slack, 4000)
      yield* waitUntil("reply", () => slack.posted.length >= expected.length)
      yield* Effect.sleep(100)
      expect(slack.posted.map((m) => m.text)).toEqual(expected)
      expect(slack.calls).not.toContain("chat.update")
    })
  )
})
