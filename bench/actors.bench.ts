/**
 * Conversations actors: memory of idle active actors, activation rate, events/s into SQLite,
 * send → first event latency, n conversations streaming at once. Run:
 * `node --expose-gc --import tsx bench/run.ts actors`
 * (ACTORS=100000 by default).
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Context, Effect, Exit, Fiber, Layer, Scope, Stream } from "effect"
import * as ConversationStore from "../packages/core/src/ConversationStore.js"
import * as runtime from "../packages/core/src/internal/conversations/runtime.js"
import * as Model from "../packages/core/src/Model.js"
import type { ReplyEvent } from "../packages/core/src/ReplyEvent.js"
import * as SqliteStore from "../packages/core/src/sqlite/SqliteStore.js"

const gc = (globalThis as { gc?: () => void }).gc
const settle = () => {
  for (let i = 0; i < 4; i++) gc?.()
  return process.memoryUsage()
}

const instantModel: Model.ModelService = {
  name: "bench",
  stream: () =>
    Stream.fromIterable([
      { _tag: "MessageStart", messageId: "m", model: "bench", usage: { inputTokens: 1, outputTokens: 0 } },
      { _tag: "TextDelta", index: 0, text: "Hello there." },
      { _tag: "TextEnd", index: 0 },
      { _tag: "MessageEnd" }
    ] as const)
}

const build = <A, E>(layer: Layer.Layer<A, E>) =>
  Effect.runPromise(
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      const ctx = yield* Layer.buildWithScope(layer, scope)
      return { ctx, close: () => Effect.runPromise(Scope.close(scope, Exit.void)) }
    })
  )

const memory = async (n: number) => {
  const { ctx, close } = await build(Layer.merge(SqliteStore.layerMemory(), Layer.succeed(Model.Model, instantModel)))
  const scope = await Effect.runPromise(Scope.make())
  const rt = await Effect.runPromise(runtime.make({ idleTimeToLive: "1 hour" }).pipe(Effect.provide(ctx), Scope.extend(scope)))
  const before = settle()
  const t0 = performance.now()
  for (let i = 0; i < n; i++) await Effect.runPromise(rt.activate(`conv-${i}`))
  const dt = performance.now() - t0
  const after = settle()
  console.log(`activation: ${n} actors in ${dt.toFixed(0)} ms = ${Math.round(n / (dt / 1000))}/s (each loads its row from SQLite)`)
  console.log(
    `idle active actor (never used): heap ${((after.heapUsed - before.heapUsed) / n).toFixed(0)} B, rss ${((after.rss - before.rss) / n).toFixed(0)} B per actor (active=${rt.active()})`
  )
  // actors that ran one turn and have a subscriber-less PubSub-free idle state
  const m = Math.min(n, Number(process.env.USED ?? 2000))
  const before2 = settle()
  for (let i = 0; i < m; i++) {
    await Effect.runPromise(rt.service.send(`used-${i}`, "hi"))
  }
  await new Promise((r) => setTimeout(r, 500))
  const after2 = settle()
  console.log(`idle active actor after one turn (${m}): heap ${((after2.heapUsed - before2.heapUsed) / m).toFixed(0)} B per actor (incl. SQLite page cache growth)`)
  await Effect.runPromise(Scope.close(scope, Exit.void))
  await close()
}

const cpuMicros = (c0: NodeJS.CpuUsage) => {
  const c = process.cpuUsage(c0)
  return c.user + c.system
}

const blockEvent = (id: string, seq: number, index: number): ReplyEvent => ({
  _tag: "Block", seq, conversationId: id, runId: "r", at: 0, index, text: "x".repeat(200)
})
const conversationRecord = (id: string, next: number): ConversationStore.ConversationRecord => ({
  id, title: "t", nextSeq: next, queueMode: "followup", createdAt: 0, updatedAt: 0, prunedBefore: 1
})

const eventsPerSecond = async () => {
  const dir = mkdtempSync(join(tmpdir(), "sluice-bench-"))
  try {
    const { ctx, close } = await build(SqliteStore.layer({ dataDir: dir, compactDrafts: false }))
    const store = Context.get(ctx, ConversationStore.ConversationStore)
    for (const batch of [1, 10, 50]) {
      const total = 20_000
      let seq = 1
      const id = `c-${batch}`
      const t0 = performance.now()
      const c0 = process.cpuUsage()
      for (let i = 0; i < total / batch; i++) {
        const events: Array<ReplyEvent> = []
        for (let j = 0; j < batch; j++) events.push(blockEvent(id, seq++, j))
        await Effect.runPromise(store.commit({ conversation: conversationRecord(id, seq), messages: [], runs: [], events }))
      }
      const dt = performance.now() - t0
      console.log(
        `SQLite (file, WAL, synchronous=NORMAL): ${batch} event(s)/commit → ${Math.round(total / (dt / 1000))} events/s (${(cpuMicros(c0) / total).toFixed(1)} µs CPU/event)`
      )
    }
    // Group commit as the runtime does it: one transaction holds one commit (1 event) of each of n conversations.
    for (const n of [100, 1000]) {
      const rounds = Math.max(5, Math.round(20_000 / n))
      const t0 = performance.now()
      const c0 = process.cpuUsage()
      for (let r = 1; r <= rounds; r++) {
        const commits = Array.from({ length: n }, (_, i) => ({
          conversation: conversationRecord(`g${n}-${i}`, r + 1), messages: [], runs: [], events: [blockEvent(`g${n}-${i}`, r, 0)]
        }))
        await Effect.runPromise(store.commitMany(commits))
      }
      const dt = performance.now() - t0
      console.log(
        `SQLite group commit: ${n} conversations × 1 event per transaction → ${Math.round((rounds * n) / (dt / 1000))} events/s (${(cpuMicros(c0) / (rounds * n)).toFixed(1)} µs CPU/event)`
      )
    }
    await close()
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** A model that streams `K` paragraphs, one per chunk, yielding between them (so runs interleave). */
const K = 20
const paragraphModel: Model.ModelService = {
  name: "bench-paragraphs",
  stream: () =>
    Stream.make({ _tag: "MessageStart", messageId: "m", model: "bench", usage: { inputTokens: 1, outputTokens: 0 } } as const).pipe(
      Stream.concat(
        Stream.range(1, K).pipe(
          Stream.mapEffect((i) =>
            Effect.as(Effect.yieldNow(), { _tag: "TextDelta", index: 0, text: `Paragraph ${i} with some words in it, long enough.\n\n` } as const)
          )
        )
      ),
      Stream.concat(Stream.make({ _tag: "TextEnd", index: 0 } as const, { _tag: "MessageEnd" } as const))
    )
}

const noopStore = Layer.succeed(ConversationStore.ConversationStore, {
  load: () => Effect.succeed(undefined),
  commit: () => Effect.void,
  commitMany: () => Effect.void,
  findClientMessage: () => Effect.succeed(undefined),
  unanswered: () => Effect.succeed([]),
  events: () => Effect.succeed([]),
  history: () => Effect.succeed([]),
  messages: () => Effect.succeed([]),
  runs: () => Effect.succeed([]),
  list: () => Effect.succeed([]),
  remove: () => Effect.void
})

/**
 * n conversations streaming at once through the runtime (model → pipeline → events → group
 * commit), each with a subscriber. Run against SQLite and against a store that writes nothing,
 * so the difference is what persistence costs.
 */
const concurrent = async (n: number, kind: "sqlite" | "noop") => {
  const dir = mkdtempSync(join(tmpdir(), "sluice-bench-"))
  try {
    const store = kind === "sqlite" ? SqliteStore.layer({ dataDir: dir }) : noopStore
    const { ctx, close } = await build(Layer.merge(store, Layer.succeed(Model.Model, paragraphModel)))
    const scope = await Effect.runPromise(Scope.make())
    const rt = await Effect.runPromise(runtime.make().pipe(Effect.provide(ctx), Scope.extend(scope)))
    const round = (prefix: string, m: number) =>
      Effect.runPromise(
        Effect.forEach(
          Array.from({ length: m }, (_, i) => `${prefix}-${i}`),
          (id) =>
            Effect.gen(function* () {
              let count = 0
              const sub = yield* rt.service.subscribe(id).pipe(
                Stream.tap(() => Effect.sync(() => count++)),
                Stream.takeUntil((e) => e._tag === "RunEnded"),
                Stream.runDrain,
                Effect.fork
              )
              yield* rt.service.send(id, "hello")
              yield* Fiber.join(sub)
              return count
            }),
          { concurrency: "unbounded" }
        )
      )
    await round("warm", 50)
    const t0 = performance.now()
    const c0 = process.cpuUsage()
    const counts = await round("run", n)
    const dt = performance.now() - t0
    const total = counts.reduce((a, b) => a + b, 0)
    console.log(
      `${n} conversations streaming at once (${kind === "sqlite" ? "SQLite file" : "no-op store"}): ${total} events in ${dt.toFixed(0)} ms → ${Math.round(total / (dt / 1000))} events/s (${(cpuMicros(c0) / total).toFixed(0)} µs CPU/event, all of model → pipeline → runtime → store)`
    )
    await Effect.runPromise(Scope.close(scope, Exit.void))
    await close()
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

const latency = async () => {
  const dir = mkdtempSync(join(tmpdir(), "sluice-bench-"))
  try {
    const { ctx, close } = await build(
      Layer.merge(SqliteStore.layer({ dataDir: dir }), Layer.succeed(Model.Model, instantModel))
    )
    const scope = await Effect.runPromise(Scope.make())
    const rt = await Effect.runPromise(runtime.make().pipe(Effect.provide(ctx), Scope.extend(scope)))
    const first: Array<number> = []
    const reply: Array<number> = []
    for (let i = 0; i < 300; i++) {
      const id = `lat-${i % 50}`
      await Effect.runPromise(
        Effect.gen(function* () {
          let t0 = 0
          let tRun = 0
          let tOut = 0
          const seenFrom = (yield* rt.service.list()).find((c) => c.conversationId === id)?.lastSeq ?? 0
          const sub = yield* rt.service.subscribe(id, { fromSeq: seenFrom }).pipe(
            Stream.tap((e) =>
              Effect.sync(() => {
                const now = performance.now()
                if (e._tag === "RunStarted" && tRun === 0) tRun = now
                if ((e._tag === "Block" || e._tag === "Draft" || e._tag === "Final") && tOut === 0) tOut = now
              })
            ),
            Stream.takeUntil((e) => e._tag === "RunEnded"),
            Stream.runDrain,
            Effect.fork
          )
          yield* Effect.sleep(1)
          t0 = performance.now()
          yield* rt.service.send(id, "hello")
          yield* Fiber.join(sub)
          if (i >= 50) {
            first.push(tRun - t0)
            reply.push(tOut - t0)
          }
        })
      )
    }
    const pct = (xs: Array<number>, p: number) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) * p)]!.toFixed(2)
    console.log(`send → RunStarted: p50 ${pct(first, 0.5)} ms, p99 ${pct(first, 0.99)} ms; send → first reply output: p50 ${pct(reply, 0.5)} ms, p99 ${pct(reply, 0.99)} ms (SQLite file, instant model, ${first.length} sends)`)
    await Effect.runPromise(Scope.close(scope, Exit.void))
    await close()
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

export default async () => {
  if (gc === undefined) console.log("(run with node --expose-gc for memory numbers)")
  await latency()
  await eventsPerSecond()
  for (const n of [100, 1000]) {
    await concurrent(n, "sqlite")
    await concurrent(n, "noop")
  }
  await memory(Number(process.env.ACTORS ?? 100_000))
}
