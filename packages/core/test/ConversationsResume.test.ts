import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Either, Fiber, Stream, TestClock } from "effect"
import fc from "fast-check"
import type { ReplyEvent } from "../src/index.js"
import { collect, expectContiguous, resumedLike, setup, withoutDrafts } from "./fixtures/harness.js"
import { answer, type Step } from "./fixtures/testModel.js"

describe("Conversations: passivation, resume, retention", () => {
  it.scoped("a subscriber or listener sees an event only once it is committed, except Drafts (previews, never stored)", () =>
    Effect.gen(function* () {
      const { svc, feed, store } = yield* setup(() => answer(["one ", "two ", "three"], 10), { compactDrafts: false })
      const uncommitted: Array<number> = []
      const check = (ev: ReplyEvent.ReplyEvent) =>
        Effect.map(store.events("d", ev.seq - 1), (logged) => {
          if (ev._tag !== "Draft" && logged[0]?.seq !== ev.seq) uncommitted.push(ev.seq)
        })
      const listened: Array<ReplyEvent.ReplyEvent> = []
      const unlisten = yield* feed.listen("d", { fromSeq: 0 }, (evs) => {
        listened.push(...evs)
      })
      const sub = yield* svc.subscribe("d").pipe(
        Stream.tap(check),
        Stream.takeUntil((e) => e._tag === "RunEnded"),
        Stream.runCollect,
        Effect.fork
      )
      yield* svc.send("d", "count")
      yield* TestClock.adjust("1 second")
      const evs = Chunk.toReadonlyArray(yield* Fiber.join(sub))
      for (const ev of listened) yield* check(ev)
      unlisten()
      expect(evs.length).toBeGreaterThan(6)
      expect(expectContiguous(evs)).toBe(true)
      expect(listened.map((e) => e.seq)).toEqual(evs.map((e) => e.seq))
      expect(uncommitted).toEqual([])
    })
  )

  it.scoped("passivates after idleTimeToLive and comes back with its seq and history", () =>
    Effect.gen(function* () {
      const { rt, svc } = yield* setup((_, n) => answer([`reply ${n}`]), { idleTimeToLive: "1 minute", sweepInterval: "10 seconds" })
      const first = yield* collect(svc, "c")
      yield* svc.send("c", "hello")
      const evs1 = yield* Fiber.join(first)
      yield* TestClock.adjust(0)
      expect(rt.isActive("c")).toBe(true)
      yield* TestClock.adjust("50 seconds")
      expect(rt.isActive("c")).toBe(true)
      yield* TestClock.adjust("20 seconds")
      expect(rt.isActive("c")).toBe(false)
      expect(rt.active()).toBe(0)
      const accepted = yield* svc.send("c", "again")
      expect(accepted.seq).toBe(evs1.at(-1)!.seq + 1)
      expect(rt.isActive("c")).toBe(true)
      const all = yield* collect(svc, "c", 2)
      const evs = yield* Fiber.join(all)
      // the first run replayed from the log (its Drafts were never stored), then the second live
      const replayed = withoutDrafts(evs1)
      expect(evs.slice(0, replayed.length)).toEqual(replayed)
      expect(evs.map((e) => e.seq).every((s, i, xs) => i === 0 || s > xs[i - 1]!)).toBe(true)
      const history = yield* svc.history("c")
      expect(history.map((m) => m.text)).toEqual(["hello", "reply 0", "again", "reply 1"])
    }))

  it.scoped("a subscriber keeps its actor active; a running conversation is never passivated", () =>
    Effect.gen(function* () {
      const { rt, svc } = yield* setup(() => answer(["slow"], 120_000), { idleTimeToLive: "1 minute", sweepInterval: "1 second" })
      const sub = yield* collect(svc, "c")
      yield* svc.send("c", "take your time")
      yield* TestClock.adjust("100 seconds")
      expect(rt.isActive("c")).toBe(true)
      yield* TestClock.adjust("30 seconds")
      const evs = yield* Fiber.join(sub)
      expect(evs.at(-1)).toMatchObject({ _tag: "RunEnded", reason: "completed" })
      yield* TestClock.adjust("61 seconds")
      expect(rt.isActive("c")).toBe(false)
    }))

  it.scoped("Rollback carries the seq of the first output event of the voided attempt", () =>
    Effect.gen(function* () {
      const script: Array<Step> = [
        ...answer(["lost ", "text"]).slice(0, 3),
        { _tag: "Rollback", attempt: 2, reason: "overloaded" },
        ...answer(["kept"])
      ]
      const { svc } = yield* setup(() => script)
      const sub = yield* collect(svc, "c")
      yield* svc.send("c", "hi")
      const evs = yield* Fiber.join(sub)
      const rollback = evs.find((e) => e._tag === "Rollback")
      expect(rollback).toMatchObject({ attempt: 2, reason: "overloaded" })
      const started = evs.findIndex((e) => e._tag === "RunStarted")
      const firstOutput = evs.slice(started + 1).find((e) => ["Block", "Draft", "ReasoningDelta", "ReasoningUpdate"].includes(e._tag))
      expect(rollback!._tag === "Rollback" && rollback!.discardFromSeq).toBe(firstOutput!.seq)
      expect(evs.at(-2)).toMatchObject({ _tag: "Final", text: "kept" })
    }))

  it.scoped("retention: Drafts of ended runs are compacted; a resume from before the kept runs fails with EventsExpired", () =>
    Effect.gen(function* () {
      const { svc, store } = yield* setup((_, n) => answer([`r${n}a`, `r${n}b`]), { retainRuns: 2 })
      for (const text of ["one", "two", "three"]) {
        const sub = yield* collect(svc, "c", 1, (yield* svc.list()).find((c) => c.conversationId === "c")?.lastSeq ?? 0)
        yield* svc.send("c", text)
        yield* Fiber.join(sub)
      }
      const logged = yield* store.events("c", 0).pipe(Effect.either)
      expect(Either.isLeft(logged) && logged.left).toMatchObject({ _tag: "EventsExpired", conversationId: "c", fromSeq: 0 })
      const oldest = Either.isLeft(logged) && logged.left._tag === "EventsExpired" ? logged.left.oldestSeq : 0
      const fromOldest = yield* store.events("c", oldest - 1)
      expect(fromOldest[0]).toMatchObject({ _tag: "UserMessage", text: "two", seq: oldest })
      expect(fromOldest.some((e) => e._tag === "Draft")).toBe(false)
      expect(fromOldest.filter((e) => e._tag === "Final").map((e) => e._tag === "Final" && e.text)).toEqual(["r1ar1b", "r2ar2b"])
      const failed = yield* svc.subscribe("c", { fromSeq: 0 }).pipe(Stream.runCollect, Effect.either)
      expect(Either.isLeft(failed) && failed.left._tag).toBe("EventsExpired")
      // history is not subject to log retention
      expect((yield* svc.history("c")).length).toBe(6)
    }))

  it.scopedLive("resume: random disconnect/resubscribe points over several runs receive exactly the emitted events", () =>
    Effect.gen(function* () {
      // The reader that never disconnects is the oracle. One runtime, one conversation per case.
      const { svc } = yield* setup(
        (req, _n) => {
          const words = Number(/^m\d+ x(\d+)/.exec(req.messages.at(-1)!.content)?.[1] ?? 1)
          return answer(Array.from({ length: words }, (_, i) => `w${i} `), 1)
        },
        { compactDrafts: false }
      )
      let caseNo = 0
      yield* Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(
            fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 2, maxLength: 4 }),
            fc.array(fc.integer({ min: 1, max: 12 }), { minLength: 1, maxLength: 5 }),
            (pieces, cuts) =>
              Effect.runPromise(
                Effect.gen(function* () {
                  const id = `case-${caseNo++}`
                  const runs = pieces.length
                  const received: Array<ReplyEvent.ReplyEvent> = []
                  const oracle = yield* collect(svc, id, runs)
                  const sender = yield* Effect.fork(
                    Effect.forEach(
                      pieces,
                      (words, i) => Effect.zipRight(Effect.sleep(`${(i * 3) % 5} millis`), svc.send(id, `m${i} x${words}`)),
                      { discard: true }
                    )
                  )
                  let last = 0
                  for (const cut of [...cuts, 100_000]) {
                    let ended = received.filter((e) => e._tag === "RunEnded").length
                    if (ended >= runs) break
                    // take `cut` events (or up to the last RunEnded), disconnect, resubscribe from the last seq seen
                    const got = yield* svc.subscribe(id, { fromSeq: last }).pipe(
                      Stream.takeUntil((e) => e._tag === "RunEnded" && ++ended >= runs),
                      Stream.take(cut),
                      Stream.runCollect,
                      Effect.map(Chunk.toReadonlyArray)
                    )
                    received.push(...got)
                    if (got.length > 0) last = got.at(-1)!.seq
                  }
                  yield* Fiber.join(sender)
                  const all = yield* Fiber.join(oracle)
                  expect(resumedLike(received, all)).toBeUndefined()
                  expect(expectContiguous(all)).toBe(true)
                })
              )
          ),
          { numRuns: 20 }
        )
      )
    }), 120_000)
})
