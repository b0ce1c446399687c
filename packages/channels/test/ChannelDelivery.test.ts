import { describe, expect, it } from "@effect/vitest"
import { type ReplyEvent, StreamingSettings } from "@sluice/core"
import fc from "fast-check"
import { Clock, Effect, Fiber, Queue, Stream, TestClock } from "effect"
import { Channel, ChannelDelivery, Markdown, OutboundSplitter, RateLimiter } from "../src/index.js"

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
  const formatted: Array<string> = []
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
            formatted.push(text.formatted)
            return { messageId: String(sent.length) }
          }),
    sendDraft: (_t, _id, text) => Effect.flatMap(Clock.currentTimeMillis, (at) => Effect.sync(() => drafts.push({ at, text: text.formatted }))),
    inbound: Stream.empty
  }
  return { adapter: adapter as Channel.Adapter, sent, formatted, drafts }
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

  it.effect("Telegram drafts: the placeholder with the stop button first, then a slow model's draft is re-shown before it expires (~30 s) until the final", () =>
    Effect.gen(function* () {
      const r = recorder()
      const ids: Array<number> = []
      const live: Array<number | undefined> = []
      r.adapter = {
        ...r.adapter,
        sendDraft: (_t, id, text) =>
          Effect.flatMap(Clock.currentTimeMillis, (at) =>
            Effect.sync(() => {
              ids.push(id)
              r.drafts.push({ at, text: text.formatted })
            })
          )
      }
      const q = yield* Queue.unbounded<Ev>()
      let next = 40
      const fiber = yield* ChannelDelivery.deliver(
        {
          adapter: r.adapter,
          target: { chatId: "1", isPrivate: true },
          settings: settings({ streamMode: "partial" }),
          draftIntervalMs: 1000,
          nextDraftId: () => ++next,
          onDraft: (id) => live.push(id)
        },
        Stream.fromQueue(q).pipe(Stream.takeUntil((e) => e._tag === "RunEnded"))
      ).pipe(Effect.fork)
      yield* q.offer(started())
      yield* TestClock.adjust(0)
      yield* q.offer(draft("Let me think"))
      yield* TestClock.adjust(0)
      // the model goes quiet for 70 s
      for (let t = 0; t < 70; t++) yield* TestClock.adjust(1000)
      yield* q.offer(draft("Let me think about it."))
      yield* TestClock.adjust(1000)
      yield* q.offer(final("Let me think about it."))
      yield* q.offer(ended())
      yield* Fiber.join(fiber)
      // placeholder at once, the text, then the same text again every 20 s while nothing new came
      expect(r.drafts[0]).toEqual({ at: 0, text: "" })
      expect(r.drafts.slice(1).map((d) => d.text)).toEqual(["Let me think", "Let me think", "Let me think", "Let me think", "Let me think about it."])
      const gaps = r.drafts.slice(1).map((d, i, all) => (i === 0 ? 0 : d.at - all[i - 1]!.at))
      expect(Math.max(...gaps)).toBeLessThan(30_000) // never long enough to expire
      expect(new Set(ids)).toEqual(new Set([41])) // one draft id: updates animate, never replace
      expect(live).toEqual([41, undefined]) // the hub knows which draft a stop press belongs to, until the final
      expect(r.sent).toEqual(["Let me think about it."])
      // and nothing is refreshed after the final
      const n = r.drafts.length
      yield* TestClock.adjust(60_000)
      expect(r.drafts.length).toBe(n)
    })
  )

  it.effect("edit previews are spaced by the channel's edit interval (Telegram groups: 3 s, within ~20 messages a minute)", () =>
    Effect.gen(function* () {
      const edits: Array<number> = []
      const r = recorder({ editIntervalMs: 3000 })
      r.adapter = { ...r.adapter, sendDraft: undefined, edit: () => Effect.flatMap(Clock.currentTimeMillis, (at) => Effect.sync(() => edits.push(at))) }
      const q = yield* Queue.unbounded<Ev>()
      const fiber = yield* ChannelDelivery.deliver(
        { adapter: r.adapter, target: { chatId: "-1" }, settings: settings({ streamMode: "partial" }) },
        Stream.fromQueue(q).pipe(Stream.takeUntil((e) => e._tag === "RunEnded"))
      ).pipe(Effect.fork)
      yield* q.offer(started())
      let text = ""
      for (let i = 0; i < 100; i++) {
        text += `word${i} `
        yield* q.offer(draft(text))
        yield* TestClock.adjust(200)
      }
      yield* q.offer(final(text))
      yield* q.offer(ended())
      yield* Fiber.join(fiber)
      const previews = edits.slice(0, -1) // the last edit is the final replacing the preview
      expect(previews.length).toBeGreaterThan(3)
      for (let i = 1; i < previews.length; i++) expect(previews[i]! - previews[i - 1]!).toBeGreaterThanOrEqual(3000)
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
        { at: 0, text: "" }, // the "Thinking…" placeholder with the stop button
        { at: 0, text: "He" },
        { at: 1000, text: "Hello wor" }
      ])
      expect(r.sent).toEqual(["Hello world"])
    })
  )

  it.effect("a draft longer than the bubble shows its newest text, cut on a grapheme boundary (no lone surrogate, 👍🏽 whole)", () =>
    Effect.gen(function* () {
      const seg = new Intl.Segmenter(undefined, { granularity: "grapheme" })
      for (const unit of ["🚀", "👍🏽", "🇩🇪"]) {
        const r = recorder()
        const long = unit.repeat(Math.ceil(9000 / unit.length) + 1) // odd offset against the 4096 cap
        yield* run(r, settings({ streamMode: "partial" }), [started(), draft(long), final(long), ended()], true)
        expect(r.drafts.map((d) => d.text === "")).toEqual([true, false]) // placeholder, then the text
        const shown = r.drafts[1]!.text
        expect(shown.length).toBeLessThanOrEqual(4096)
        expect(shown.length).toBeGreaterThan(4096 - 2 * unit.length)
        expect(shown.startsWith("…")).toBe(true)
        // every grapheme after the ellipsis is the whole unit
        const gs = Array.from(seg.segment(shown.slice(1)), (g) => g.segment)
        expect(gs.every((g) => g === unit)).toBe(true)
        // the final: every unit whole, nothing lost
        expect(r.sent.join("")).toBe(long)
        for (const part of r.sent) expect(Array.from(seg.segment(part), (g) => g.segment).every((g) => g === unit)).toBe(true)
      }
    })
  )

  it.effect("a long draft whose newest text is inside a code fence still renders as code, like the final", () =>
    Effect.gen(function* () {
      const r = recorder({ dialect: "telegram-html" })
      const code = Array.from({ length: 400 }, (_, i) => `const line${i} = ${i} // a < b`).join("\n")
      const reply = "Intro **text**.\n\n```ts\n" + code + "\n```"
      yield* run(r, settings({ streamMode: "partial" }), [started(), draft(reply.slice(0, -4)), final(reply), ended()], true)
      expect(r.drafts.map((d) => d.text === "")).toEqual([true, false])
      const shown = r.drafts[1]!.text
      expect(shown.startsWith('…\n<pre><code class="language-ts">')).toBe(true)
      expect(shown.endsWith("const line399 = 399 // a &lt; b</code></pre>")).toBe(true)
      expect(shown).not.toContain("```")
    })
  )

  it.effect("limits hold on what is sent: a Slack reply of HTML in a fence, escaped to entities, stays within 4,000 per message", () =>
    Effect.gen(function* () {
      const r = recorder({ ...Channel.capabilities.slack })
      const html = Array.from({ length: 300 }, (_, i) => `<div class="row">${i} &amp; <b>bold</b></div>`).join("\n")
      const reply = "Here is the page:\n\n```html\n" + html + "\n```\n\nDone."
      yield* run(r, settings({ blockStreaming: false }), [started(), final(reply), ended()])
      expect(r.formatted.length).toBeGreaterThan(1)
      for (const m of r.formatted) expect(m.length).toBeLessThanOrEqual(4000)
      // nothing lost: the plain parts still carry every row, in order
      const rows = r.sent.join("\n").match(/<div class="row">\d+/g) ?? []
      expect(rows).toEqual(Array.from({ length: 300 }, (_, i) => `<div class="row">${i}`))
    })
  )

  it("limits hold after rendering for every dialect (property)", () =>
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom("a & b", "<x>", "[link](https://example.com/a/long/path)", "**b**", "`c`", "word", "\n", "\n\n", "```\n<p>&</p>\n```"), { minLength: 1, maxLength: 400 }),
        fc.constantFrom(...(Object.keys(Channel.capabilities) as Array<keyof typeof Channel.capabilities>)),
        fc.integer({ min: 40, max: 300 }),
        (pieces, channel, textChunkLimit) => {
          const caps = { ...Channel.capabilities[channel], textChunkLimit }
          const r = recorder(caps)
          Effect.runSync(run(r, settings({ blockStreaming: false }), [started(), final(pieces.join(" ")), ended()]))
          for (let i = 0; i < r.formatted.length; i++) {
            const counted = caps.dialect.startsWith("telegram") ? r.sent[i]! : r.formatted[i]!
            expect(counted.length).toBeLessThanOrEqual(textChunkLimit)
          }
        }
      ),
      { numRuns: 200 }
    ))
})

describe("ChannelDelivery edit previews (Slack-style chat.update)", () => {
  /** An editing channel: every message with each text it showed. */
  const editor = (failEdit?: (text: string) => boolean, caps: Partial<Channel.Capabilities> = {}) => {
    const messages: Array<{ id: string; versions: Array<string>; at: Array<number> }> = []
    const adapter: Channel.Adapter = {
      channel: "slack",
      accountId: "a",
      capabilities: { ...Channel.capabilities.slack, dialect: "plain", ...caps },
      send: (_t, text) =>
        Effect.flatMap(Clock.currentTimeMillis, (at) =>
          Effect.sync(() => {
            messages.push({ id: String(messages.length + 1), versions: [text.plain], at: [at] })
            return { messageId: String(messages.length) }
          })
        ),
      edit: (_t, id, text) =>
        failEdit?.(text.plain) === true
          ? Effect.fail(new Channel.ChannelError({ channel: "slack", method: "chat.update", status: 200, description: "cant_update_message" }))
          : Effect.flatMap(Clock.currentTimeMillis, (at) =>
              Effect.sync(() => {
                const m = messages.find((x) => x.id === id)!
                m.versions.push(text.plain)
                m.at.push(at)
              })
            ),
      inbound: Stream.empty
    }
    return { adapter, messages }
  }
  const stream = (r: { adapter: Channel.Adapter }, s: StreamingSettings.StreamingSettings) =>
    Effect.gen(function* () {
      const q = yield* Queue.unbounded<Ev>()
      const fiber = yield* ChannelDelivery.deliver(
        { adapter: r.adapter, target: { chatId: "C1" }, settings: s, draftIntervalMs: 1000 },
        Stream.fromQueue(q).pipe(Stream.takeUntil((e) => e._tag === "RunEnded"))
      ).pipe(Effect.fork)
      return { q, fiber }
    })

  it.effect("one message, posted by the first update and edited at most once per interval; the final is its last edit", () =>
    Effect.gen(function* () {
      const r = editor()
      const { q, fiber } = yield* stream(r, settings({ streamMode: "partial", blockStreaming: true }))
      yield* q.offerAll([started(), draft("One"), draft("One two")])
      yield* TestClock.adjust(1000)
      yield* q.offerAll([draft("One two three"), block("One two three four")])
      yield* TestClock.adjust(500)
      yield* q.offerAll([draft("One two three four"), final("One two three four"), ended()])
      yield* Fiber.join(fiber)
      expect(r.messages).toEqual([{ id: "1", versions: ["One", "One two three", "One two three four"], at: [0, 1000, 1500] }])
    })
  )

  it.effect("a final longer than the limit: the preview becomes part 1, the other parts are new messages", () =>
    Effect.gen(function* () {
      const r = editor()
      const long = Array.from({ length: 12 }, (_, i) => `Paragraph ${i} ${"word ".repeat(8)}`).join("\n\n")
      const { q, fiber } = yield* stream(r, settings({ streamMode: "partial", textChunkLimit: 200 }))
      yield* q.offerAll([started(), draft(long.slice(0, 150)), draft(long), final(long), ended()])
      yield* Fiber.join(fiber)
      const parts = OutboundSplitter.split(long, { limit: 200, chunkMode: "length" })
      expect(parts.length).toBeGreaterThan(2)
      // Each part as the plain dialect renders it (CommonMark drops a paragraph's trailing spaces).
      expect(r.messages.map((m) => m.versions.at(-1))).toEqual(parts.map((p) => Markdown.render(p, "plain")))
      expect(r.messages[0]!.versions[0]).toBe(Markdown.render(long.slice(0, 150), "plain"))
      expect(r.messages.slice(1).every((m) => m.versions.length === 1)).toBe(true)
    })
  )

  it.effect("if the final edit fails the whole reply still arrives, as new messages", () =>
    Effect.gen(function* () {
      const r = editor((t) => t === "Hello world")
      const { q, fiber } = yield* stream(r, settings({ streamMode: "partial" }))
      yield* q.offerAll([started(), draft("Hello"), final("Hello world"), ended()])
      yield* Fiber.join(fiber)
      expect(r.messages.map((m) => m.versions)).toEqual([["Hello"], ["Hello world"]])
    })
  )

  it.effect("by default edits are at least a second apart, also where sends are paced by headers (Discord)", () =>
    Effect.gen(function* () {
      const r = editor(undefined, { minIntervalMs: 0 })
      const q = yield* Queue.unbounded<Ev>()
      const fiber = yield* ChannelDelivery.deliver(
        { adapter: r.adapter, target: { chatId: "C1" }, settings: settings({ streamMode: "partial" }) },
        Stream.fromQueue(q).pipe(Stream.takeUntil((e) => e._tag === "RunEnded"))
      ).pipe(Effect.fork)
      yield* q.offerAll([started(), draft("a")])
      for (const t of ["ab", "abc", "abcd", "abcde"]) {
        yield* TestClock.adjust(400)
        yield* q.offer(draft(t))
      }
      yield* q.offerAll([final("abcde!"), ended()])
      yield* Fiber.join(fiber)
      expect(r.messages[0]!.at).toEqual([0, 1200, 1600])
      expect(r.messages[0]!.versions).toEqual(["a", "abcd", "abcde!"])
    })
  )

  it.effect("streamMode off: no preview, the final as usual", () =>
    Effect.gen(function* () {
      const r = editor()
      const { q, fiber } = yield* stream(r, settings({ streamMode: "off" }))
      yield* q.offerAll([started(), draft("Hello"), final("Hello world"), ended()])
      yield* Fiber.join(fiber)
      expect(r.messages.map((m) => m.versions)).toEqual([["Hello world"]])
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

  it.effect("holds only busy or paused chats: 20,000 chats that came and went leave a small map, and pacing holds through sweeps", () =>
    Effect.gen(function* () {
      const limiter = yield* RateLimiter.make({ minIntervalMs: 1000 })
      const at: Array<number> = []
      const busy = limiter.run("busy", Effect.flatMap(Clock.currentTimeMillis, (t) => Effect.sync(() => at.push(t))))
      let peak = 0
      for (let round = 0; round < 20; round++) {
        // 1,000 new chats a second: each is paced for a second, then forgotten.
        for (let i = 0; i < 1000; i++) yield* limiter.run(`chat${round}:${i}`, Effect.void)
        if (round % 5 === 0) yield* Effect.fork(busy)
        peak = Math.max(peak, limiter.size())
        yield* TestClock.adjust(1001)
      }
      expect(peak).toBeLessThanOrEqual(4096)
      // "busy" sent at t = 0, 5005, 10010, 15015 — sweeps never lost its spacing.
      expect(at.length).toBe(4)
      for (let i = 1; i < at.length; i++) expect(at[i]! - at[i - 1]!).toBeGreaterThanOrEqual(1000)
    })
  )

  it.effect("a chat paused by a 429 stays paused through a sweep", () =>
    Effect.gen(function* () {
      const limiter = yield* RateLimiter.make({ minIntervalMs: 10 })
      yield* limiter.penalize("slow", 60_000)
      for (let i = 0; i < 5000; i++) {
        yield* limiter.run(`chat${i}`, Effect.void)
        if (i % 500 === 499) yield* TestClock.adjust(11)
      }
      expect(limiter.size()).toBeLessThanOrEqual(1024 + 500)
      const f = yield* limiter.run("slow", Clock.currentTimeMillis).pipe(Effect.fork)
      yield* TestClock.adjust(60_000)
      expect(yield* Fiber.join(f)).toBe(60_000)
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
