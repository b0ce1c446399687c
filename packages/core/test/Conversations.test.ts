import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Either, Fiber, Layer, TestClock } from "effect"
import { ConversationStore, ModelError, type ReplyEvent } from "../src/index.js"
import * as runtime from "../src/internal/conversations/runtime.js"
import { collect, expectContiguous, setup, tags } from "./fixtures/harness.js"
import { answer, makeModel } from "./fixtures/testModel.js"
import * as SqliteStore from "../src/sqlite/SqliteStore.js"

const texts = (evs: ReadonlyArray<ReplyEvent.ReplyEvent>, tag: ReplyEvent.Tag) =>
  evs.filter((e) => e._tag === tag).map((e) => ("text" in e ? e.text : ""))

describe("Conversations", () => {
  it.scoped("history shows a reply being written with its live text; its row is written per block or checkpoint, not per delta", () =>
    Effect.gen(function* () {
      const { svc, store } = yield* setup(() => answer(["Hel", "lo ", "there"], 1000))
      const sub = yield* collect(svc, "live")
      yield* svc.send("live", "hi")
      yield* TestClock.adjust("2 seconds")
      const during = yield* svc.history("live")
      expect(during.map((m) => [m.role, m.text, m.status])).toEqual([
        ["user", "hi", "complete"],
        ["assistant", "Hello ", "streaming"]
      ])
      // the stored row lags the Drafts: it holds the first text (checkpointed at once), not each
      // delta after it (no block yet, and less than a checkpoint step); the live text comes from the actor
      const row = (yield* store.messages("live")).find((m) => m.role === "assistant")
      expect(row?.text).toBe("Hel")
      yield* TestClock.adjust("1 second")
      const evs = yield* Fiber.join(sub)
      const drafts = evs.filter((e) => e._tag === "Draft")
      expect(drafts.map((d) => (d._tag === "Draft" ? [d.offset, d.text] : []))).toEqual([
        [0, "Hel"],
        [3, "lo "],
        [6, "there"]
      ])
      expect((yield* svc.history("live")).map((m) => m.text)).toEqual(["hi", "Hello there"])
    })
  )

  it.scoped("a send runs one turn: seq-numbered events, persisted history", () =>
    Effect.gen(function* () {
      const { svc } = yield* setup(() => answer(["Hel", "lo ", "there"]))
      const sub = yield* collect(svc, "c1")
      const accepted = yield* svc.send("c1", "hi", { owner: "alice" })
      const evs = yield* Fiber.join(sub)
      expect(accepted.seq).toBe(1)
      const shown = tags(evs).filter((t) => t !== "ReasoningUpdate")
      expect(shown.slice(0, 2)).toEqual(["UserMessage", "RunStarted"])
      expect(shown.slice(-2)).toEqual(["Final", "RunEnded"])
      expect(shown.slice(2, -2).every((t) => t === "Draft" || t === "Block")).toBe(true)
      // reasoning progress: planned level on RunStarted, updates from planning to completed
      expect(evs[1]).toMatchObject({ _tag: "RunStarted", level: 1 })
      const updates = evs.filter((e) => e._tag === "ReasoningUpdate")
      expect(updates[0]).toMatchObject({ status: "planning" })
      expect(updates.at(-1)).toMatchObject({ status: "completed", progress: 1 })
      expect(expectContiguous(evs)).toBe(true)
      expect(new Set(evs.map((e) => e.conversationId))).toEqual(new Set(["c1"]))
      const runId = evs[1]!.runId
      expect(evs.every((e) => e.runId === runId)).toBe(true)
      expect(evs.at(-1)).toMatchObject({ _tag: "RunEnded", reason: "completed" })
      expect(texts(evs, "Final")).toEqual(["Hello there"])
      const history = yield* svc.history("c1")
      expect(history.map((m) => [m.role, m.text, m.status])).toEqual([
        ["user", "hi", "complete"],
        ["assistant", "Hello there", "complete"]
      ])
      const list = yield* svc.list({ owner: "alice" })
      expect(list).toMatchObject([{ conversationId: "c1", owner: "alice", title: "hi", lastSeq: evs.at(-1)!.seq, running: false }])
      expect(yield* svc.list({ owner: "bob" })).toEqual([])
      expect(yield* svc.owner("c1")).toBe("alice")
      expect(yield* svc.owner("nope")).toBeUndefined()
    }))

  it.scoped("followup runs the next message after the current run, with the reply in its history", () =>
    Effect.gen(function* () {
      const { svc, model } = yield* setup((_, n) => answer([`reply ${n}`], 10))
      const sub = yield* collect(svc, "c", 2)
      yield* svc.send("c", "one")
      yield* svc.send("c", "two")
      yield* TestClock.adjust(5)
      expect(model.requests.length).toBe(1)
      yield* TestClock.adjust(10)
      expect(model.requests.length).toBe(2)
      yield* TestClock.adjust(10)
      const evs = yield* Fiber.join(sub)
      expect(tags(evs).filter((t) => t === "RunEnded").length).toBe(2)
      expect(expectContiguous(evs)).toBe(true)
      expect(model.requests[1]!.messages).toEqual([
        { role: "user", content: "one" },
        { role: "assistant", content: "reply 0" },
        { role: "user", content: "two" }
      ])
      // the first request did not see the queued second message
      expect(model.requests[0]!.messages).toEqual([{ role: "user", content: "one" }])
    }))

  it.scoped("collect merges everything queued during a run into one next turn", () =>
    Effect.gen(function* () {
      const { svc, model } = yield* setup((_, n) => answer([`r${n}`], 100), { mailboxCapacity: 5 })
      const sub = yield* collect(svc, "c", 2)
      yield* svc.send("c", "first", { queueMode: "collect" })
      yield* TestClock.adjust(10)
      const a = yield* svc.send("c", "second")
      const b = yield* svc.send("c", "third")
      yield* TestClock.adjust(100)
      yield* TestClock.adjust(100)
      const evs = yield* Fiber.join(sub)
      expect(model.requests.length).toBe(2)
      expect(model.requests[1]!.messages.at(-1)).toEqual({ role: "user", content: "second\n\nthird" })
      const users = evs.filter((e) => e._tag === "UserMessage")
      expect(users[1]!.runId).toBe(users[2]!.runId)
      expect(users.map((u) => u.seq).slice(1)).toEqual([a.seq, b.seq])
      const runStarts = evs.filter((e) => e._tag === "RunStarted")
      expect(runStarts[1]!.runId).toBe(users[1]!.runId)
    }))

  it.scoped("interrupt stops the current run (reason interrupted) and starts the new message", () =>
    Effect.gen(function* () {
      const { svc, model } = yield* setup((_, n) => (n === 0 ? answer(["a", "b", "c", "d"], 100) : answer(["new"])))
      const sub = yield* collect(svc, "c", 2)
      yield* svc.send("c", "long one")
      yield* TestClock.adjust(250)
      yield* svc.send("c", "never mind", { queueMode: "interrupt" })
      yield* TestClock.adjust(0)
      const evs = yield* Fiber.join(sub)
      const ends = evs.filter((e) => e._tag === "RunEnded")
      expect(ends.map((e) => e.reason)).toEqual(["interrupted", "completed"])
      const finals = evs.filter((e) => e._tag === "Final")
      expect(finals[0]).toMatchObject({ text: "ab", interrupted: true })
      expect(finals[1]).toMatchObject({ text: "new" })
      expect(model.aborted).toBe(1)
      expect(model.requests[1]!.messages).toEqual([
        { role: "user", content: "long one" },
        { role: "assistant", content: "ab" },
        { role: "user", content: "never mind" }
      ])
    }))

  it.scoped("a full mailbox answers MailboxFull, never drops", () =>
    Effect.gen(function* () {
      const { svc } = yield* setup(() => answer(["x"], 1000), { mailboxCapacity: 2 })
      yield* svc.send("c", "running")
      yield* TestClock.adjust(1)
      yield* svc.send("c", "queued 1")
      yield* svc.send("c", "queued 2")
      const full = yield* Effect.either(svc.send("c", "one too many"))
      expect(Either.isLeft(full) && full.left).toMatchObject({ _tag: "MailboxFull", conversationId: "c", capacity: 2 })
      yield* TestClock.adjust(1000)
      expect(Either.isRight(yield* Effect.either(svc.send("c", "room again")))).toBe(true)
      const history = yield* svc.history("c")
      expect(history.filter((m) => m.role === "user").map((m) => m.text)).toEqual(["running", "queued 1", "queued 2", "room again"])
    }))

  it.scoped("stop aborts the model stream, ends the run stopped and keeps the partial reply", () =>
    Effect.gen(function* () {
      const { svc, model } = yield* setup(() => answer(["Partial ", "text ", "never"], 100))
      const sub = yield* collect(svc, "c")
      yield* svc.send("c", "go")
      yield* TestClock.adjust(250)
      expect(yield* svc.stop("c", "wrong-run-id")).toBe(false)
      expect(yield* svc.stop("c")).toBe(true)
      const evs = yield* Fiber.join(sub)
      expect(model.aborted).toBe(1)
      expect(evs.at(-1)).toMatchObject({ _tag: "RunEnded", reason: "stopped" })
      expect(evs.at(-2)).toMatchObject({ _tag: "Final", text: "Partial text ", interrupted: true })
      expect(expectContiguous(evs)).toBe(true)
      const history = yield* svc.history("c")
      expect(history[1]).toMatchObject({ role: "assistant", text: "Partial text ", status: "interrupted", interrupted: true })
      expect(yield* svc.stop("c")).toBe(false)
      expect(yield* svc.stop("c", evs[1]!.runId)).toBe(false)
      expect(yield* svc.stop("unknown")).toBe(false)
    }))

  it.scoped("a failing or defective run ends with Error + RunEnded{failed}; everything else keeps working", () =>
    Effect.gen(function* () {
      const { svc } = yield* setup((req) => {
        const text = req.messages.at(-1)!.content
        if (text === "fail") return [...answer(["half"]).slice(0, 2), { _tag: "Fail", error: new ModelError.Overloaded({ message: "busy" }) }]
        if (text === "die") return [...answer(["x"]).slice(0, 2), { _tag: "Die", message: "boom" }]
        return answer([`ok: ${text}`])
      })
      const a = yield* collect(svc, "a")
      const b = yield* collect(svc, "b")
      yield* svc.send("a", "fail")
      yield* svc.send("b", "die")
      const evA = yield* Fiber.join(a)
      const evB = yield* Fiber.join(b)
      expect(evA.slice(-2)).toMatchObject([{ _tag: "Error", error: { tag: "Overloaded", message: "busy", retryable: true } }, { _tag: "RunEnded", reason: "failed" }])
      expect(evB.slice(-2)).toMatchObject([{ _tag: "Error", error: { tag: "Defect", message: "boom" } }, { _tag: "RunEnded", reason: "failed" }])
      // the history keeps why the reply failed
      expect((yield* svc.history("a"))[1]).toMatchObject({ status: "failed", text: "half", error: { tag: "Overloaded", message: "busy" } })
      expect((yield* svc.history("b"))[1]).toMatchObject({ status: "failed", error: { tag: "Defect", message: "boom" } })
      // the same actors run the next turn, and a third conversation is fine
      const again = yield* collect(svc, "a", 1, evA.at(-1)!.seq)
      const other = yield* collect(svc, "c")
      yield* svc.send("a", "hello")
      yield* svc.send("c", "hey")
      // the failed turn's question is still unanswered, so it goes along with the next one
      expect((yield* Fiber.join(again)).at(-2)).toMatchObject({ _tag: "Final", text: "ok: fail\n\nhello" })
      expect((yield* Fiber.join(other)).at(-2)).toMatchObject({ _tag: "Final", text: "ok: hey" })
    }))

  it.scoped("group commit: concurrent conversations share transactions, and send returns only once its message is committed", () =>
    Effect.gen(function* () {
      const inner = Context.get(yield* Layer.build(SqliteStore.layerMemory()), ConversationStore.ConversationStore)
      const committed = new Set<string>()
      const sizes: Array<number> = []
      // A store whose transactions take a while (other fibers run meanwhile), recording what is durable.
      const slow: ConversationStore.ConversationStoreService = {
        ...inner,
        commit: (c) => slow.commitMany([c]),
        commitMany: (cs) =>
          Effect.gen(function* () {
            sizes.push(cs.length)
            for (let i = 0; i < 5; i++) yield* Effect.yieldNow()
            yield* inner.commitMany(cs)
            for (const c of cs) for (const m of c.messages) committed.add(m.id)
          })
      }
      const model = makeModel(() => answer(["a", "b"]))
      const rt = yield* runtime.make().pipe(
        Effect.provideService(ConversationStore.ConversationStore, slow),
        Effect.provide(model.layer)
      )
      const acks = yield* Effect.forEach(
        Array.from({ length: 20 }, (_, i) => `gc${i}`),
        (id) =>
          Effect.map(rt.service.send(id, `hello ${id}`), (a) => ({ id, messageId: a.messageId, durable: committed.has(a.messageId) })),
        { concurrency: "unbounded" }
      )
      expect(acks.every((a) => a.durable)).toBe(true)
      expect(Math.max(...sizes)).toBeGreaterThan(1)
      for (const a of acks) expect((yield* inner.messages(a.id)).some((m) => m.id === a.messageId)).toBe(true)
    }))
})
