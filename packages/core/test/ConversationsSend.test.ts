/**
 * `send` means what it says (accepted only once committed; a failure means not queued), a client
 * idempotency key makes a retry return the first acceptance, and a stalled subscriber costs a
 * bounded outbox and misses nothing.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Context, Effect, Exit, Fiber, Layer, Option, Scope, Stream, TestClock } from "effect"
import fc from "fast-check"
import { ConversationError, ConversationStore, Conversations, type ReplyEvent } from "../src/index.js"
import * as runtime from "../src/internal/conversations/runtime.js"
import * as SqliteStore from "../src/sqlite/SqliteStore.js"
import { collect, expectContiguous, resumedLike, setup, withoutDrafts } from "./fixtures/harness.js"
import { answer, makeModel, sleep } from "./fixtures/testModel.js"

const userMessages = (evs: ReadonlyArray<ReplyEvent.ReplyEvent>) => evs.filter((e) => e._tag === "UserMessage")

describe("Conversations.send", () => {
  it.scoped("a send whose commit fails is not queued: no run, no message, and the next send works", () =>
    Effect.gen(function* () {
      const model = makeModel((_, n) => answer([`reply ${n}`]))
      const ctx = yield* Layer.build(Layer.merge(model.layer, SqliteStore.layerMemory({ compactDrafts: false })))
      const real = Context.get(ctx, ConversationStore.ConversationStore)
      let failing = true
      const broken = new ConversationError.StoreError({ message: "disk full" })
      const store: ConversationStore.ConversationStoreService = {
        ...real,
        commit: (c) => (failing ? Effect.fail(broken) : real.commit(c)),
        commitMany: (cs) => (failing ? Effect.fail(broken) : real.commitMany(cs))
      }
      const rt = yield* runtime.make({}).pipe(
        Effect.provide(Context.add(ctx, ConversationStore.ConversationStore, store))
      )
      const refused = yield* Effect.flip(rt.service.send("c", "lost"))
      expect(refused._tag).toBe("StoreError")
      yield* TestClock.adjust("1 second")
      expect(model.rec.requests.length).toBe(0) // nothing ran
      failing = false
      const sub = yield* collect(rt.service, "c")
      const accepted = yield* rt.service.send("c", "kept")
      yield* TestClock.adjust("1 second")
      const evs = yield* Fiber.join(sub)
      expect(userMessages(evs).map((e) => e.text)).toEqual(["kept"])
      expect(accepted.seq).toBe(1) // the refused message left no seq behind
      expect(expectContiguous(evs)).toBe(true)
      expect((yield* rt.service.history("c")).map((m) => m.text)).toEqual(["kept", "reply 0"])
      expect(model.rec.requests.length).toBe(1)
    }))

  it.scoped("a message accepted while a run builds its request is not in it: it is the next turn's, asked once", () =>
    Effect.gen(function* () {
      const model = makeModel((_, n) => answer([`reply ${n}`]))
      const ctx = yield* Layer.build(Layer.merge(model.layer, SqliteStore.layerMemory({ compactDrafts: false })))
      const real = Context.get(ctx, ConversationStore.ConversationStore)
      const hasSecond = (c: { readonly events: ReadonlyArray<ReplyEvent.ReplyEvent> }) => c.events.some((e) => e._tag === "UserMessage" && e.text === "second")
      // The run reads the history slowly; the second send's commit is visible before its sender resumes.
      const store: ConversationStore.ConversationStoreService = {
        ...real,
        messages: (id) => Effect.zipRight(Effect.sleep("50 millis"), real.messages(id)),
        commit: (c) => Effect.zipLeft(real.commit(c), hasSecond(c) ? Effect.sleep("200 millis") : Effect.void),
        commitMany: (cs) => Effect.zipLeft(real.commitMany(cs), cs.some(hasSecond) ? Effect.sleep("200 millis") : Effect.void)
      }
      const rt = yield* runtime.make({}).pipe(Effect.provide(Context.add(ctx, ConversationStore.ConversationStore, store)))
      yield* rt.service.send("c", "first")
      yield* TestClock.adjust("10 millis") // the run has started and is reading the history
      const second = yield* Effect.fork(rt.service.send("c", "second"))
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(second)
      yield* TestClock.adjust("5 seconds")
      const asked = model.rec.requests.map((r) => r.messages.map((m) => m.content).join(" | "))
      expect(asked).toEqual(["first", "first | reply 0 | second"])
      expect((yield* rt.service.history("c")).map((m) => m.text)).toEqual(["first", "reply 0", "second", "reply 1"])
    }))

  it.scopedLive("idempotent sends (property): a retried clientMessageId returns the first acceptance and never runs twice", () =>
    Effect.gen(function* () {
      const { svc, store, model } = yield* setup((_, n) => answer([`r${n}`]), { compactDrafts: false, mailboxCapacity: 100 })
      let caseNo = 0
      yield* Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(
            fc.array(fc.option(fc.integer({ min: 0, max: 5 }), { nil: undefined }), { minLength: 1, maxLength: 20 }),
            fc.constantFrom("followup" as const, "collect" as const),
            (keys, queueMode) =>
              Effect.runPromise(
                Effect.gen(function* () {
                  const id = `case-${caseNo++}`
                  const requestsBefore = model.requests.length
                  const first = new Map<number, { messageId: string; seq: number }>()
                  let expected = 0
                  for (const k of keys) {
                    const accepted = yield* svc.send(id, `message ${k ?? "no key"}`, {
                      queueMode,
                      ...(k === undefined ? {} : { clientMessageId: `key-${k}` })
                    })
                    if (k === undefined || !first.has(k)) {
                      expected++
                      expect(accepted.duplicate ?? false).toBe(false)
                      if (k !== undefined) first.set(k, { messageId: accepted.messageId, seq: accepted.seq })
                    } else {
                      expect(accepted.duplicate).toBe(true)
                      expect({ messageId: accepted.messageId, seq: accepted.seq }).toEqual(first.get(k))
                    }
                  }
                  // wait until nothing is queued or running any more
                  const idle = Effect.map(svc.list(), (cs) => cs.find((c) => c.conversationId === id)?.running === false)
                  for (let i = 0; i < 2000 && !(yield* idle); i++) yield* Effect.sleep("5 millis")
                  const history = yield* svc.history(id)
                  yield* Effect.sleep("30 millis")
                  const logged = yield* store.events(id, 0)
                  expect(userMessages(logged).length).toBe(expected)
                  expect(history.filter((m) => m.role === "user").length).toBe(expected)
                  const runs = logged.filter((e) => e._tag === "RunEnded").length
                  // each message its own run (followup), or fewer runs collecting them (collect); never more
                  if (queueMode === "followup") expect(runs).toBe(expected)
                  else expect(runs).toBeLessThanOrEqual(expected)
                  expect(model.requests.length - requestsBefore).toBe(runs)
                })
              )
          ),
          { numRuns: 25 }
        )
      )
    }), 120_000)

  it.scoped("a clientMessageId survives a restart: the retry after reopening is still a duplicate", () =>
    Effect.gen(function* () {
      const dataDir = mkdtempSync(join(tmpdir(), "sluice-idem-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dataDir, { recursive: true, force: true })))
      const open = () => {
        const model = makeModel(() => answer(["ok"]))
        return SqliteStore.layerConversations({ dataDir }).pipe(Layer.provide(model.layer))
      }
      const s1 = yield* Scope.make()
      const c1 = yield* Layer.buildWithScope(open(), s1)
      const a1 = yield* Context.get(c1, Conversations.Conversations).send("c", "hello", { clientMessageId: "tg:1:42:7" })
      yield* Scope.close(s1, Exit.void)
      const c2 = yield* Layer.build(open())
      const a2 = yield* Context.get(c2, Conversations.Conversations).send("c", "hello", { clientMessageId: "tg:1:42:7" })
      expect(a2).toEqual({ ...a1, duplicate: true })
    }))
})

describe("Conversations: accepted means answered, across a restart", () => {
  it.scoped("turns still queued when the process stopped run after the restart, once; a turn request's caller is gone, so it does not", () =>
    Effect.gen(function* () {
      const dataDir = mkdtempSync(join(tmpdir(), "sluice-requeue-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dataDir, { recursive: true, force: true })))
      const open = (script: Parameters<typeof makeModel>[0]) => {
        const model = makeModel(script)
        return { model, layer: SqliteStore.layerConversations({ dataDir }).pipe(Layer.provide(model.layer)) }
      }
      // First process: a reply that never finishes, two messages queued behind it, then a stop.
      const first = open(() => [sleep(3_600_000), ...answer(["never"])])
      const s1 = yield* Scope.make()
      const svc1 = Context.get(yield* Layer.buildWithScope(first.layer, s1), Conversations.Conversations)
      yield* svc1.send("c", "first")
      yield* TestClock.adjust("10 millis")
      const second = yield* svc1.send("c", "second")
      yield* svc1.send("c", "third, from an OpenAI caller", { request: { system: "be brief" } })
      expect(first.model.rec.requests.length).toBe(1)
      yield* Scope.close(s1, Exit.void)

      // Second process: the queued plain message is answered; the caller-bound one is not.
      const next = open((_, n) => answer([`reply ${n}`]))
      const s2 = yield* Scope.make()
      const svc2 = Context.get(yield* Layer.buildWithScope(next.layer, s2), Conversations.Conversations)
      yield* TestClock.adjust("1 second")
      expect(next.model.rec.requests.length).toBe(1)
      const asked = next.model.rec.requests[0]!.messages
      expect(asked.at(-1)).toMatchObject({ role: "user" })
      expect(JSON.stringify(asked.at(-1))).toContain("second")
      const history = yield* svc2.history("c")
      expect(history.map((m) => [m.role, m.text, m.status])).toEqual([
        ["user", "first", "complete"],
        ["assistant", "", "interrupted"],
        ["user", "second", "complete"],
        ["assistant", "reply 0", "complete"],
        ["user", "third, from an OpenAI caller", "complete"]
      ])
      // The reply belongs to the run the UserMessage was accepted into.
      const secondUser = history.find((m) => m.messageId === second.messageId)!
      expect(history[3]!.runId).toBe(secondUser.runId)
      yield* Scope.close(s2, Exit.void)

      // Third process: nothing is answered twice.
      const third = open((_, n) => answer([`again ${n}`]))
      const s3 = yield* Scope.make()
      yield* Layer.buildWithScope(third.layer, s3)
      yield* TestClock.adjust("1 second")
      expect(third.model.rec.requests.length).toBe(0)
      yield* Scope.close(s3, Exit.void)
    }))
})

describe("Conversations.subscribe: bounded outbox", () => {
  it.live("a stalled reader (property) holds at most outboxCapacity events, then gets every event exactly once, in order", () =>
    Effect.gen(function* () {
      let caseNo = 0
      yield* Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(fc.integer({ min: 1, max: 16 }), fc.integer({ min: 5, max: 150 }), (capacity, deltas) =>
            Effect.runPromise(
              Effect.scoped(
                Effect.gen(function* () {
                  const id = `s-${caseNo++}`
                  const pieces = Array.from({ length: deltas }, (_, i) => `d${i} `)
                  const { rt, svc, store } = yield* setup(() => answer(pieces), { outboxCapacity: capacity })
                  yield* svc.send(id, "go")
                  const pull = yield* Stream.toPull(svc.subscribe(id))
                  const got: Array<ReplyEvent.ReplyEvent> = [...Chunk.toReadonlyArray(yield* pull)] // the replay; then it stalls
                  // an oracle that looks at the stalled reader's outbox after every event published
                  let most = 0
                  const oracle = yield* svc.subscribe(id).pipe(
                    Stream.tap(() =>
                      Effect.sync(() => {
                        for (const n of rt.outboxLengths(id)) most = Math.max(most, n)
                      })
                    ),
                    Stream.takeUntil((e) => e._tag === "RunEnded"),
                    Stream.runCollect,
                    Effect.map(Chunk.toReadonlyArray),
                    Effect.fork
                  )
                  const all = yield* Fiber.join(oracle)
                  expect(most).toBeLessThanOrEqual(capacity)
                  while (got.at(-1)?._tag !== "RunEnded") {
                    const next = yield* Effect.either(pull)
                    if (next._tag === "Left") throw new Error(`stream ended early: ${String(Option.getOrUndefined(next.left))}`)
                    got.push(...Chunk.toReadonlyArray(next.right))
                  }
                  // everything stored exactly once, in order; the Drafts it had before it stalled
                  const logged = yield* store.events(id, 0)
                  expect(withoutDrafts(got).map((e) => e.seq)).toEqual(logged.map((e) => e.seq))
                  expect(resumedLike(got, all)).toBeUndefined()
                })
              )
            )
          ),
          { numRuns: 20 }
        )
      )
    }), 120_000)
})
