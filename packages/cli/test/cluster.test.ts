/**
 * Several gateways, one cluster (`sluice gateway --cluster`), on the machine's PostgreSQL: any
 * gateway serves any conversation with the same seqs and exact resume, and a runner killed
 * mid-run hands its conversations over within seconds without losing or repeating a message.
 * Skipped, saying so, where no PostgreSQL answers (see ./cluster.ts).
 */
import { writeFileSync } from "node:fs"
import { describe, expect, it } from "vitest"
import { allReady, database, get, pgUnavailable, post, type Runner, runner, type SseEvent, sse, until } from "./cluster.js"
import { tempDir } from "./run.js"

const config = (dir: string, offline: { tokensPerSecond: number; words: number }) => {
  const file = `${dir}/sluice.json`
  writeFileSync(file, JSON.stringify({ model: { provider: "offline", offline }, gateway: { limits: { maxRunsPerPrincipal: 100 } } }))
  return file
}
const stored = (events: ReadonlyArray<SseEvent>) => events.filter((e) => e._tag !== "Draft")
const ended = (events: ReadonlyArray<SseEvent>) => events.filter((e) => e._tag === "RunEnded").length
const increasing = (events: ReadonlyArray<SseEvent>) => events.every((e, i) => i === 0 || e.seq > events[i - 1]!.seq)

/**
 * Two runners (`a`, `b`) on a database of their own with the offline model at `offline`, the
 * shards split evenly between them; both stopped after `f`.
 */
const twoRunners = async (offline: { tokensPerSecond: number; words: number }, f: (a: Runner, b: Runner) => Promise<void>) => {
  await using db = await database()
  using dir = tempDir()
  const file = config(dir.path, offline)
  const runners: Array<Runner> = []
  try {
    runners.push(...(await Promise.all([runner(db.url, file, `${dir.path}/a`), runner(db.url, file, `${dir.path}/b`)])))
    await allReady(runners)
    await f(runners[0]!, runners[1]!)
  } finally {
    await Promise.all(runners.map((r) => r.kill("SIGTERM")))
  }
}

/**
 * Each reader on `base` never noticed an owner change: no seq twice, none out of order, nothing
 * missing against a replay of the log (`runs` runs). Stops the readers; returns how many of their
 * runs ended as interrupted.
 */
const readersSawTheLog = async (base: string, ids: ReadonlyArray<string>, watchers: ReadonlyArray<ReturnType<typeof sse>>, runs: number) => {
  let interrupted = 0
  for (const [i, id] of ids.entries()) {
    const seen = watchers[i]!.events
    watchers[i]!.stop()
    expect(increasing(seen), id).toBe(true)
    expect(stored(seen)).toEqual(await logOf(base, id, runs))
    const ends = seen.filter((e) => e._tag === "RunEnded")
    expect(ends.length, id).toBe(runs)
    interrupted += ends.filter((e) => e.reason === "interrupted").length
  }
  return interrupted
}

/** A conversation's whole retained log through `base`, read to its last run's end. */
const logOf = async (base: string, id: string, runs: number) => {
  const r = sse(base, id, 0)
  await until(() => ended(r.events) >= runs, 30_000, () => `${id}: ${r.events.length} events`)
  r.stop()
  return stored(r.events)
}

describe.skipIf(pgUnavailable !== undefined)("sluice gateway --cluster (PostgreSQL)", () => {
  it("any gateway serves any conversation: the same events and seqs, and a resume on another gateway is exact", () =>
    twoRunners({ tokensPerSecond: 400, words: 60 }, async (a, b) => {
      const ids = ["c1", "c2", "c3", "c4", "c5", "c6"]
      const accepted = []
      for (const id of ids) {
        const r = await post(a.base, `/v1/conversations/${id}/messages`, { text: `question ${id}`, clientMessageId: `q-${id}` })
        expect(r.status).toBe(202)
        accepted.push(r.body)
      }
      // A client retrying through the other gateway (its answer lost) gets the first acceptance back.
      for (const [i, id] of ids.entries()) {
        const again = await post(b.base, `/v1/conversations/${id}/messages`, { text: `question ${id}`, clientMessageId: `q-${id}` })
        expect(again.body).toEqual({ ...accepted[i], duplicate: true })
      }
      // Read through B from the start while A took the sends (the owners are spread over both).
      const watchers = ids.map((id) => sse(b.base, id, 0))
      await until(() => watchers.every((w) => ended(w.events) >= 1), 60_000, () => watchers.map((w) => w.events.length).join(","))
      for (const [i, id] of ids.entries()) {
        const seen = watchers[i]!.events
        watchers[i]!.stop()
        expect(increasing(seen), id).toBe(true)
        expect(seen[0]).toMatchObject({ _tag: "UserMessage", seq: 1 })
        // What B streamed live is what A's log replays: every stored event, same seq, same content.
        expect(stored(seen)).toEqual(await logOf(a.base, id, 1))
        // A client that read through B up to some seq and reconnects to A gets exactly the rest.
        const cut = stored(seen)[3]!.seq
        const resumed = sse(a.base, id, cut)
        await until(() => ended(resumed.events) >= 1, 30_000, () => `${resumed.events.length}`)
        resumed.stop()
        expect(resumed.events).toEqual(stored(seen).filter((e) => e.seq > cut))
        // Histories agree, with the message once.
        const history = await get(b.base, `/v1/conversations/${id}/messages`)
        expect(history).toEqual(await get(a.base, `/v1/conversations/${id}/messages`))
        expect((history.messages as Array<{ role: string }>).filter((m) => m.role === "user").length).toBe(1)
      }
    }), 180_000)

  it("SIGTERM on a runner hands its conversations over: its runs end as interrupted, the others take them at once", () =>
    twoRunners({ tokensPerSecond: 40, words: 150 }, async (a, b) => {
      const ids = Array.from({ length: 10 }, (_, i) => `t${i + 1}`)
      for (const id of ids) expect((await post(b.base, `/v1/conversations/${id}/messages`, { text: `first ${id}` })).status).toBe(202)
      const watchers = ids.map((id) => sse(b.base, id, 0))
      await until(() => watchers.every((w) => w.events.some((e) => e._tag === "Draft")), 60_000, () => "drafts")
      const stoppedAt = Date.now()
      expect(await a.kill("SIGTERM")).toBe(143) // as the gateway always ends on SIGTERM (128 + 15), after its shutdown
      const exitMs = Date.now() - stoppedAt
      const answered = await Promise.all(
        ids.map(async (id) => ({ id, ...(await post(b.base, `/v1/conversations/${id}/messages`, { text: `second ${id}` })), ms: Date.now() - stoppedAt }))
      )
      console.log(`cluster handoff: the runner exited ${exitMs} ms after SIGTERM; every conversation accepted a message ${Math.max(...answered.map((r) => r.ms))} ms after it`)
      for (const r of answered) expect(r.status, r.id).toBe(202)
      await until(() => watchers.every((w) => ended(w.events) >= 2), 90_000, () => watchers.map((w) => `${ended(w.events)}/${w.events.length}`).join(",") + b.out().split("\n").filter((l) => /WARN|ERROR/.test(l)).join("\n"))
      const interrupted = await readersSawTheLog(b.base, ids, watchers, 2)
      expect(interrupted).toBeGreaterThan(0)
      expect(interrupted).toBeLessThan(ids.length)
    }), 240_000)

  it("SIGKILL of a runner mid-run: its conversations answer again within seconds, every accepted message is answered once, readers resume", () =>
    // Replies of ~150 words at 40 tokens/s: the kill lands mid-reply, with the second message queued.
    twoRunners({ tokensPerSecond: 40, words: 150 }, async (a, b) => {
      const ids = Array.from({ length: 10 }, (_, i) => `k${i + 1}`)
      for (const id of ids) {
        expect((await post(b.base, `/v1/conversations/${id}/messages`, { text: `first ${id}` })).status).toBe(202)
        expect((await post(b.base, `/v1/conversations/${id}/messages`, { text: `second ${id}` })).status).toBe(202)
      }
      const watchers = ids.map((id) => sse(b.base, id, 0))
      await until(
        () => watchers.every((w) => w.events.filter((e) => e._tag === "Draft").length >= 3),
        60_000,
        () => watchers.map((w) => w.events.length).join(",")
      )
      const killedAt = Date.now()
      await a.kill("SIGKILL")
      // Each conversation takes a third message through the survivor: how long until every one answers.
      const answered = await Promise.all(
        ids.map(async (id) => {
          const r = await post(b.base, `/v1/conversations/${id}/messages`, { text: `third ${id}`, clientMessageId: `third-${id}` })
          return { id, status: r.status, ms: Date.now() - killedAt }
        })
      )
      const worst = Math.max(...answered.map((r) => r.ms))
      console.log(`cluster failover: every conversation accepted a message ${worst} ms after the SIGKILL (${answered.map((r) => `${r.id} ${r.ms}`).join(", ")})`)
      for (const r of answered) expect(r.status, r.id).toBe(202)
      expect(worst).toBeLessThan(15_000) // @effect/cluster's defaults took ~30 s

      await until(() => watchers.every((w) => ended(w.events) >= 3), 90_000, () => watchers.map((w) => ended(w.events)).join(","))
      const interrupted = await readersSawTheLog(b.base, ids, watchers, 3)
      for (const id of ids) {
        // Every accepted message once, each answered by exactly one run.
        const { messages } = (await get(b.base, `/v1/conversations/${id}/messages`)) as {
          messages: Array<{ role: string; text: string; runId: string; status: string }>
        }
        expect(messages.filter((m) => m.role === "user").map((m) => m.text)).toEqual([`first ${id}`, `second ${id}`, `third ${id}`])
        const replies = messages.filter((m) => m.role === "assistant")
        expect(new Set(replies.map((m) => m.runId)).size).toBe(3)
        for (const m of messages.filter((m) => m.role === "user")) expect(replies.filter((r) => r.runId === m.runId).length).toBe(1)
      }
      // The runs the dead runner owned ended as interrupted (and only those: B's ran to the end).
      expect(interrupted).toBeGreaterThan(0)
      expect(interrupted).toBeLessThan(ids.length)
    }), 240_000)
})
