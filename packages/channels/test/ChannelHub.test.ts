import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { setFlagsFromString } from "node:v8"
import { runInNewContext } from "node:vm"
import { Channel } from "../src/index.js"
import { startHub, waitUntil } from "./support/harness.js"

setFlagsFromString("--expose-gc")
const gc = runInNewContext("gc") as () => void
const heapAfterGc = () => {
  gc()
  gc()
  return process.memoryUsage().heapUsed
}

/** An in-memory Signal-like adapter (no edits, no drafts): each reply is its Final, split to the limit. */
const recorder = (keepFrom?: (chatId: string) => boolean) => {
  const sent = new Map<string, Array<string>>()
  /** Messages per chat, and the chats whose messages differ from chat0's (when not all are kept). */
  const counts = new Map<string, number>()
  let differing = 0
  const adapter: Channel.Adapter = {
    channel: "signal",
    accountId: "a",
    capabilities: { ...Channel.capabilities.signal, edits: false },
    send: (target, text) =>
      Effect.sync(() => {
        const n = (counts.get(target.chatId) ?? 0) + 1
        counts.set(target.chatId, n)
        if (keepFrom === undefined || keepFrom(target.chatId)) {
          const list = sent.get(target.chatId) ?? []
          list.push(text.plain)
          sent.set(target.chatId, list)
        } else if (sent.get("chat0")?.[n - 1] !== text.plain) differing++
        return { messageId: String(n) }
      }),
    inbound: Effect.never as never
  }
  return { adapter, sent, counts, differing: () => differing }
}

const message = (chatId: string, text: string, n = 1): Channel.InboundMessage => ({
  channel: "signal",
  accountId: "a",
  chatId,
  messageId: `${chatId}-${n}`,
  senderId: "u",
  text,
  isPrivate: true
})

describe("ChannelHub deliveries", () => {
  it.live("10,000 chats that come and go: every reply delivered once, no delivery left, heap flat", () =>
    Effect.gen(function* () {
      // Only chat0's texts are kept (the others are compared with them), so the test's own
      // bookkeeping is a counter per chat.
      const { adapter, sent, counts, differing } = recorder((chat) => chat === "chat0")
      const { hub } = yield* startHub(Effect.succeed(adapter), { words: 20, idleTimeToLive: "50 millis" })
      const wave = (from: number, count: number) =>
        Effect.forEach(
          Array.from({ length: count }, (_, i) => from + i),
          (i) => hub.receive(message(`chat${i}`, "hello there")),
          { concurrency: 200, discard: true }
        )
      const settle = (n: number) =>
        Effect.gen(function* () {
          yield* waitUntil("every chat answered", () => counts.size >= n && hub.deliveries() === 0, 60_000)
          yield* Effect.sleep("150 millis") // past idleTimeToLive: the actors passivate
        })
      yield* wave(0, 1000)
      yield* settle(1000)
      const before = heapAfterGc()
      for (let w = 1; w < 10; w++) {
        yield* wave(w * 1000, 1000)
        yield* settle((w + 1) * 1000)
      }
      const after = heapAfterGc()
      const first = sent.get("chat0")!
      expect(first.length).toBeGreaterThan(0)
      expect(counts.size).toBe(10_000)
      for (const [, n] of counts) expect(n).toBe(first.length)
      expect(differing()).toBe(0)
      expect(hub.deliveries()).toBe(0)
      // 9,000 more conversations after the first thousand: a held actor, subscription and fiber
      // per chat would be tens of MB; what stays is the test's counter per chat (~100 bytes).
      expect((after - before) / 1024 / 1024).toBeLessThan(6)
    }).pipe(Effect.scoped), { timeout: 180_000 })

  it.live("a message while the reply runs, and one after it ended: each answered once, in order", () =>
    Effect.gen(function* () {
      const { adapter, sent } = recorder()
      const { hub } = yield* startHub(Effect.succeed(adapter), { words: 30, tokensPerSecond: 300, idleTimeToLive: "50 millis" })
      yield* hub.receive(message("c", "first question", 1))
      yield* hub.receive(message("c", "second question", 2)) // queued behind the running reply
      yield* waitUntil("two replies", () => (sent.get("c")?.length ?? 0) >= 2 && hub.deliveries() === 0, 20_000)
      yield* Effect.sleep("150 millis")
      yield* hub.receive(message("c", "third question", 3)) // the delivery had ended: a new one
      yield* waitUntil("three replies", () => (sent.get("c")?.length ?? 0) >= 3 && hub.deliveries() === 0, 20_000)
      yield* Effect.sleep("300 millis") // nothing more comes
      const replies = sent.get("c")!
      expect(replies.length).toBe(3)
      expect(replies[0]).toMatch(/first question/i)
      expect(replies[1]).toMatch(/second question/i)
      expect(replies[2]).toMatch(/third question/i)
    }).pipe(Effect.scoped), { timeout: 60_000 })

  it.live("the same platform message received twice (webhook retry, poll restarted at an old offset) is answered once", () =>
    Effect.gen(function* () {
      const { adapter, sent } = recorder()
      const { hub, conversations } = yield* startHub(Effect.succeed(adapter), { words: 20, idleTimeToLive: "50 millis" })
      const first = yield* hub.receive(message("c", "only once please", 7))
      yield* waitUntil("the reply", () => (sent.get("c")?.length ?? 0) >= 1 && hub.deliveries() === 0, 20_000)
      yield* Effect.sleep("150 millis") // the delivery ended and the conversation passivated
      const again = yield* hub.receive(message("c", "only once please", 7))
      const during = yield* Effect.all([hub.receive(message("c", "and this one", 8)), hub.receive(message("c", "and this one", 8))])
      yield* waitUntil("the second reply", () => (sent.get("c")?.length ?? 0) >= 2 && hub.deliveries() === 0, 20_000)
      yield* Effect.sleep("300 millis")
      expect(again).toMatchObject({ duplicate: true, seq: first!.seq, messageId: first!.messageId })
      expect(during.filter((a) => a?.duplicate === true).length).toBe(1)
      expect(sent.get("c")!.length).toBe(2)
      const users = (yield* conversations.history("signal:a:c")).filter((m) => m.role === "user")
      expect(users.map((m) => m.text)).toEqual(["only once please", "and this one"])
    }).pipe(Effect.scoped), { timeout: 60_000 })

  it.live("/stop from the chat stops the running reply: its text so far arrives, marked stopped, and nothing more", () =>
    Effect.gen(function* () {
      const { adapter, sent } = recorder()
      const { hub, conversations } = yield* startHub(Effect.succeed(adapter), { words: 400, tokensPerSecond: 100 })
      expect(yield* hub.receive(message("s", "/stop", 1))).toBeUndefined()
      yield* waitUntil("the idle answer", () => (sent.get("s")?.length ?? 0) >= 1, 5_000)
      expect(sent.get("s")).toEqual(["Nothing is running."])
      yield* hub.receive(message("s", "tell me a long story", 2))
      yield* Effect.sleep("1 second") // the reply is being written (about 4 s in all)
      yield* hub.receive(message("s", "/stop@sluice_bot", 3))
      yield* waitUntil("the stopped reply delivered", () => hub.deliveries() === 0 && (sent.get("s")?.length ?? 0) >= 3, 20_000)
      yield* Effect.sleep("300 millis")
      const history = yield* conversations.history("signal:a:s")
      // The command itself never reached the model or the history.
      expect(history.map((m) => m.role)).toEqual(["user", "assistant"])
      expect(history[1]).toMatchObject({ status: "interrupted" })
      const texts = sent.get("s")!
      expect(texts).toContain("Stopped.")
      const reply = texts.filter((t) => t !== "Stopped." && t !== "Nothing is running.").join("\n")
      expect(reply.length).toBeGreaterThan(0)
      // Far less than the whole 400-word answer (~4 s at 100 tokens/s): it stopped.
      expect(reply.split(/\s+/).length).toBeLessThan(300)
    }).pipe(Effect.scoped), { timeout: 60_000 })
})
