/**
 * The run loop's pipeline driver must produce exactly what `Pipeline.make` produces: the same
 * payloads, in the same order, at the same (test-clock) times — with idle gaps between model
 * chunks that fire the coalescer's idle flush, rollbacks, thinking, block streaming on and off,
 * and an input that fails.
 */
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Either, Fiber, Stream, TestClock, TestContext } from "effect"
import * as fc from "fast-check"
import * as PipelineDriver from "../src/internal/pipelineDriver.js"
import { type ModelEvent, Pipeline, type ReplyEvent, StreamingSettings } from "../src/index.js"

type P = ReplyEvent.Payload
type Settings = StreamingSettings.StreamingSettings
type Timed = readonly [number, P]

/** Gaps that never make an arrival coincide with an idle deadline (idleMs 1000): no ties to break. */
const GAPS = [0, 0, 300, 1700] as const
const STEP_MS = 100

const event: fc.Arbitrary<ModelEvent.ModelEvent> = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom("Hello ", "world. ", "\n\n", "```ts\n", "x = 1\n", "```\n", "A longer sentence here. ", "é😀").map((text) => ({ _tag: "TextDelta" as const, index: 0, text })) },
  { weight: 1, arbitrary: fc.constant<ModelEvent.ModelEvent>({ _tag: "TextEnd", index: 0 }) },
  { weight: 1, arbitrary: fc.constant<ModelEvent.ModelEvent>({ _tag: "ThinkingDelta", index: 0, text: "hmm " }) },
  { weight: 1, arbitrary: fc.integer({ min: 2, max: 4 }).map((attempt): ModelEvent.ModelEvent => ({ _tag: "Rollback", attempt, reason: "overloaded" })) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 3 }).map((index): ModelEvent.ModelEvent => ({ _tag: "ToolUseStart", index, id: `toolu_${index}`, name: "f" })) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 3 }).map((index): ModelEvent.ModelEvent => ({ _tag: "ToolInputDelta", index, partialJson: '{"a":1}' })) }
)

const scenario = fc.record({
  groups: fc.array(fc.record({ gap: fc.constantFrom(...GAPS), events: fc.array(event, { minLength: 1, maxLength: 4 }) }), { maxLength: 20 }),
  ends: fc.constantFrom("message_end" as const, "input_ends" as const, "fails" as const),
  blockStreaming: fc.boolean(),
  mode: fc.constantFrom("text_end" as const, "message_end" as const),
  minChars: fc.integer({ min: 1, max: 30 }),
  maxChars: fc.integer({ min: 5, max: 60 }),
  coalesceMin: fc.integer({ min: 1, max: 80 }),
  coalesceMax: fc.integer({ min: 1, max: 120 })
})
type Scenario = typeof scenario extends fc.Arbitrary<infer X> ? X : never

const settingsOf = (sc: Scenario): Settings => {
  const maxChars = Math.max(sc.minChars, sc.maxChars)
  return {
    ...StreamingSettings.defaults,
    blockStreaming: sc.blockStreaming,
    blockStreamingBreak: sc.mode,
    chunk: { minChars: sc.minChars, maxChars, breakPreference: "paragraph", flushOnParagraph: false },
    coalesce: { minChars: Math.min(sc.coalesceMin, sc.coalesceMax), maxChars: sc.coalesceMax, idleMs: 1000, joiner: "\n\n" },
    humanDelay: { mode: "off", minMs: 800, maxMs: 2500 }
  }
}

const inputOf = (sc: Scenario): Stream.Stream<ModelEvent.ModelEvent, string> => {
  const groups = sc.ends === "message_end" ? [...sc.groups, { gap: 0, events: [{ _tag: "TextEnd", index: 0 }, { _tag: "MessageEnd" }] as Array<ModelEvent.ModelEvent> }] : sc.groups
  const body = Stream.fromIterable(groups).pipe(
    Stream.mapEffect((g) => Effect.as(Effect.sleep(g.gap), Chunk.fromIterable(g.events))),
    Stream.flattenChunks
  )
  return sc.ends === "fails" ? Stream.concat(body, Stream.fail("upstream broke")) : body
}

/** Runs `consume` on a forked fiber and walks the test clock until it is done (bounded). */
const timed = (consume: (record: (ps: ReadonlyArray<P>) => void) => Effect.Effect<void, unknown>) =>
  Effect.gen(function* () {
    const clock = yield* Effect.clock
    const out: Array<Timed> = []
    const record = (ps: ReadonlyArray<P>) => {
      for (const p of ps) out.push([clock.unsafeCurrentTimeMillis(), p])
    }
    const fiber = yield* Effect.fork(Effect.either(consume(record)))
    for (let i = 0; i < 2000 && fiber.unsafePoll() === null; i++) yield* TestClock.adjust(STEP_MS)
    const result = yield* Fiber.join(fiber)
    return { out, failed: Either.isLeft(result) }
  })

const viaStream = (sc: Scenario) =>
  timed((record) => Stream.runForEach(inputOf(sc).pipe(Pipeline.make(settingsOf(sc))), (p) => Effect.sync(() => record([p]))))

const viaDriver = (sc: Scenario) =>
  timed((record) =>
    PipelineDriver.run(settingsOf(sc), inputOf(sc), { onInput: () => {}, onInputFailure: () => {}, emit: record, afterEmit: () => undefined })
  )

describe("PipelineDriver", () => {
  it("produces the payloads of Pipeline.make, in order, at the same times (property)", () =>
    fc.assert(
      fc.asyncProperty(scenario, async (sc) => {
        const fresh = <A>(e: Effect.Effect<A>) => Effect.runPromise(e.pipe(Effect.provide(TestContext.TestContext)))
        const a = await fresh(viaStream(sc))
        const b = await fresh(viaDriver(sc))
        expect(b.failed).toBe(a.failed)
        expect(b.out).toEqual(a.out)
      }),
      { numRuns: 80 }
    ))

  it("hands each upstream chunk to onInput before its payloads, and reports a failed input once", () =>
    Effect.gen(function* () {
      const seen: Array<string> = []
      const input = Stream.make<Array<ModelEvent.ModelEvent>>(
        { _tag: "TextDelta", index: 0, text: "Hello" },
        { _tag: "TextDelta", index: 0, text: " world" }
      ).pipe(Stream.rechunk(1), Stream.concat(Stream.fail("boom")))
      const exit = yield* Effect.either(
        PipelineDriver.run(StreamingSettings.defaults, input, {
          onInput: (c) => seen.push(`in:${c.length}`),
          onInputFailure: () => seen.push("failed"),
          emit: (ps) => seen.push(...ps.map((p) => p._tag)),
          afterEmit: () => Effect.sync(() => seen.push("after"))
        })
      )
      expect(Either.isLeft(exit)).toBe(true)
      expect(seen).toEqual(["in:1", "Draft", "after", "in:1", "Draft", "after", "failed", "Block"])
    }).pipe(Effect.provide(TestContext.TestContext), Effect.runPromise))
})
