import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, TestClock } from "effect"
import type { ReplyEvent } from "../src/index.js"
import { collect, expectContiguous, setup } from "./fixtures/harness.js"
import { answer } from "./fixtures/testModel.js"

describe("Conversations.listen (callback subscribers)", () => {
  it.scoped("replay then live, the same events as subscribe, from any fromSeq, no gap and no duplicate", () =>
    Effect.gen(function* () {
      const { svc, feed } = yield* setup((_, n) => answer([`reply `, `${n}`], 10))
      const sub = yield* collect(svc, "c", 2)
      yield* svc.send("c", "one")
      yield* TestClock.adjust(15) // part of the first run is logged, part still to come
      const got: Array<ReplyEvent.ReplyEvent> = []
      const fromMid: Array<ReplyEvent.ReplyEvent> = []
      const stop = yield* feed.listen("c", { fromSeq: 0 }, (evs) => got.push(...evs))
      const stopMid = yield* feed.listen("c", { fromSeq: 3 }, (evs) => fromMid.push(...evs))
      yield* svc.send("c", "two")
      yield* TestClock.adjust(100)
      const all = yield* Fiber.join(sub)
      expect(got).toEqual(all)
      expect(expectContiguous(got)).toBe(true)
      expect(fromMid).toEqual(all.filter((e) => e.seq > 3))
      stop()
      stop() // idempotent
      stopMid()
      const after = got.length
      yield* svc.send("c", "three")
      yield* TestClock.adjust(100)
      expect(got.length).toBe(after)
    }))

  it.scoped("a listener that throws is removed and the run it listens to completes", () =>
    Effect.gen(function* () {
      const { svc, feed } = yield* setup(() => answer(["a", "b", "c"], 10))
      let calls = 0
      yield* feed.listen("t", undefined, () => {
        calls++
        throw new Error("broken client")
      })
      const sub = yield* collect(svc, "t")
      yield* svc.send("t", "hi")
      yield* TestClock.adjust(100)
      const evs = yield* Fiber.join(sub)
      expect(calls).toBe(1)
      expect(evs.at(-1)).toMatchObject({ _tag: "RunEnded", reason: "completed" })
      expect((yield* svc.history("t")).map((m) => m.text)).toEqual(["hi", "abc"])
    }))
})
