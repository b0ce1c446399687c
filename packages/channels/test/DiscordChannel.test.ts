import { describe, expect, it } from "@effect/vitest"
import { Effect, Logger } from "effect"
import { FakeDiscord } from "../fakes/FakeDiscord.js"
import { Channel, DiscordChannel } from "../src/index.js"
import { expectedMessages, fake, finalOf, runEvents, startHub, waitUntil } from "./support/harness.js"

const TOKEN = "MTA.fake.token"
const adapter = (d: FakeDiscord) =>
  DiscordChannel.make({ accountId: "guildbot", token: TOKEN, baseUrl: d.url, gatewayUrl: d.gatewayUrl, reconnectMs: 20 })

describe("DiscordChannel end to end (Gateway WebSocket → Conversations → scripted model → fake REST)", () => {
  it.scopedLive("MESSAGE_CREATE is answered within 2000 chars and 17 lines, paced by the rate-limit headers, through a 429 storm, without duplicates", () =>
    Effect.gen(function* () {
      const d = yield* fake(() => new FakeDiscord(TOKEN, { bucketSize: 2, bucketResetMs: 100, heartbeatMs: 50 }))
      const { conversations } = yield* startHub(adapter(d), { words: 500 })
      yield* waitUntil("identified", () => d.identifies === 1)
      d.rateLimitNext(3, 0.05)
      d.userMessage("5001", "Write a detailed guide to sourdough baking", { guildId: "9" })
      const events = yield* runEvents(conversations, "discord:guildbot:5001")
      const expected = expectedMessages(finalOf(events), Channel.capabilities.discord, 2000)
      expect(expected.length).toBeGreaterThan(1)
      yield* waitUntil("messages", () => d.created.length >= expected.length)
      yield* Effect.sleep(150)
      expect(d.created.map((m) => m.content)).toEqual(expected)
      expect(d.created.every((m) => m.content.length <= 2000 && m.content.split("\n").length <= 17)).toBe(true)
      expect(new Set(d.created.map((m) => m.nonce)).size).toBe(d.created.length)
      expect(d.ops).toContain(1) // heartbeats were sent
    })
  )

  it.scopedLive("streamMode partial: one message edited as the reply grows, through a 429 storm; the final replaces it", () =>
    Effect.gen(function* () {
      const d = yield* fake(() => new FakeDiscord(TOKEN, { bucketSize: 5, bucketResetMs: 50, heartbeatMs: 50 }))
      const { conversations } = yield* startHub(adapter(d), {
        config: { channels: { discord: { streamMode: "partial" } } },
        words: 400,
        tokensPerSecond: 600
      })
      yield* waitUntil("identified", () => d.identifies === 1)
      d.rateLimitNext(2, 0.05)
      d.userMessage("5002", "Explain rate limits", { guildId: "9" })
      const events = yield* runEvents(conversations, "discord:guildbot:5002")
      const expected = expectedMessages(finalOf(events), Channel.capabilities.discord, 2000)
      expect(expected.length).toBeGreaterThan(1)
      yield* waitUntil("final parts", () => d.created.length >= expected.length && d.created[0]!.content === expected[0])
      yield* Effect.sleep(150)
      expect(d.created.map((m) => m.content)).toEqual(expected)
      expect(d.created[0]!.versions.length).toBeGreaterThan(2)
      expect(d.created.slice(1).every((m) => m.versions.length === 1)).toBe(true)
      expect(d.calls.filter((c) => c === "editMessage").length).toBeGreaterThanOrEqual(d.created[0]!.versions.length - 1)
    })
  )

  it.scopedLive("after a dropped connection the client resumes and gets the message it missed", () =>
    Effect.gen(function* () {
      const d = yield* fake(() => new FakeDiscord(TOKEN))
      const { conversations } = yield* startHub(adapter(d))
      yield* waitUntil("identified", () => d.identifies === 1 && d.connected)
      d.dropConnection()
      d.userMessage("6001", "Are you there?") // dispatched while disconnected: replayed on resume
      yield* waitUntil("resumed", () => d.resumes === 1)
      const events = yield* runEvents(conversations, "discord:guildbot:6001")
      const expected = expectedMessages(finalOf(events), Channel.capabilities.discord, 2000)
      yield* waitUntil("reply", () => d.created.length >= expected.length)
      expect(d.created.map((m) => m.content)).toEqual(expected)
      expect(d.identifies).toBe(1)
    })
  )
  it.scopedLive("a connection that goes silent (no heartbeat ACK) is detected and resumed; the message sent meanwhile is answered", () =>
    Effect.gen(function* () {
      const d = yield* fake(() => new FakeDiscord(TOKEN, { heartbeatMs: 40 }))
      const { conversations } = yield* startHub(adapter(d))
      yield* waitUntil("identified", () => d.identifies === 1 && d.connected)
      d.goSilent()
      d.userMessage("6101", "Still there?") // held while silent, replayed on resume
      yield* waitUntil("resumed", () => d.resumes === 1)
      const events = yield* runEvents(conversations, "discord:guildbot:6101")
      const expected = expectedMessages(finalOf(events), Channel.capabilities.discord, 2000)
      yield* waitUntil("reply", () => d.created.length >= expected.length)
      expect(d.created.map((m) => m.content)).toEqual(expected)
      expect(d.identifies).toBe(1)
    })
  )

  it.scopedLive("failed reconnects back off exponentially with jitter, one log line each, no token in any line", () =>
    Effect.gen(function* () {
      const lines: Array<string> = []
      const logger = Logger.make(({ message }) => {
        lines.push(Array.isArray(message) ? message.map(String).join(" ") : String(message))
      })
      const d = yield* fake(() => new FakeDiscord(TOKEN))
      yield* startHub(adapter(d)).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
      yield* waitUntil("identified", () => d.identifies === 1 && d.connected)
      d.failNextConnections(4)
      d.dropConnection()
      yield* waitUntil("resumed", () => d.resumes === 1)
      const delays = lines.flatMap((l) => {
        const m = /reconnecting in (\d+) ms/.exec(l)
        return m === null ? [] : [Number(m[1])]
      })
      // 1 drop + 4 refused connections: 5 lines; each delay is in [0.5, 1) · 20 ms · 2^n, so they strictly grow
      expect(delays).toHaveLength(5)
      for (let i = 1; i < delays.length; i++) expect(delays[i]!).toBeGreaterThan(delays[i - 1]!)
      expect(delays[4]!).toBeGreaterThanOrEqual(160)
      expect(d.connections).toBe(6)
      expect(lines.every((l) => !l.includes(TOKEN))).toBe(true)
    })
  )
})
