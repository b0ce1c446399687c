import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Fiber, Random, Ref, Stream, TestClock } from "effect"
import * as fc from "fast-check"
import { HumanDelay, type ReplyEvent, type StreamingSettings } from "../src/index.js"

const natural: StreamingSettings.HumanDelaySettings = { mode: "natural", minMs: 800, maxMs: 2500 }
const settle = TestClock.adjust(0)

type P = ReplyEvent.Payload
const block = (index: number): P => ({ _tag: "Block", index, text: `b${index}` })

/** Runs the paced stream in the background, recording when (TestClock ms) each element came out. */
const record = <A>(stream: Stream.Stream<A>) =>
  Effect.gen(function* () {
    const out = yield* Ref.make<Array<readonly [number, A]>>([])
    const fiber = yield* stream.pipe(
      Stream.runForEach((a) =>
        Effect.flatMap(TestClock.currentTimeMillis, (t) => Ref.update(out, (xs) => [...xs, [t, a] as const]))
      ),
      Effect.fork
    )
    yield* settle
    return { out: Ref.get(out), fiber }
  })

describe("HumanDelay.pace", () => {
  it.effect("no delay before the first block; a random 800-2500 ms before each later block", () =>
    Effect.gen(function* () {
      const r = yield* record(Stream.make(block(0), block(1), block(2)).pipe(HumanDelay.pace(natural)))
      expect((yield* r.out).map(([t]) => t)).toEqual([0])
      yield* TestClock.adjust("1000 millis") // Random.fixed([1000, 2500]) -> 1000, then 2500
      expect((yield* r.out).map(([t]) => t)).toEqual([0, 1000])
      yield* TestClock.adjust("2499 millis")
      expect((yield* r.out).length).toBe(2)
      yield* TestClock.adjust("1 millis")
      expect((yield* r.out).map(([t]) => t)).toEqual([0, 1000, 3500])
      yield* Fiber.join(r.fiber)
    }).pipe(Effect.withRandom(Random.fixed([1000, 2500])))
  )

  it.effect("never delays a Final, a Draft or reasoning", () =>
    Effect.gen(function* () {
      const events: Array<P> = [
        block(0),
        { _tag: "Draft", offset: 0, text: "b0 b1" },
        { _tag: "ReasoningDelta", text: "hm" },
        { _tag: "Final", text: "b0" }
      ]
      const r = yield* record(Stream.fromIterable(events).pipe(HumanDelay.pace(natural)))
      expect((yield* r.out).map(([t, a]) => [t, a._tag])).toEqual([
        [0, "Block"],
        [0, "Draft"],
        [0, "ReasoningDelta"],
        [0, "Final"]
      ])
      yield* Fiber.join(r.fiber)
    })
  )

  it.effect("off: no delay and the stream is untouched", () =>
    Effect.gen(function* () {
      const r = yield* record(Stream.make(block(0), block(1), block(2)).pipe(HumanDelay.pace({ mode: "off", minMs: 800, maxMs: 2500 })))
      expect((yield* r.out).map(([t]) => t)).toEqual([0, 0, 0])
      yield* Fiber.join(r.fiber)
    })
  )

  it.effect("custom with maxMs <= minMs waits exactly minMs; untagged values all count as blocks", () =>
    Effect.gen(function* () {
      const r = yield* record(Stream.make("a", "b").pipe(HumanDelay.pace({ mode: "custom", minMs: 300, maxMs: 100 })))
      yield* TestClock.adjust("299 millis")
      expect((yield* r.out).length).toBe(1)
      yield* TestClock.adjust("1 millis")
      expect((yield* r.out).map(([t, a]) => [t, a])).toEqual([
        [0, "a"],
        [300, "b"]
      ])
    })
  )
})

describe("HumanDelay.nextDelay", () => {
  it("natural stays within 800-2500 inclusive and reaches both ends", () => {
    const low = Effect.runSync(HumanDelay.nextDelay(natural).pipe(Effect.withRandom(Random.fixed([-1e9]))))
    const high = Effect.runSync(HumanDelay.nextDelay(natural).pipe(Effect.withRandom(Random.fixed([1e9]))))
    expect([low, high]).toEqual([800, 2500])
    fc.assert(
      fc.property(fc.string(), (seed) => {
        const d = Effect.runSync(HumanDelay.nextDelay(natural).pipe(Effect.withRandom(Random.make(seed))))
        return Number.isInteger(d) && d >= 800 && d <= 2500
      })
    )
  })

  it("custom draws from [minMs, maxMs]", () => {
    const draws = Effect.runSync(
      Effect.all(Array.from({ length: 200 }, () => HumanDelay.nextDelay({ mode: "custom", minMs: 10, maxMs: 12 }))).pipe(
        Effect.withRandom(Random.make("seed"))
      )
    )
    expect(new Set(draws)).toEqual(new Set([10, 11, 12]))
    expect(Chunk.size(Chunk.fromIterable(draws))).toBe(200)
  })
})
