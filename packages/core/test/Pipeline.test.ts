import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Fiber, Queue, Random, Ref, Stream, TestClock } from "effect"
import * as fc from "fast-check"
import { type ModelEvent, Pipeline, ReplyEvent, StreamingSettings } from "../src/index.js"

type P = ReplyEvent.Payload
type Settings = StreamingSettings.StreamingSettings

/** Small blocks; the coalescer lets every block through at once (maxChars 1) unless a test says otherwise. */
const base: Settings = {
  ...StreamingSettings.defaults,
  chunk: { minChars: 10, maxChars: 30, breakPreference: "paragraph", flushOnParagraph: false },
  coalesce: { minChars: 1, maxChars: 1, idleMs: 1000, joiner: "\n\n" },
  humanDelay: { mode: "off", minMs: 800, maxMs: 2500 }
}
const settings = (over: Partial<Settings> = {}): Settings => ({ ...base, ...over })

const delta = (text: string, index = 0): ModelEvent.ModelEvent => ({ _tag: "TextDelta", index, text })
const textEnd = (index = 0): ModelEvent.ModelEvent => ({ _tag: "TextEnd", index })
const messageEnd: ModelEvent.ModelEvent = { _tag: "MessageEnd" }
const thinking = (text: string): ModelEvent.ModelEvent => ({ _tag: "ThinkingDelta", index: 0, text })
const rollback = (attempt: number): ModelEvent.ModelEvent => ({ _tag: "Rollback", attempt, reason: "overloaded" })

/** One event per upstream chunk, like a real model stream. */
const oneByOne = (events: ReadonlyArray<ModelEvent.ModelEvent>) => Stream.fromIterable(events).pipe(Stream.rechunk(1))

const run = (s: Settings, events: Stream.Stream<ModelEvent.ModelEvent>) =>
  Stream.runCollect(events.pipe(Pipeline.make(s))).pipe(Effect.map(Chunk.toArray))

const tags = (ps: ReadonlyArray<P>) => ps.map((p) => p._tag)
const blocks = (ps: ReadonlyArray<P>) => ps.flatMap((p) => (p._tag === "Block" ? [p.text] : []))
/** The visible text the Drafts build up (applied in order, as a live preview does). */
const shown = (ps: ReadonlyArray<P>) =>
  ps.reduce((text, p) => (p._tag === "Draft" ? ReplyEvent.applyDraft(text, p) : p._tag === "Rollback" ? "" : text), "")
const finals = (ps: ReadonlyArray<P>) => ps.filter((p): p is Extract<P, { _tag: "Final" }> => p._tag === "Final")

const para1 = "First paragraph here."
const para2 = "Second paragraph, longer."
const para3 = "Third."
const reply = `${para1}\n\n${para2}\n\n${para3}`
const deltasOf = (text: string, size = 5) =>
  Array.from({ length: Math.ceil(text.length / size) }, (_, i) => delta(text.slice(i * size, (i + 1) * size)))

describe("Pipeline text_end", () => {
  it.effect("emits blocks as the chunker makes them ready, forces the rest at TextEnd, then one Final", () =>
    Effect.gen(function* () {
      const out = yield* run(settings(), oneByOne([...deltasOf(reply), textEnd(), messageEnd]))
      expect(blocks(out)).toEqual([para1, para2, para3])
      // the first block goes out before the text is complete
      const firstBlock = out.findIndex((p) => p._tag === "Block")
      const drafts = out.slice(0, firstBlock).filter((p) => p._tag === "Draft")
      expect(drafts.length).toBeGreaterThan(0)
      expect(shown(drafts).length).toBeLessThan(reply.length)
      expect(reply.startsWith(shown(drafts))).toBe(true)
      expect(finals(out)).toEqual([{ _tag: "Final", text: reply }])
      expect(out.at(-1)).toEqual({ _tag: "Final", text: reply })
      expect(out.filter((p) => p._tag === "Block").map((p) => (p._tag === "Block" ? p.index : -1))).toEqual([0, 1, 2])
    })
  )

  it.effect("each TextEnd forces a drain, even below minChars", () =>
    Effect.gen(function* () {
      const out = yield* run(settings(), oneByOne([delta("Hi."), textEnd(0), delta("Tool done.", 1), textEnd(1), messageEnd]))
      expect(blocks(out)).toEqual(["Hi.", "Tool done."])
      expect(finals(out)[0]?.text).toBe("Hi.Tool done.")
    })
  )

  it.effect("blocks go through the coalescer: merged with the joiner up to maxChars", () =>
    Effect.gen(function* () {
      const s = settings({ coalesce: { minChars: 10, maxChars: 50, idleMs: 1000, joiner: "\n\n" } })
      const out = yield* run(s, oneByOne([...deltasOf(reply), textEnd(), messageEnd]))
      expect(blocks(out)).toEqual([`${para1}\n\n${para2}`, para3])
      expect(blocks(out).join("\n\n")).toBe(reply)
    })
  )
})

describe("Pipeline message_end and off", () => {
  it.effect("message_end: nothing until MessageEnd, then one forced drain (several blocks when long)", () =>
    Effect.gen(function* () {
      const s = settings({ blockStreamingBreak: "message_end" })
      const out = yield* run(s, oneByOne([...deltasOf(reply), textEnd(), messageEnd]))
      const firstBlock = out.findIndex((p) => p._tag === "Block")
      expect(out.slice(0, firstBlock).every((p) => p._tag === "Draft")).toBe(true)
      // one Draft per delta, each only the new text: together they are the reply
      expect(out.slice(0, firstBlock)).toEqual(
        deltasOf(reply).map((d, i) => ({ _tag: "Draft", offset: i * 5, text: d._tag === "TextDelta" ? d.text : "" }))
      )
      expect(blocks(out).length).toBeGreaterThan(1)
      expect(blocks(out).join("\n\n")).toBe(reply)
      expect(tags(out).slice(firstBlock)).toEqual([...blocks(out).map(() => "Block"), "Final"])
    })
  )

  it.effect("block streaming off: no Block, only Drafts and the Final", () =>
    Effect.gen(function* () {
      const out = yield* run(settings({ blockStreaming: false }), oneByOne([...deltasOf(reply), textEnd(), messageEnd]))
      expect(blocks(out)).toEqual([])
      expect(new Set(tags(out))).toEqual(new Set(["Draft", "Final"]))
      expect(finals(out)).toEqual([{ _tag: "Final", text: reply }])
    })
  )
})

describe("Pipeline drafts, reasoning, rollback, ends", () => {
  it.effect("at most one Draft per upstream chunk, none the Final already covers", () =>
    Effect.gen(function* () {
      const events = [...deltasOf(reply), textEnd(), messageEnd]
      const batched = yield* run(settings({ blockStreaming: false }), Stream.fromIterable(events))
      expect(tags(batched)).toEqual(["Final"])
      const halves = Stream.fromIterable(events).pipe(Stream.rechunk(5))
      const out = yield* run(settings({ blockStreaming: false }), halves)
      expect(out.filter((p) => p._tag === "Draft").length).toBe(Math.floor(deltasOf(reply).length / 5))
      const oneEach = yield* run(settings({ blockStreaming: false }), oneByOne(events))
      expect(oneEach.filter((p) => p._tag === "Draft").length).toBe(deltasOf(reply).length - 0)
    })
  )

  it.effect("a tool call drains the text before it (its Block and Draft first), then streams its arguments; calls count per attempt", () =>
    Effect.gen(function* () {
      const toolStart = (index: number, id: string): ModelEvent.ModelEvent => ({ _tag: "ToolUseStart", index, id, name: "get_weather" })
      const input = (index: number, partialJson: string): ModelEvent.ModelEvent => ({ _tag: "ToolInputDelta", index, partialJson })
      // text and the call's start in ONE upstream chunk: the text still goes out before the call
      const events = Stream.fromIterable<ModelEvent.ModelEvent>([
        delta("Let me check."),
        toolStart(1, "toolu_a"),
        input(1, '{"city":'),
        input(1, '"Paris"}'),
        rollback(2),
        toolStart(0, "toolu_b"),
        input(0, "{}"),
        messageEnd
      ]).pipe(Stream.rechunk(2))
      const out = yield* run(settings({ coalesce: { minChars: 500, maxChars: 1000, idleMs: 1000, joiner: "\n\n" } }), events)
      expect(tags(out)).toEqual(["Block", "Draft", "ToolCall", "ToolCallDelta", "ToolCallDelta", "Rollback", "ToolCall", "ToolCallDelta", "Final"])
      expect(out.filter((p) => p._tag === "ToolCall")).toEqual([
        { _tag: "ToolCall", index: 0, id: "toolu_a", name: "get_weather" },
        { _tag: "ToolCall", index: 0, id: "toolu_b", name: "get_weather" }
      ])
      expect(out.flatMap((p) => (p._tag === "ToolCallDelta" ? [p.arguments] : []))).toEqual(['{"city":', '"Paris"}', "{}"])
      expect(finals(out)).toEqual([{ _tag: "Final", text: "" }])
    })
  )

  it.effect("thinking goes out as ReasoningDelta, never into the visible text", () =>
    Effect.gen(function* () {
      const out = yield* run(settings(), oneByOne([thinking("Let me think."), delta("Answer."), textEnd(), messageEnd]))
      expect(out[0]).toEqual({ _tag: "ReasoningDelta", text: "Let me think." })
      expect(blocks(out)).toEqual(["Answer."])
      expect(finals(out)[0]?.text).toBe("Answer.")
    })
  )

  it.effect("Rollback: a Rollback payload, the coalescer buffer dropped, the new attempt starts from nothing", () =>
    Effect.gen(function* () {
      const s = settings({ coalesce: { minChars: 500, maxChars: 1000, idleMs: 1000, joiner: "\n\n" } })
      const events = [...deltasOf(`${para1}\n\n${para2}\n\n`), rollback(2), delta("Retry worked."), textEnd(), messageEnd]
      const out = yield* run(s, oneByOne(events))
      const rb = out.findIndex((p) => p._tag === "Rollback")
      expect(out[rb]).toEqual({ _tag: "Rollback", attempt: 2, reason: "overloaded" })
      expect(blocks(out.slice(0, rb))).toEqual([]) // held by the coalescer, void now
      expect(blocks(out)).toEqual(["Retry worked."])
      expect(finals(out)).toEqual([{ _tag: "Final", text: "Retry worked." }])
      expect(out.slice(rb + 1).find((p) => p._tag === "Draft")).toEqual({ _tag: "Draft", offset: 0, text: "Retry worked." })
    })
  )

  it.effect("an input that ends without MessageEnd still gets its blocks and an interrupted Final", () =>
    Effect.gen(function* () {
      const out = yield* run(settings({ blockStreamingBreak: "message_end" }), oneByOne([delta("Partial an")]))
      expect(blocks(out)).toEqual(["Partial an"])
      expect(finals(out)).toEqual([{ _tag: "Final", text: "Partial an", interrupted: true }])
      expect(finals(yield* run(settings(), Stream.empty))).toEqual([{ _tag: "Final", text: "", interrupted: true }])
    })
  )

  it.effect("an input failure first delivers the text held back, then fails, with no Final", () =>
    Effect.gen(function* () {
      const seen: Array<P> = []
      const events = oneByOne([delta("Held back text.")]).pipe(Stream.concat(Stream.fail("boom" as const)))
      const result = yield* events.pipe(
        Pipeline.make(settings()),
        Stream.runForEach((p) => Effect.sync(() => seen.push(p))),
        Effect.either
      )
      expect(result).toMatchObject({ _tag: "Left", left: "boom" })
      expect(blocks(seen)).toEqual(["Held back text."])
      expect(finals(seen)).toEqual([])
    })
  )
})

describe("Pipeline timing (TestClock)", () => {
  it.effect("a block held by the coalescer goes out after idleMs of silence, before the message ends", () =>
    Effect.gen(function* () {
      const s = settings({ coalesce: { minChars: 10, maxChars: 1000, idleMs: 1000, joiner: "\n\n" } })
      const input = yield* Queue.unbounded<ModelEvent.ModelEvent>()
      const out = yield* Ref.make<Array<P>>([])
      const fiber = yield* Stream.fromQueue(input).pipe(
        Stream.takeUntil((e) => e._tag === "MessageEnd"),
        Pipeline.make(s),
        Stream.runForEach((p) => Ref.update(out, (xs) => [...xs, p])),
        Effect.fork
      )
      yield* Queue.offerAll(input, deltasOf(`${para1}\n\n${para2}`))
      yield* TestClock.adjust(0)
      expect(blocks(yield* Ref.get(out))).toEqual([])
      yield* TestClock.adjust("999 millis")
      expect(blocks(yield* Ref.get(out))).toEqual([])
      yield* TestClock.adjust("1 millis")
      expect(blocks(yield* Ref.get(out))).toEqual([para1])
      yield* Queue.offerAll(input, [textEnd(), messageEnd])
      yield* Fiber.join(fiber)
      expect(blocks(yield* Ref.get(out))).toEqual([para1, para2])
    })
  )

  it.effect("human delay: none before the first block or the Final, a random pause before later blocks", () =>
    Effect.gen(function* () {
      const s = settings({ humanDelay: { mode: "natural", minMs: 800, maxMs: 2500 } })
      const out = yield* Ref.make<Array<readonly [number, string]>>([])
      const fiber = yield* oneByOne([...deltasOf(reply), textEnd(), messageEnd]).pipe(
        Pipeline.make(s),
        Stream.filter((p) => p._tag === "Block" || p._tag === "Final"),
        Stream.runForEach((p) =>
          Effect.flatMap(TestClock.currentTimeMillis, (t) => Ref.update(out, (xs) => [...xs, [t, p._tag] as const]))
        ),
        Effect.fork
      )
      yield* TestClock.adjust(0)
      expect(yield* Ref.get(out)).toEqual([[0, "Block"]])
      yield* TestClock.adjust("1200 millis")
      expect(yield* Ref.get(out)).toEqual([
        [0, "Block"],
        [1200, "Block"]
      ])
      yield* TestClock.adjust("1200 millis")
      yield* Fiber.join(fiber)
      expect(yield* Ref.get(out)).toEqual([
        [0, "Block"],
        [1200, "Block"],
        [2400, "Block"],
        [2400, "Final"]
      ])
    }).pipe(Effect.withRandom(Random.fixed([1200])))
  )
})

describe("Pipeline properties", () => {
  const nonWs = (s: string) => s.replace(/\s+/g, "")
  const isSubsequence = (needle: string, hay: string) => {
    let j = 0
    for (let i = 0; i < hay.length && j < needle.length; i++) if (hay[i] === needle[j]) j++
    return j === needle.length
  }
  const text = (chars: ReadonlyArray<string>) =>
    fc.array(fc.constantFrom(...chars), { maxLength: 400 }).map((cs) => cs.join(""))
  const plain = ["a", "b", "c", " ", ".", "!", "\n", "\n\n", "é", "😀", "word ", "Sentence. "]
  const markdown = [...plain, "```", "```ts\n", "~~~", "\n```\n", "    "]
  const cutInto = (s: string, sizes: ReadonlyArray<number>) => {
    const out: Array<string> = []
    let i = 0
    for (let k = 0; i < s.length; k++) {
      const n = sizes[k % sizes.length]!
      out.push(s.slice(i, i + n))
      i += n
    }
    return out
  }
  const scenario = (chars: ReadonlyArray<string>) =>
    fc.record({
      attempts: fc.array(text(chars), { minLength: 1, maxLength: 3 }),
      sizes: fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 5 }),
      minChars: fc.integer({ min: 1, max: 40 }),
      maxChars: fc.integer({ min: 1, max: 80 }),
      coalesceMin: fc.integer({ min: 1, max: 100 }),
      coalesceMax: fc.integer({ min: 1, max: 100 }),
      mode: fc.constantFrom("text_end" as const, "message_end" as const),
      breakPreference: fc.constantFrom("paragraph" as const, "newline" as const, "sentence" as const),
      flushOnParagraph: fc.boolean(),
      chunkSize: fc.integer({ min: 1, max: 7 })
    })

  type Scenario = ReturnType<typeof scenario> extends fc.Arbitrary<infer X> ? X : never
  const runScenario = (sc: Scenario) => {
    const maxChars = Math.max(sc.minChars, sc.maxChars)
    const coalesceMax = Math.min(sc.coalesceMax, maxChars)
    const s = settings({
      blockStreamingBreak: sc.mode,
      chunk: { minChars: sc.minChars, maxChars, breakPreference: sc.breakPreference, flushOnParagraph: sc.flushOnParagraph },
      coalesce: {
        minChars: Math.min(sc.coalesceMin, coalesceMax),
        maxChars: coalesceMax,
        idleMs: 1000,
        joiner: StreamingSettings.joinerFor(sc.breakPreference)
      }
    })
    const events: Array<ModelEvent.ModelEvent> = []
    sc.attempts.forEach((t, i) => {
      if (i > 0) events.push(rollback(i + 1))
      for (const d of cutInto(t, sc.sizes)) events.push(delta(d))
    })
    events.push(textEnd(), messageEnd)
    const out = Effect.runSync(run(s, Stream.fromIterable(events).pipe(Stream.rechunk(sc.chunkSize))))
    let lastRollback = -1
    out.forEach((p, i) => {
      if (p._tag === "Rollback") lastRollback = i
    })
    const after = out.slice(lastRollback + 1)
    return { s, out, after, visible: sc.attempts.at(-1)!, maxChars }
  }

  it("Final is the concatenation of the last attempt's deltas, exactly once, last; indices count 0,1,2…", () =>
    fc.assert(
      fc.property(scenario(plain), (sc) => {
        const { out, after, visible } = runScenario(sc)
        expect(finals(out)).toEqual([{ _tag: "Final", text: visible }])
        expect(out.at(-1)?._tag).toBe("Final")
        const idx = out.flatMap((p) => (p._tag === "Block" ? [p.index] : []))
        expect(idx).toEqual(idx.map((_, i) => i))
        // The Drafts after the last Rollback are contiguous pieces of the reply, in order.
        let acc = ""
        for (const p of after) if (p._tag === "Draft") {
          expect(p.offset).toBe(acc.length)
          acc += p.text
        }
        expect(visible.startsWith(acc)).toBe(true)
      }),
      { numRuns: 100 }
    ))

  it("without fences, the Blocks after the last Rollback hold exactly the visible text's non-space characters, in order, each within maxChars", () =>
    fc.assert(
      fc.property(scenario(plain), (sc) => {
        const { after, visible, maxChars } = runScenario(sc)
        const bs = blocks(after)
        // The chunker drops only whitespace separators at its cuts, the coalescer adds only the joiner.
        expect(nonWs(bs.join(""))).toBe(nonWs(visible))
        // A block always holds at least one whole code point, so with maxChars 1 an emoji (a
        // surrogate pair, 2 UTF-16 units) is a block of 2.
        for (const b of bs) expect(b.length).toBeLessThanOrEqual(Math.max(maxChars, 2))
      }),
      { numRuns: 100 }
    ))

  const stripInfo = (s: string) => s.replace(/^( {0,3})(`{3,}|~{3,})[^\n]*/gm, "$1$2")

  it("with code fences, the visible text's non-space characters appear in order in the Blocks (plus fence close/reopen lines)", () =>
    fc.assert(
      fc.property(scenario(markdown), (sc) => {
        const { after, visible, maxChars } = runScenario(sc)
        const bs = blocks(after)
        // A fence's info string is metadata, not visible text: the chunker degrades an opener whose
        // info string cannot fit next to any content to the bare marker (openclaw-behaviour §1.7).
        expect(isSubsequence(nonWs(stripInfo(visible)), nonWs(bs.join("")))).toBe(true)
        for (const b of bs) expect(b.length).toBeLessThanOrEqual(Math.max(maxChars, 2))
      }),
      { numRuns: 100 }
    ))
})
