/**
 * Model faults at random, measured from outside: the gateway as users start it, the real SDK, and
 * the fake Anthropic server answering each request with a fault drawn at random (`faultyFake.ts`).
 * Conversations run in parallel, each sending its messages one after another over one WebSocket.
 * For every run:
 *
 * - it ends in a defined state: exactly one `RunEnded` (completed, or failed after an `Error` event);
 * - no text twice: a completed run's `Final` is exactly one copy of the answer; the preview (Drafts
 *   since the last `Rollback`) and the Blocks since the last `Rollback` are always a prefix of it.
 *
 * After the last run: no upstream request left open (the fake's count of unfinished requests), and
 * the gateway's open file descriptors (sockets included), Effect fibers (`SLUICE_FIBER_METRICS=1`)
 * and event-loop timers back where they were before the runs.
 */
import { mkdtempSync, readdirSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import WebSocket from "ws"
import { applyDraft } from "../../packages/core/src/ReplyEvent.js"
import { start } from "../streaming/procs.js"
import { metricValue, scrapeMetrics, startGateway } from "./gateway.js"
import { answerFor } from "./faultyFake.js"

export interface FaultsOptions {
  readonly conversations: number
  readonly runsEach: number
  readonly seed: number
}

export interface FaultsResult {
  readonly runs: number
  readonly reasons: Readonly<Record<string, number>>
  readonly upstreamRequests: number
  readonly byFault: Readonly<Record<string, number>>
  readonly rollbacks: number
  /** What `checkRun` found, over all runs (text twice, a missing or doubled end, …). */
  readonly runFaults: number
  readonly pendingUpstream: number
  readonly fds: { readonly before: number; readonly after: number }
  /** Effect fibers alive (SLUICE_FIBER_METRICS=1) and event-loop timers, from /metrics. */
  readonly fibers: { readonly before: number; readonly after: number }
  readonly timers: { readonly before: number; readonly after: number }
  readonly failures: ReadonlyArray<string>
  readonly ms: number
}

interface Ev {
  readonly _tag: string
  readonly seq: number
  readonly runId: string
  readonly offset?: number
  readonly text?: string
  readonly reason?: string
}

const here = dirname(fileURLToPath(import.meta.url))
const fdCount = (pid: number) => readdirSync(`/proc/${pid}/fd`).length
const squash = (s: string) => s.replace(/\s+/g, "")

/** Live fibers and timers, from the gateway's /metrics. */
const live = async (port: number): Promise<{ fibers: number; timers: number }> => {
  const text = await scrapeMetrics(port)
  return { fibers: metricValue(text, "effect_fiber_active"), timers: metricValue(text, 'nodejs_active_resources{type="Timeout"}') }
}

/** One run's events against the answer its prompt gets; the faults found, as text. */
export const checkRun = (events: ReadonlyArray<Ev>, answer: string, who: string): ReadonlyArray<string> => {
  const out: Array<string> = []
  const ends = events.filter((e) => e._tag === "RunEnded")
  if (ends.length !== 1) out.push(`${who}: ${ends.length} RunEnded`)
  const finals = events.filter((e) => e._tag === "Final")
  const reason = ends[0]?.reason
  if (reason === "completed" && (finals.length !== 1 || finals[0]!.text !== answer)) {
    out.push(`${who}: completed with Final ${JSON.stringify(finals.map((f) => f.text))}, expected one copy of ${JSON.stringify(answer)}`)
  }
  if (reason === "failed" && !events.some((e) => e._tag === "Error")) out.push(`${who}: failed without an Error event`)
  let preview = ""
  let blocks = ""
  for (const e of events) {
    if (e._tag === "Rollback") {
      preview = ""
      blocks = ""
    } else if (e._tag === "Draft") {
      preview = applyDraft(preview, { offset: e.offset!, text: e.text! })
      if (!answer.startsWith(preview)) out.push(`${who}: preview ${JSON.stringify(preview)} is not a prefix of the answer`)
    } else if (e._tag === "Block") {
      blocks += e.text!
      if (!squash(answer).startsWith(squash(blocks))) out.push(`${who}: Blocks ${JSON.stringify(blocks)} are not a prefix of the answer`)
    }
  }
  return out
}

export const runFaults = async (o: FaultsOptions): Promise<FaultsResult> => {
  const t0 = Date.now()
  const dir = mkdtempSync(join(tmpdir(), "sluice-stress-faults-"))
  const fake = start(["--import", "tsx", join(here, "faultyFake.ts")], { SEED: String(o.seed) })
  let gateway: ReturnType<typeof start> | undefined
  try {
    const { url: fakeUrl } = JSON.parse(await fake.line((l) => l.startsWith("{\"url\""), 20_000)) as { url: string }
    const started = await startGateway({
      dir,
      config: {
        gateway: { limits: { maxRunsPerPrincipal: 10_000, messagesPerSecond: 1000, burst: 1000 } },
        // Idle conversations passivate after 1 s, so after the runs nothing of theirs should stay.
        conversations: { idleTimeToLiveMs: 1000 },
        model: {
          timeouts: { connectMs: 2000, firstTokenMs: 2000, idleMs: 400, totalMs: 15_000 },
          retry: { maxAttempts: 4, baseDelayMs: 10, maxDelayMs: 40, maxRetryAfterMs: 50 }
        }
      },
      env: { ANTHROPIC_API_KEY: "stress-key", ANTHROPIC_BASE_URL: fakeUrl, SLUICE_FIBER_METRICS: "1" }
    })
    gateway = started.proc
    const port = started.port
    const pid = gateway.child.pid!
    const fdsBefore = fdCount(pid)
    const liveBefore = await live(port)
    const deadline = Date.now() + (o.runsEach * 3 + 60) * 1000
    const reasons: Record<string, number> = {}
    const failures: Array<string> = []
    let rollbacks = 0
    let runs = 0
    await Promise.all(
      Array.from({ length: o.conversations }, (_, c) =>
        new Promise<void>((resolve, reject) => {
          const conversationId = `faults-${o.seed}-${c}`
          const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/ws`)
          let sent = 0
          let subscribed = false
          const byRun = new Map<string, Array<Ev>>()
          const timer = setTimeout(() => reject(new Error(`${conversationId}: ${sent} of ${o.runsEach} runs before the deadline`)), deadline - Date.now())
          const next = () => {
            sent++
            const prompt = `c${c} r${sent}`
            ws.send(JSON.stringify({ type: "send", id: sent, conversationId, text: prompt }))
          }
          ws.on("error", reject)
          ws.on("open", () => ws.send(JSON.stringify({ type: "hello", protocol: 1, encoding: "json" })))
          ws.on("message", (data) => {
            const f = JSON.parse(String(data)) as { type: string; id?: number; ok?: boolean; result?: { seq: number }; error?: unknown; event?: Ev; events?: Array<Ev> }
            if (f.type === "welcome") next()
            else if (f.type === "res" && f.id !== undefined && f.id > 0 && f.id <= o.runsEach) {
              if (!f.ok) return reject(new Error(`${conversationId}: send ${f.id} refused: ${JSON.stringify(f.error)}`))
              if (!subscribed) {
                subscribed = true
                ws.send(JSON.stringify({ type: "subscribe", id: 10_000, conversationId, fromSeq: f.result!.seq - 1 }))
              }
            } else if (f.type === "event" || f.type === "batch") {
              for (const e of f.type === "event" ? [f.event!] : f.events!) {
                const list = byRun.get(e.runId) ?? []
                byRun.set(e.runId, list)
                list.push(e)
                if (e._tag !== "RunEnded") continue
                // The run answers the prompt of its UserMessage.
                const prompt = list.find((x) => x._tag === "UserMessage")?.text ?? "?"
                runs++
                reasons[e.reason!] = (reasons[e.reason!] ?? 0) + 1
                rollbacks += list.filter((x) => x._tag === "Rollback").length
                const found = checkRun(list, answerFor(prompt).join(""), `${conversationId} ${prompt}`)
                failures.push(...found)
                byRun.delete(e.runId)
                if (sent < o.runsEach) next()
                else {
                  clearTimeout(timer)
                  ws.close()
                  resolve()
                }
              }
            }
          })
        })
      )
    )
    // Settle (and passivate), then ask the fake what is still open.
    await new Promise((r) => setTimeout(r, 2500))
    fake.send("stats")
    const { stats } = JSON.parse(await fake.line((l) => l.startsWith("{\"stats\""), 10_000)) as {
      stats: { pending: number; requests: number; byFault: Record<string, number> }
    }
    const fdsAfter = fdCount(pid)
    const liveAfter = await live(port)
    if (liveAfter.fibers > liveBefore.fibers + 4) failures.push(`live fibers ${liveBefore.fibers} → ${liveAfter.fibers} after the last run`)
    if (liveAfter.timers > liveBefore.timers + 4) failures.push(`live timers ${liveBefore.timers} → ${liveAfter.timers} after the last run`)
    const runFaults = failures.length
    if (stats.pending > 0) failures.push(`${stats.pending} upstream requests still open after the last run`)
    if (fdsAfter > fdsBefore + 8) failures.push(`gateway file descriptors ${fdsBefore} → ${fdsAfter}`)
    return {
      runs,
      reasons,
      upstreamRequests: stats.requests,
      byFault: stats.byFault,
      rollbacks,
      runFaults,
      pendingUpstream: stats.pending,
      fds: { before: fdsBefore, after: fdsAfter },
      fibers: { before: liveBefore.fibers, after: liveAfter.fibers },
      timers: { before: liveBefore.timers, after: liveAfter.timers },
      failures,
      ms: Date.now() - t0
    }
  } finally {
    await gateway?.stop()
    await fake.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}
