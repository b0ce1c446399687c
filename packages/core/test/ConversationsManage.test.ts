import { describe, expect, it } from "@effect/vitest"
import * as fc from "fast-check"
import { Chunk, Effect, Either, Fiber, Stream, TestClock, TestContext } from "effect"
import type { ReplyEvent } from "../src/index.js"
import { collect, setup } from "./fixtures/harness.js"
import { answer } from "./fixtures/testModel.js"

/** What a client shows after applying the log in order (the web page's rule for `Rewound`). */
const reduceLog = (evs: ReadonlyArray<ReplyEvent.ReplyEvent>) => {
  const shown: Array<{ seq: number; role: "user" | "assistant"; runId: string; text: string }> = []
  for (const e of evs) {
    switch (e._tag) {
      case "UserMessage":
        shown.push({ seq: e.seq, role: "user", runId: e.runId, text: e.text })
        break
      case "RunStarted":
        shown.push({ seq: e.seq, role: "assistant", runId: e.runId, text: "" })
        break
      case "Final": {
        const m = shown.find((x) => x.role === "assistant" && x.runId === e.runId)
        if (m !== undefined) m.text = e.text
        break
      }
      case "Rewound":
        for (let i = shown.length - 1; i >= 0; i--) if (shown[i]!.seq >= e.fromSeq) shown.splice(i, 1)
        break
    }
  }
  return shown.map((m) => [m.role, m.text])
}

const replies = (_: unknown, n: number) => answer([`reply ${n + 1}`])

const log = (svc: { subscribe: (id: string) => Stream.Stream<ReplyEvent.ReplyEvent, unknown> }, id: string, upTo: number) =>
  svc.subscribe(id).pipe(
    Stream.takeUntil((e) => e.seq >= upTo),
    Stream.runCollect,
    Effect.map(Chunk.toReadonlyArray)
  )

describe("Conversations: managing a conversation", () => {
  it.scoped("update renames it and pins its own system prompt and model; the reply says which model wrote it", () =>
    Effect.gen(function* () {
      const { svc, store, model } = yield* setup(replies, { system: "default prompt" })
      let sub = yield* collect(svc, "c")
      yield* svc.send("c", "first question", { owner: "ann" })
      yield* Fiber.join(sub)
      yield* svc.update("c", { title: "  Trip\n planning  ", system: "You are terse.", model: "claude-opus-5-5" })
      const [row] = yield* svc.list({ owner: "ann" })
      expect(row).toMatchObject({ title: "Trip planning", system: "You are terse.", model: "claude-opus-5-5" })
      expect(yield* store.load("c")).toMatchObject({ title: "Trip planning", system: "You are terse.", model: "claude-opus-5-5" })

      sub = yield* collect(svc, "c", 2)
      yield* svc.send("c", "second")
      const evs = yield* Fiber.join(sub)
      expect(model.requests[0]).toMatchObject({ system: "default prompt" })
      expect(model.requests[0]!.model).toBe("claude-haiku-4-5") // the reasoning level's model
      expect(model.requests[1]).toMatchObject({ system: "You are terse.", model: "claude-opus-5-5" })
      const started = evs.filter((e) => e._tag === "RunStarted")
      expect(started.map((e) => e._tag === "RunStarted" && e.model)).toEqual(["claude-haiku-4-5", "claude-opus-5-5"])
      // The truth: the test model's stream calls itself "test".
      expect(evs.filter((e) => e._tag === "Final").map((e) => e._tag === "Final" && e.model)).toEqual(["test", "test"])

      // An empty string clears back to the defaults; a blank title keeps the old one.
      yield* svc.update("c", { title: " ", system: "", model: "" })
      const [cleared] = yield* svc.list({ owner: "ann" })
      expect(cleared!.title).toBe("Trip planning")
      expect(cleared!.system).toBeUndefined()
      expect(cleared!.model).toBeUndefined()
    })
  )

  it.scoped("update, regenerate and edit of a conversation that does not exist fail with ConversationNotFound", () =>
    Effect.gen(function* () {
      const { svc } = yield* setup(replies)
      for (const op of [svc.update("nope", { title: "x" }), svc.regenerate("nope"), svc.edit("nope", "m", "x")]) {
        const r = yield* Effect.either(op)
        expect(Either.isLeft(r) && r.left._tag).toBe("ConversationNotFound")
      }
      expect(yield* svc.list()).toEqual([])
    })
  )

  it.scoped("regenerate answers the last question again: the old reply is superseded, the model never sees it", () =>
    Effect.gen(function* () {
      const { svc, store, model } = yield* setup(replies)
      let sub = yield* collect(svc, "r")
      yield* svc.send("r", "what is 2+2?")
      const first = yield* Fiber.join(sub)
      const oldStart = first.find((e) => e._tag === "RunStarted")!
      sub = yield* collect(svc, "r", 2)
      const regen = yield* svc.regenerate("r")
      const evs = yield* Fiber.join(sub)
      const rewound = evs.find((e) => e._tag === "Rewound")
      expect(rewound).toMatchObject({ fromSeq: oldStart.seq, runId: regen.runId })
      expect(model.requests[1]!.messages).toEqual([{ role: "user", content: "what is 2+2?" }])
      expect((yield* svc.history("r")).map((m) => [m.role, m.text])).toEqual([
        ["user", "what is 2+2?"],
        ["assistant", "reply 2"]
      ])
      expect(reduceLog(evs)).toEqual([
        ["user", "what is 2+2?"],
        ["assistant", "reply 2"]
      ])
      const old = (yield* store.messages("r")).find((m) => m.runId === oldStart.runId && m.role === "assistant")
      expect(old).toMatchObject({ text: "reply 1", superseded: true })
    })
  )

  it.scoped("edit replaces a message and everything after it, then answers the new text", () =>
    Effect.gen(function* () {
      const { svc, model } = yield* setup(replies)
      const sub = yield* collect(svc, "e", 3)
      const one = yield* svc.send("e", "one")
      yield* TestClock.adjust("1 millis")
      while ((yield* svc.list()).some((c) => c.running)) yield* TestClock.adjust("1 millis")
      yield* svc.send("e", "two")
      while ((yield* svc.list()).some((c) => c.running)) yield* TestClock.adjust("1 millis")
      const edited = yield* svc.edit("e", one.messageId, "uno")
      const evs = yield* Fiber.join(sub)
      expect(evs.find((e) => e._tag === "Rewound")).toMatchObject({ fromSeq: one.seq })
      expect(edited.seq).toBeGreaterThan(one.seq)
      expect(model.requests[2]!.messages).toEqual([{ role: "user", content: "uno" }])
      expect((yield* svc.history("e")).map((m) => [m.role, m.text])).toEqual([
        ["user", "uno"],
        ["assistant", "reply 3"]
      ])
      expect(reduceLog(evs)).toEqual([
        ["user", "uno"],
        ["assistant", "reply 3"]
      ])
      // Only a user message can be edited.
      const reply = (yield* svc.history("e")).find((m) => m.role === "assistant")!
      const refused = yield* Effect.either(svc.edit("e", reply.messageId, "x"))
      expect(Either.isLeft(refused) && refused.left._tag).toBe("MessageNotFound")
    })
  )

  it.scoped("regenerate and edit are refused while a run is going, and change nothing", () =>
    Effect.gen(function* () {
      const { svc } = yield* setup(() => answer(["slow ", "reply"], 1000))
      const sub = yield* collect(svc, "b")
      const sent = yield* svc.send("b", "hello")
      yield* TestClock.adjust("500 millis")
      const a = yield* Effect.either(svc.regenerate("b"))
      const b = yield* Effect.either(svc.edit("b", sent.messageId, "changed"))
      expect(Either.isLeft(a) && a.left._tag).toBe("ConversationBusy")
      expect(Either.isLeft(b) && b.left._tag).toBe("ConversationBusy")
      yield* TestClock.adjust("3 seconds")
      const evs = yield* Fiber.join(sub)
      expect(evs.some((e) => e._tag === "Rewound")).toBe(false)
      expect((yield* svc.history("b")).map((m) => m.text)).toEqual(["hello", "slow reply"])
    })
  )

  it.scoped("remove stops the run, ends subscribers and deletes everything; the id starts afresh", () =>
    Effect.gen(function* () {
      const { svc, store, feed, rt } = yield* setup(() => answer(["a ", "long ", "reply"], 1000))
      const sub = yield* svc.subscribe("d").pipe(Stream.runCollect, Effect.fork)
      let heard = 0
      let ended = 0
      yield* feed.listen("d", {}, (evs) => { heard += evs.length }, () => { ended++ })
      yield* svc.send("d", "hello", { owner: "ann" })
      yield* TestClock.adjust("1500 millis")
      expect(yield* svc.remove("d")).toBe(true)
      const seen = Chunk.toReadonlyArray(yield* Fiber.join(sub))
      expect(seen.at(-1)).toMatchObject({ _tag: "RunEnded", reason: "stopped" })
      expect([heard, ended]).toEqual([seen.length, 1])
      expect(yield* svc.history("d")).toEqual([])
      expect(yield* svc.list()).toEqual([])
      expect(yield* svc.owner("d")).toBeUndefined()
      expect(yield* store.events("d", 0)).toEqual([])
      expect(yield* store.runs("d")).toEqual([])
      expect(yield* svc.remove("d")).toBe(false)

      // Used again by someone else: a new conversation, whose log holds only its own events.
      const again = yield* svc.send("d", "new start", { owner: "bob" })
      expect(again.seq).toBeGreaterThan(seen.at(-1)!.seq)
      yield* TestClock.adjust("5 seconds")
      expect(yield* svc.owner("d")).toBe("bob")
      const fresh = yield* store.events("d", 0)
      expect(fresh[0]).toMatchObject({ _tag: "UserMessage", text: "new start" })
      expect((yield* svc.history("d")).map((m) => m.text)).toEqual(["new start", "a long reply"])
      // The old listener heard nothing of the new conversation, and released the actor.
      expect(heard).toBe(seen.length)
      yield* TestClock.adjust("10 minutes")
      expect(rt.isActive("d")).toBe(false)
    })
  )

  it("property: the view rebuilt from the log (applying Rewound) always equals history", async () => {
    const Op = fc.oneof(
      fc.record({ op: fc.constant("send" as const), text: fc.string({ minLength: 1, maxLength: 8 }) }),
      fc.record({ op: fc.constant("regenerate" as const) }),
      fc.record({ op: fc.constant("edit" as const), pick: fc.nat(), text: fc.string({ minLength: 1, maxLength: 8 }) })
    )
    await fc.assert(
      fc.asyncProperty(fc.array(Op, { minLength: 1, maxLength: 8 }), (ops) =>
        Effect.runPromise(
          Effect.gen(function* () {
            const { svc } = yield* setup(replies)
            const idle = Effect.gen(function* () {
              while ((yield* svc.list()).some((c) => c.running)) yield* TestClock.adjust("1 millis")
            })
            for (const o of ops) {
              if (o.op === "send") yield* svc.send("p", o.text)
              else if (o.op === "regenerate") yield* Effect.either(svc.regenerate("p"))
              else {
                const users = (yield* svc.history("p")).filter((m) => m.role === "user")
                const target = users[o.pick % Math.max(1, users.length)]
                if (target !== undefined) yield* svc.edit("p", target.messageId, o.text)
              }
              yield* idle
            }
            const last = (yield* svc.list())[0]?.lastSeq ?? 0
            const evs = last === 0 ? [] : yield* log(svc, "p", last)
            const history = (yield* svc.history("p")).map((m) => [m.role, m.text])
            expect(reduceLog(evs)).toEqual(history)
          }).pipe(Effect.scoped, Effect.provide(TestContext.TestContext))
        )
      ),
      { numRuns: 40 }
    )
  })
})
