import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Fiber, Queue, Ref, Stream, TestClock } from "effect"
import * as fc from "fast-check"
import { Coalescer } from "../src/index.js"

const settle = TestClock.adjust(0)
const EOF = "\u0000EOF"

/** Feeds strings by hand; collects output with the TestClock time it was emitted at. */
const harness = (options: Coalescer.Options) =>
  Effect.gen(function* () {
    const input = yield* Queue.unbounded<string>()
    const out = yield* Ref.make<Array<string>>([])
    const fiber = yield* Stream.fromQueue(input).pipe(
      Stream.takeWhile((s) => s !== EOF),
      Coalescer.coalesce(options),
      Stream.runForEach((s) => Ref.update(out, (xs) => [...xs, s])),
      Effect.fork
    )
    const send = (...xs: Array<string>) => Effect.zipRight(Queue.offerAll(input, xs), settle)
    const end = Effect.zipRight(Queue.offer(input, EOF), Fiber.join(fiber))
    return { send, end, out: Ref.get(out) }
  })

const opts = { minChars: 5, maxChars: 20, idleMs: 100, joiner: "\n\n" }

describe("Coalescer.coalesce", () => {
  it.effect("merges blocks with the joiner and flushes after idleMs of silence", () =>
    Effect.gen(function* () {
      const h = yield* harness(opts)
      yield* h.send("hello")
      yield* TestClock.adjust("99 millis")
      expect(yield* h.out).toEqual([])
      yield* TestClock.adjust("1 millis")
      expect(yield* h.out).toEqual(["hello"])
      yield* h.end
    })
  )

  it.effect("the idle timer restarts on every block", () =>
    Effect.gen(function* () {
      const h = yield* harness(opts)
      yield* h.send("one12")
      yield* TestClock.adjust("60 millis")
      yield* h.send("two")
      yield* TestClock.adjust("60 millis")
      expect(yield* h.out).toEqual([]) // 120 ms since the first block, but only 60 since the last
      yield* TestClock.adjust("40 millis")
      expect(yield* h.out).toEqual(["one12\n\ntwo"])
      yield* h.end
      expect(yield* h.out).toEqual(["one12\n\ntwo"])
    })
  )

  it.effect("below minChars an idle flush keeps waiting; the end sends it", () =>
    Effect.gen(function* () {
      const h = yield* harness(opts)
      yield* h.send("hi")
      yield* TestClock.adjust("10 seconds")
      expect(yield* h.out).toEqual([])
      yield* h.send("there") // "hi\n\nthere" = 9 chars ≥ 5: the timer is armed now
      yield* TestClock.adjust("100 millis")
      expect(yield* h.out).toEqual(["hi\n\nthere"])
      yield* h.send("x")
      yield* h.end
      expect(yield* h.out).toEqual(["hi\n\nthere", "x"])
    })
  )

  it.effect("flushes at maxChars without splitting; an oversized block goes out alone", () =>
    Effect.gen(function* () {
      const h = yield* harness(opts)
      yield* h.send("aaaaaaaaaa") // 10
      yield* h.send("bbbbbbbbbb") // 10 + 2 + 10 = 22 > 20: "aaa…" goes, "bbb…" waits
      expect(yield* h.out).toEqual(["aaaaaaaaaa"])
      yield* h.send("c".repeat(30))
      expect(yield* h.out).toEqual(["aaaaaaaaaa", "bbbbbbbbbb", "c".repeat(30)])
      yield* h.send("dddddddd", "eeeeeeeeee") // 8 + 2 + 10 = 20: exactly maxChars, sent at once
      expect(yield* h.out).toEqual(["aaaaaaaaaa", "bbbbbbbbbb", "c".repeat(30), "dddddddd\n\neeeeeeeeee"])
      yield* h.end
    })
  )

  it.effect("never drops a repeated identical paragraph, and the tail always arrives (#102578)", () =>
    Effect.gen(function* () {
      const h = yield* harness({ minChars: 800, maxChars: 1200, idleMs: 1000, joiner: "\n\n" })
      yield* h.send("Same paragraph.", "Same paragraph.")
      yield* TestClock.adjust("500 millis") // the turn ends before idleMs, buffer < minChars
      yield* h.end
      expect(yield* h.out).toEqual(["Same paragraph.\n\nSame paragraph."])
    })
  )

  it.effect("an upstream failure first sends what is buffered", () =>
    Effect.gen(function* () {
      const result = yield* Stream.make("a", "b").pipe(
        Stream.concat(Stream.fail("boom" as const)),
        Coalescer.coalesce(opts),
        Stream.runCollect,
        Effect.either
      )
      expect(result._tag).toBe("Left")
      const seen: Array<string> = []
      yield* Stream.make("a", "b").pipe(
        Stream.concat(Stream.fail("boom" as const)),
        Coalescer.coalesce(opts),
        Stream.runForEach((s) => Effect.sync(() => seen.push(s))),
        Effect.ignore
      )
      expect(seen).toEqual(["a\n\nb"])
    })
  )
})

describe("Coalescer.coalesceWith", () => {
  it.effect("passes other values through at once, flushes on Flush, drops on Reset", () =>
    Effect.gen(function* () {
      const out = yield* Stream.make<Array<Coalescer.Input<number>>>(
        Coalescer.Text("aa"),
        Coalescer.Pass(1),
        Coalescer.Text("bb"),
        Coalescer.Flush,
        Coalescer.Text("void"),
        Coalescer.Reset,
        Coalescer.Pass(2),
        Coalescer.Text("cc")
      ).pipe(Coalescer.coalesceWith(opts), Stream.runCollect)
      expect(Chunk.toReadonlyArray(out)).toEqual([
        Coalescer.Pass(1),
        Coalescer.Text("aa\n\nbb"),
        Coalescer.Pass(2),
        Coalescer.Text("cc")
      ])
    })
  )

  it.effect("pass-through values do not restart the idle timer", () =>
    Effect.gen(function* () {
      const input = yield* Queue.unbounded<Coalescer.Input<string>>()
      const out = yield* Ref.make<Array<Coalescer.Output<string>>>([])
      yield* Stream.fromQueue(input).pipe(
        Coalescer.coalesceWith(opts),
        Stream.runForEach((o) => Ref.update(out, (xs) => [...xs, o])),
        Effect.fork
      )
      yield* Queue.offer(input, Coalescer.Text("hello"))
      yield* settle
      yield* TestClock.adjust("60 millis")
      yield* Queue.offer(input, Coalescer.Pass("draft"))
      yield* settle
      yield* TestClock.adjust("40 millis")
      expect(yield* Ref.get(out)).toEqual([Coalescer.Pass("draft"), Coalescer.Text("hello")])
    })
  )
})

describe("Coalescer properties", () => {
  const block = fc.string({ minLength: 1, maxLength: 40 })
  const options = fc.record({
    minChars: fc.integer({ min: 1, max: 60 }),
    maxChars: fc.integer({ min: 1, max: 80 }),
    joiner: fc.constantFrom("\n\n", "\n", " ", "")
  })

  it("output joined equals input joined; no message over maxChars unless it is a single block", () =>
    fc.assert(
      fc.property(fc.array(block, { maxLength: 30 }), options, (blocks, o) => {
        const out = Effect.runSync(
          Stream.fromIterable(blocks).pipe(Coalescer.coalesce({ ...o, idleMs: 1000 }), Stream.runCollect)
        )
        const msgs = Chunk.toReadonlyArray(out)
        expect(msgs.join(o.joiner)).toBe(blocks.join(o.joiner))
        for (const m of msgs) if (m.length > o.maxChars) expect(blocks).toContain(m)
        expect(msgs.length).toBeLessThanOrEqual(blocks.length)
      }),
      { numRuns: 150 }
    ))
})
