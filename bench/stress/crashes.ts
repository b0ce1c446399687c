/**
 * Crashes at random points of runs, measured from outside: the gateway as users start it (`sluice
 * gateway`, the bundle, SQLite in a data directory, the real SDK against the streaming fake), and
 * SIGKILL at a random moment while replies stream, then a restart on the same data directory.
 *
 * Each conversation has one client for the whole scenario. It subscribes from seq 0, sends one
 * message at a time (each with a `clientMessageId`; now and then a second one while the reply
 * streams, which queues behind it), and after every kill reconnects to the restarted gateway,
 * resumes from the last seq it saw (a Draft's included) and re-sends the message whose answer it
 * never got, with the same `clientMessageId`. After the last round each client sends a closing
 * message and waits for its reply, the gateway stops, and the data directory is read directly:
 *
 * - the database file passes `PRAGMA integrity_check` after every kill, before the restart;
 * - the events every client received that are not Drafts are exactly the log, once each and in
 *   order (a delivered event is never taken back or changed by a crash, and the recovery's closing
 *   events get seqs past any Draft a client saw, so a resume finds them);
 * - every run in the log has exactly one `RunEnded`; a run the kill cut is `interrupted`, with a
 *   `Final{interrupted}` and its message row marked, and no run or message is left `running` /
 *   `streaming`;
 * - every message the gateway acknowledged is in the log exactly once (also across the re-send),
 *   and in the messages table, and is answered: a message still queued behind a run when the
 *   gateway died runs after the restart (counted; any left unanswered is a fault).
 *
 * Bounded: a fixed number of rounds and conversations, replies of at most 2 s, a deadline per
 * round; every process started is stopped.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { createRequire } from "node:module"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import WebSocket from "ws"
import { freePort, start } from "../streaming/procs.js"
import { startGateway } from "./gateway.js"
import { seeded } from "./random.js"

export interface CrashesOptions {
  readonly rounds: number
  readonly conversations: number
  readonly seed: number
}

export interface CrashesResult {
  readonly kills: number
  readonly runs: number
  readonly reasons: Readonly<Record<string, number>>
  readonly accepted: number
  readonly resent: number
  readonly unanswered: number
  readonly eventsCompared: number
  readonly integrityChecks: number
  readonly integrityPassed: number
  readonly failures: ReadonlyArray<string>
  readonly ms: number
}

interface Ev {
  readonly _tag: string
  readonly seq: number
  readonly runId: string
  readonly messageId?: string
  readonly reason?: string
  readonly interrupted?: boolean
}

interface Client {
  readonly conversationId: string
  /** Everything received, over all rounds. */
  readonly received: Array<Ev>
  last: number
  /** Sent, not yet acknowledged: re-sent after a kill with the same clientMessageId. */
  pending: { clientMessageId: string; text: string } | undefined
  readonly accepted: Array<string>
  sends: number
  resent: number
  /** Runs started and not yet seen to end. */
  readonly open: Set<string>
}

const here = dirname(fileURLToPath(import.meta.url))
const root = join(here, "../..")

type Db = {
  prepare: (sql: string) => { all: (...a: Array<unknown>) => Array<Record<string, unknown>>; pluck: () => { get: () => unknown } }
  close: () => void
}
/** better-sqlite3, the gateway's own SQLite library (a dependency of @sluice/core). */
const openDb: (file: string) => Db = (() => {
  const Database = createRequire(join(root, "packages/core/package.json"))("better-sqlite3") as new (file: string) => Db
  return (file) => new Database(file)
})()

const integrity = (file: string): string => {
  const db = openDb(file)
  try {
    return String(db.prepare("PRAGMA integrity_check").pluck().get())
  } finally {
    db.close()
  }
}

/**
 * One round of one client: connect, resume, re-send what is pending, then keep sending until the
 * connection dies (the kill) or, in the closing round, until the closing message's run has ended.
 */
const round = (url: string, c: Client, random: () => number, closing: boolean, deadline: number, failures: Array<string>) => {
  let race = () => {}
  const done = new Promise<void>((resolve) => {
    const ws = new WebSocket(url)
    let id = 0
    const inFlight = new Map<number, { clientMessageId: string; text: string }>()
    let closingId: string | undefined
    let closingMessage: string | undefined
    /** The run each message belongs to, from its UserMessage (which may arrive before the ack). */
    const runOf = new Map<string, string>()
    const ended = new Set<string>()
    const timer = setTimeout(() => {
      failures.push(`${c.conversationId}: round not over before the deadline (last seq ${c.last})`)
      ws.terminate()
    }, deadline - Date.now())
    const send = (m: { clientMessageId: string; text: string }) => {
      inFlight.set(++id, m)
      c.pending = m
      ws.send(JSON.stringify({ type: "send", id, conversationId: c.conversationId, text: m.text, clientMessageId: m.clientMessageId }))
    }
    const fresh = (tag?: string) => {
      c.sends++
      const seconds = (0.3 + random() * 1.7).toFixed(2)
      const m = { clientMessageId: `${c.conversationId}-m${c.sends}`, text: `${tag ?? "message"} ${c.sends} seconds=${seconds}` }
      if (tag === "closing") closingId = m.clientMessageId
      send(m)
    }
    let subscribed = false
    let begun = false
    const subscribe = () => {
      subscribed = true
      ws.send(JSON.stringify({ type: "subscribe", id: 0, conversationId: c.conversationId, fromSeq: c.last }))
    }
    /** Re-send what the kill left unacknowledged, or go on sending. */
    const begin = () => {
      begun = true
      if (c.pending !== undefined) {
        c.resent++
        send(c.pending)
      } else if (closing) fresh("closing")
      else if (c.open.size === 0) fresh()
    }
    // A message racing the kill: its acknowledgement may or may not make it out.
    race = () => {
      if (ws.readyState === WebSocket.OPEN && c.pending === undefined && c.accepted.length > 0) fresh("racing")
    }
    ws.on("error", () => {})
    ws.on("close", () => {
      clearTimeout(timer)
      resolve()
    })
    ws.on("open", () => ws.send(JSON.stringify({ type: "hello", protocol: 1, encoding: "json" })))
    ws.on("message", (data) => {
      const f = JSON.parse(String(data)) as { type: string; id?: number; ok?: boolean; result?: { messageId: string }; error?: unknown; event?: Ev; events?: Array<Ev> }
      if (f.type === "welcome") {
        // A conversation exists once its first message is accepted; until then there is nothing to resume.
        if (c.accepted.length > 0) subscribe()
        else begin()
      } else if (f.type === "res" && f.id === 0) {
        if (!f.ok) failures.push(`${c.conversationId}: resume from ${c.last} refused: ${JSON.stringify(f.error)}`)
        else if (c.accepted.length > 0 && !begun) begin()
      } else if (f.type === "res" && f.id !== undefined) {
        const m = inFlight.get(f.id)
        inFlight.delete(f.id)
        if (m === undefined) return
        if (c.pending === m) c.pending = undefined
        if (!f.ok) failures.push(`${c.conversationId}: send ${m.clientMessageId} refused: ${JSON.stringify(f.error)}`)
        else {
          c.accepted.push(f.result!.messageId)
          if (m.clientMessageId === closingId) {
            closingMessage = f.result!.messageId
            if (ended.has(runOf.get(closingMessage) ?? "")) return ws.close()
          }
        }
        if (!subscribed && f.ok) subscribe()
        if (closing && closingId === undefined && inFlight.size === 0) fresh("closing")
      } else if (f.type === "event" || f.type === "batch") {
        for (const e of f.type === "event" ? [f.event!] : f.events!) {
          c.received.push(e)
          c.last = Math.max(c.last, e.seq)
          if (e._tag === "UserMessage") runOf.set(e.messageId!, e.runId)
          if (e._tag === "RunStarted") {
            c.open.add(e.runId)
            // Now and then a second message while the reply streams: it queues behind it.
            if (!closing && c.pending === undefined && random() < 0.3) fresh("queued")
          } else if (e._tag === "RunEnded") {
            c.open.delete(e.runId)
            ended.add(e.runId)
            if (closing && closingMessage !== undefined && e.runId === runOf.get(closingMessage)) return ws.close()
            if (!closing && c.pending === undefined && c.open.size === 0) fresh()
          }
        }
      }
    })
  })
  return { done, race: () => race() }
}

/** The log of one conversation, read from the data directory after the gateway stopped. */
const checkLog = (db: Db, c: Client, failures: Array<string>) => {
  const who = c.conversationId
  const log = db
    .prepare("SELECT body FROM events WHERE conversation_id = ? ORDER BY seq")
    .all(c.conversationId)
    .map((r) => JSON.parse(String(r.body)) as Ev)
  // Delivered = the log: same events, same seqs, same content, once each, in order.
  const got = c.received.filter((e) => e._tag !== "Draft")
  const n = Math.max(got.length, log.length)
  for (let i = 0; i < n; i++) {
    const a = got[i]
    const b = log[i]
    if (a === undefined || b === undefined || JSON.stringify(a) !== JSON.stringify(b)) {
      failures.push(`${who}: event ${i} received ${JSON.stringify(a)}, log has ${JSON.stringify(b)}`)
      break
    }
  }
  for (let i = 1; i < c.received.length; i++) {
    if (c.received[i]!.seq <= c.received[i - 1]!.seq) {
      failures.push(`${who}: seq ${c.received[i]!.seq} after ${c.received[i - 1]!.seq}`)
      break
    }
  }
  // Every run ends exactly once; a cut run ends interrupted with its Final{interrupted}.
  const reasons: Record<string, number> = {}
  const started = new Set(log.filter((e) => e._tag === "RunStarted").map((e) => e.runId))
  for (const runId of started) {
    const ends = log.filter((e) => e._tag === "RunEnded" && e.runId === runId)
    if (ends.length !== 1) failures.push(`${who}: run ${runId} has ${ends.length} RunEnded`)
    const reason = ends[0]?.reason ?? "none"
    reasons[reason] = (reasons[reason] ?? 0) + 1
    if (reason === "interrupted" && !log.some((e) => e._tag === "Final" && e.runId === runId && e.interrupted === true)) {
      failures.push(`${who}: run ${runId} interrupted without Final{interrupted}`)
    }
  }
  // Every acknowledged message exactly once in the log and in the messages table.
  const users = log.filter((e) => e._tag === "UserMessage")
  for (const messageId of c.accepted) {
    const inLog = users.filter((e) => e.messageId === messageId).length
    if (inLog !== 1) failures.push(`${who}: acknowledged message ${messageId} is ${inLog} times in the log`)
  }
  const rows = db.prepare("SELECT id FROM messages WHERE conversation_id = ? AND role = 'user'").all(c.conversationId)
  const ids = new Set(rows.map((r) => String(r.id)))
  for (const messageId of new Set(c.accepted)) if (!ids.has(messageId)) failures.push(`${who}: acknowledged message ${messageId} missing from messages`)
  const unanswered = users.filter((e) => !started.has(e.runId)).length
  if (unanswered > 0) failures.push(`${who}: ${unanswered} acknowledged messages never answered`)
  return { reasons, compared: got.length, unanswered, runs: started.size }
}

export const runCrashes = async (o: CrashesOptions): Promise<CrashesResult> => {
  const t0 = Date.now()
  const dir = mkdtempSync(join(tmpdir(), "sluice-stress-crashes-"))
  const dataDir = join(dir, "data")
  const fake = start(["--import", "tsx", join(root, "bench/streaming/fake.ts")], { SECONDS: "1", DELTAS_PER_SECOND: "50" })
  let gateway: ReturnType<typeof start> | undefined
  const failures: Array<string> = []
  const random = seeded(o.seed)
  try {
    const { port: fakePort } = JSON.parse(await fake.line((l) => l.startsWith("{"), 20_000)) as { port: number }
    const port = await freePort()
    const restart = async () => {
      gateway = (
        await startGateway({
          dir,
          dataDir,
          port,
          config: { gateway: { limits: { maxRunsPerPrincipal: 10_000, messagesPerSecond: 1000, burst: 1000 } } },
          env: { ANTHROPIC_API_KEY: "stress-key", ANTHROPIC_BASE_URL: `http://127.0.0.1:${fakePort}` }
        })
      ).proc
    }
    const url = `ws://127.0.0.1:${port}/v1/ws`
    const clients: Array<Client> = Array.from({ length: o.conversations }, (_, i) => ({
      conversationId: `crash-${o.seed}-${i}`,
      received: [],
      last: 0,
      pending: undefined,
      accepted: [],
      sends: 0,
      resent: 0,
      open: new Set()
    }))
    let integrityChecks = 0
    let integrityPassed = 0
    for (let r = 0; r <= o.rounds; r++) {
      await restart()
      const closing = r === o.rounds
      const deadline = Date.now() + 60_000
      const live = clients.map((c) => round(url, c, random, closing, deadline, failures))
      const rounds = Promise.all(live.map((l) => l.done))
      if (!closing) {
        // Kill at a random point: some runs starting, some mid-reply, some just ending, and some
        // messages sent a moment before (acknowledged or not).
        await new Promise((res) => setTimeout(res, 300 + Math.floor(random() * 2200)))
        for (const l of live) if (random() < 0.5) l.race()
        await new Promise((res) => setTimeout(res, Math.floor(random() * 4)))
        const proc = gateway!
        const exited = new Promise((res) => proc.child.once("exit", res))
        proc.child.kill("SIGKILL")
        await exited
        await proc.stop()
      }
      await rounds
      // Runs the kill cut are still open on the client side; their end comes from recovery.
      for (const c of clients) c.open.clear()
      if (!closing) {
        const result = integrity(join(dataDir, "sluice.db"))
        integrityChecks++
        if (result === "ok") integrityPassed++
        else failures.push(`round ${r}: integrity_check: ${result}`)
      }
    }
    await gateway!.stop()
    const db = openDb(join(dataDir, "sluice.db"))
    try {
      const reasons: Record<string, number> = {}
      let compared = 0
      let unanswered = 0
      let runs = 0
      for (const c of clients) {
        const r = checkLog(db, c, failures)
        for (const [k, v] of Object.entries(r.reasons)) reasons[k] = (reasons[k] ?? 0) + v
        compared += r.compared
        unanswered += r.unanswered
        runs += r.runs
      }
      const stale = db.prepare("SELECT COUNT(*) AS n FROM runs WHERE status = 'running'").all()[0]!.n
      const streaming = db.prepare("SELECT COUNT(*) AS n FROM messages WHERE status = 'streaming'").all()[0]!.n
      if (Number(stale) > 0 || Number(streaming) > 0) failures.push(`${stale} runs still running, ${streaming} messages still streaming`)
      const integrityEnd = String(db.prepare("PRAGMA integrity_check").pluck().get())
      integrityChecks++
      if (integrityEnd === "ok") integrityPassed++
      else failures.push(`end: integrity_check: ${integrityEnd}`)
      return {
        kills: o.rounds,
        runs,
        reasons,
        accepted: clients.reduce((s, c) => s + c.accepted.length, 0),
        resent: clients.reduce((s, c) => s + c.resent, 0),
        unanswered,
        eventsCompared: compared,
        integrityChecks,
        integrityPassed,
        failures,
        ms: Date.now() - t0
      }
    } finally {
      db.close()
    }
  } finally {
    await gateway?.stop()
    await fake.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}
