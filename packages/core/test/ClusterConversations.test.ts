/**
 * `ClusterConversations` in one process on the machine's PostgreSQL (a database of its own per
 * test): the same events as the SQLite runtime, idempotent sends, a dead owner's run closed and
 * its unanswered turn answered when the conversation is taken over, and the cap on resident
 * conversations. Skipped, saying so, where no PostgreSQL answers (fakes/postgres.ts).
 */
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Context, Effect, Layer, Redacted, Stream } from "effect"
import { database, pgUnavailable } from "../fakes/postgres.js"
import * as Cluster from "../src/cluster/ClusterConversations.js"
import { ConversationStore, Conversations, type ReplyEvent } from "../src/index.js"
import * as PgStore from "../src/pg/PgStore.js"
import * as SqliteStore from "../src/sqlite/SqliteStore.js"
import { answer } from "./fixtures/testModel.js"
import { makeModel } from "./fixtures/testModel.js"
import { createServer } from "node:net"

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number }
      s.close(() => resolve(port))
    })
  })

/** A runner on `url`, in the test's scope. */
const runnerOn = (url: string, model: Layer.Layer<import("../src/Model.js").Model>, options: Partial<Cluster.Options> = {}) =>
  Effect.gen(function* () {
    const port = yield* Effect.promise(freePort)
    const ctx = yield* Layer.build(
      Cluster.layer({ databaseUrl: Redacted.make(url), runnerPort: port, ownerWait: "2 seconds", ...options }).pipe(Layer.provide(model))
    )
    return { svc: Context.get(ctx, Conversations.Conversations), store: Context.get(ctx, ConversationStore.ConversationStore) }
  })

const untilEnded = (svc: Conversations.ConversationsService, id: string, runs = 1) => {
  let seen = 0
  return svc.subscribe(id, { fromSeq: 0 }).pipe(
    Stream.takeUntil((e) => e._tag === "RunEnded" && ++seen >= runs),
    Stream.runCollect,
    Effect.map(Chunk.toReadonlyArray),
    Effect.timeout("30 seconds")
  )
}
/** What a client sees, without what differs between two runs by nature (times, ids). */
const shape = (events: ReadonlyArray<ReplyEvent.ReplyEvent>) =>
  events.map((e) => {
    const { at: _at, runId: _runId, conversationId: _c, ...rest } = e as Record<string, unknown>
    return "messageId" in rest ? { ...rest, messageId: "…" } : rest
  })

const withDb = <A, E, R>(f: (url: string) => Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(
    Effect.promise(() => database()),
    (db) => f(db.url),
    (db) => Effect.promise(() => db[Symbol.asyncDispose]())
  )

const script = () => answer(["Locks ", "raise ", "boats ", "between ", "levels."], 5)

describe.skipIf(pgUnavailable !== undefined)("ClusterConversations (PostgreSQL)", () => {
  it.live("a conversation on a runner streams the same events, with the same seqs, as on SQLite", () =>
    withDb((url) =>
      Effect.gen(function* () {
        const { svc } = yield* runnerOn(url, makeModel(script).layer)
        yield* svc.send("c", "How do locks work?")
        const clustered = yield* untilEnded(svc, "c")
        const local = yield* Effect.gen(function* () {
          const ctx = yield* Layer.build(SqliteStore.layerConversationsMemory().pipe(Layer.provide(makeModel(script).layer)))
          const s = Context.get(ctx, Conversations.Conversations)
          yield* s.send("c", "How do locks work?")
          return yield* untilEnded(s, "c")
        })
        expect(shape(clustered)).toEqual(shape(local))
        // Listed with its real last seq (not the row's reservation for Drafts).
        expect((yield* svc.list()).map((c) => [c.conversationId, c.lastSeq, c.running])).toEqual([["c", clustered.at(-1)!.seq, false]])
        expect((yield* svc.history("c")).map((m) => [m.role, m.text, m.status])).toEqual([
          ["user", "How do locks work?", "complete"],
          ["assistant", "Locks raise boats between levels.", "complete"]
        ])
      }).pipe(Effect.scoped)
    ), 60_000)

  it.live("a send retried with its clientMessageId is accepted once and answered once", () =>
    withDb((url) =>
      Effect.gen(function* () {
        const model = makeModel(script)
        const { svc } = yield* runnerOn(url, model.layer)
        const first = yield* svc.send("c", "once", { clientMessageId: "k-1" })
        const again = yield* svc.send("c", "once", { clientMessageId: "k-1" })
        expect(again).toEqual({ ...first, duplicate: true })
        yield* untilEnded(svc, "c")
        expect((yield* svc.history("c")).filter((m) => m.role === "user").length).toBe(1)
        expect(model.rec.requests.length).toBe(1)
      }).pipe(Effect.scoped)
    ), 60_000)

  it.live("taking a conversation over closes the run its dead owner left running and answers the turn it had queued", () =>
    withDb((url) =>
      Effect.gen(function* () {
        // What a killed owner leaves in the store: a run `running` with its reply's checkpoint,
        // seqs reserved past its last event, and an accepted message whose run never started.
        yield* Effect.gen(function* () {
          const ctx = yield* Layer.build(PgStore.layer({ url: Redacted.make(url) }))
          const store = Context.get(ctx, ConversationStore.ConversationStore)
          const base = { conversationId: "c", at: 1 }
          yield* store.commit({
            conversation: { id: "c", title: "t", nextSeq: 1030, queueMode: "followup", createdAt: 1, updatedAt: 1, prunedBefore: 1 },
            messages: [
              { id: "u1", conversationId: "c", seq: 1, role: "user", text: "first", runId: "r1", status: "complete", interrupted: false, at: 1 },
              { id: "r1:reply", conversationId: "c", seq: 2, role: "assistant", text: "Half an ans", runId: "r1", status: "streaming", interrupted: false, at: 1 },
              { id: "u2", conversationId: "c", seq: 3, role: "user", text: "second", runId: "r2", status: "complete", interrupted: false, at: 1 }
            ],
            runs: [{ id: "r1", conversationId: "c", firstSeq: 2, status: "running", startedAt: 1 }],
            events: [
              { _tag: "UserMessage", ...base, runId: "r1", seq: 1, messageId: "u1", text: "first" },
              { _tag: "RunStarted", ...base, runId: "r1", seq: 2, level: 1, model: "m" },
              { _tag: "UserMessage", ...base, runId: "r2", seq: 3, messageId: "u2", text: "second" }
            ]
          })
        }).pipe(Effect.scoped)
        const model = makeModel(script)
        const { svc } = yield* runnerOn(url, model.layer)
        const events = yield* untilEnded(svc, "c", 2)
        const closing = events.filter((e) => e.runId === "r1" && e.seq > 3)
        expect(closing.map((e) => [e._tag, e.seq])).toEqual([["Final", 1030], ["RunEnded", 1031]])
        expect(closing[0]).toMatchObject({ text: "Half an ans", interrupted: true })
        expect(events.filter((e) => e.runId === "r2").map((e) => e._tag)).toContain("Final")
        const history = yield* svc.history("c")
        expect(history.map((m) => [m.role, m.text, m.status])).toEqual([
          ["user", "first", "complete"],
          ["assistant", "Half an ans", "interrupted"],
          ["user", "second", "complete"],
          ["assistant", "Locks raise boats between levels.", "complete"]
        ])
        expect(model.rec.requests.length).toBe(1)
      }).pipe(Effect.scoped)
    ), 60_000)

  it.live("a runner holds at most maxResident conversations: an idle one makes room, busy ones refuse a new one", () =>
    withDb((url) =>
      Effect.gen(function* () {
        // Replies that take a while, so two conversations stay busy.
        const slow = makeModel(() => answer(Array.from({ length: 12 }, (_, i) => `w${i} `), 400)).layer
        const { svc } = yield* runnerOn(url, slow, { maxResident: 2, ownerWait: "1 second" })
        yield* svc.send("one", "hi")
        yield* untilEnded(svc, "one")
        // Busy for ~5 s each.
        yield* svc.send("two", "hi")
        yield* svc.send("three", "hi") // "one" is idle: it makes room
        const refused = yield* Effect.flip(svc.send("four", "hi"))
        expect(refused._tag).toBe("StoreError")
        expect(refused.message).toMatch(/send to four: no runner answered/)
        yield* untilEnded(svc, "two")
        yield* untilEnded(svc, "three")
        // Now idle: the fourth gets in, and the first (put away) answers again.
        yield* svc.send("four", "hi")
        yield* svc.send("one", "again")
        expect((yield* untilEnded(svc, "one", 2)).filter((e) => e._tag === "RunEnded").length).toBe(2)
        // The refused send was given up, not left to land later: "four" has the one message.
        yield* untilEnded(svc, "four")
        expect((yield* svc.history("four")).filter((m) => m.role === "user").length).toBe(1)
      }).pipe(Effect.scoped)
    ), 90_000)
})
