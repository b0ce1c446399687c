/**
 * Resume under random disconnects, measured from outside: the gateway as users start it (`sluice
 * gateway`, the bundle, SQLite, the real SDK against the fake Anthropic server in its own process).
 *
 * For each conversation one reference reader subscribes over WebSocket and never disconnects; beside
 * it two flaky readers, one over WebSocket and one over SSE, cut their connection abruptly (socket
 * destroyed, no close handshake) a random 10–150 ms after their subscription is answered, and reconnect from the last seq they saw (`fromSeq`
 * / `Last-Event-ID`). When the run has ended, each flaky reader's events are compared with the
 * reference's (docs/protocol.md, Resume):
 *
 * - every event that is not a Draft: the same events, in the same order, each exactly once (lost,
 *   duplicated, out of order are counted separately);
 * - seqs strictly increasing across every reconnect;
 * - every Draft received is one the reference saw (or a fold of several, carrying the last one's seq),
 *   and the preview text after it equals the reference's at that seq.
 *
 * Bounded: a fixed number of conversations, replies of a fixed length, and a deadline for the whole
 * scenario; every process started is stopped.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { request as httpRequest } from "node:http"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import WebSocket from "ws"
import { start } from "../streaming/procs.js"
import { startGateway } from "./gateway.js"
import { compare, type Ev } from "./compare.js"
import { seeded } from "./random.js"

export interface ResumeOptions {
  readonly conversations: number
  /** Length of each reply (the fake sends `rate` deltas a second). */
  readonly seconds: number
  readonly rate: number
  /** A flaky reader stays connected a random 10–`maxConnectedMs` ms each time. */
  readonly maxConnectedMs: number
  readonly seed: number
}

export interface ResumeResult {
  readonly reconnects: { readonly ws: number; readonly sse: number }
  readonly readers: number
  readonly eventsCompared: number
  readonly draftsChecked: number
  readonly lost: number
  readonly duplicated: number
  readonly outOfOrder: number
  readonly draftMismatches: number
  readonly failures: ReadonlyArray<string>
  readonly ms: number
}

const here = dirname(fileURLToPath(import.meta.url))
const root = join(here, "../..")
const tsx = ["--import", "tsx"]

const ended = (e: Ev) => e._tag === "RunEnded"

/** The reference: one WebSocket, the send, a subscription from before the first event; never cut. */
const reference = (url: string, conversationId: string, text: string, onAccepted: (seq: number) => void) =>
  new Promise<{ events: Array<Ev> }>((resolve, reject) => {
    const ws = new WebSocket(url)
    const events: Array<Ev> = []
    ws.on("error", reject)
    ws.on("open", () => ws.send(JSON.stringify({ type: "hello", protocol: 1, encoding: "json" })))
    ws.on("message", (data) => {
      const f = JSON.parse(String(data)) as { type: string; id?: number; ok?: boolean; result?: { seq: number }; event?: Ev; events?: Array<Ev> }
      if (f.type === "welcome") ws.send(JSON.stringify({ type: "send", id: 1, conversationId, text }))
      else if (f.type === "res" && f.id === 1) {
        if (!f.ok) return reject(new Error(`send refused: ${JSON.stringify(f)}`))
        onAccepted(f.result!.seq)
        ws.send(JSON.stringify({ type: "subscribe", id: 2, conversationId, fromSeq: f.result!.seq - 1 }))
      } else if (f.type === "event" || f.type === "batch") {
        for (const e of f.type === "event" ? [f.event!] : f.events!) {
          events.push(e)
          if (ended(e)) {
            ws.close()
            return resolve({ events })
          }
        }
      }
    })
  })

/** One connection of a flaky WebSocket reader: subscribes after `last`, cut after `ms`. */
const wsOnce = (url: string, conversationId: string, last: number, ms: number, onEvent: (e: Ev) => void, refusals: Array<string>) =>
  new Promise<boolean>((resolve) => {
    const ws = new WebSocket(url)
    let done = false
    // The cut is counted from the subscription's answer, so every connection makes some progress
    // however slow connecting is under load; a connection that never gets that far is cut at 10 s.
    let timer = setTimeout(() => ws.terminate(), 10_000)
    const finish = (end: boolean) => {
      clearTimeout(timer)
      resolve(end)
    }
    ws.on("error", () => {})
    ws.on("close", () => finish(done))
    ws.on("open", () => ws.send(JSON.stringify({ type: "hello", protocol: 1, encoding: "json" })))
    ws.on("message", (data) => {
      if (done) return
      const f = JSON.parse(String(data)) as { type: string; id?: number; ok?: boolean; event?: Ev; events?: Array<Ev> }
      if (f.type === "welcome") ws.send(JSON.stringify({ type: "subscribe", id: 1, conversationId, fromSeq: last }))
      else if (f.type === "res" && f.id === 1) {
        if (!f.ok) refusals.push(JSON.stringify(f))
        clearTimeout(timer)
        timer = setTimeout(() => ws.terminate(), ms)
      } else if (f.type === "event" || f.type === "batch") {
        for (const e of f.type === "event" ? [f.event!] : f.events!) {
          onEvent(e)
          if (ended(e)) {
            done = true
            ws.terminate()
            return
          }
        }
      }
    })
  })

/** One connection of a flaky SSE reader: `Last-Event-ID: last`, cut after `ms`. */
const sseOnce = (base: string, conversationId: string, last: number, ms: number, onEvent: (e: Ev) => void, refusals: Array<string>) =>
  new Promise<boolean>((resolve) => {
    let done = false
    let buffer = ""
    const req = httpRequest(`${base}/v1/conversations/${encodeURIComponent(conversationId)}/events`, {
      headers: { accept: "text/event-stream", "last-event-id": String(last) }
    })
    let timer = setTimeout(() => req.destroy(), 10_000)
    const finish = () => {
      clearTimeout(timer)
      resolve(done)
    }
    req.on("error", finish)
    req.on("close", finish)
    req.on("response", (res) => {
      if (res.statusCode !== 200) refusals.push(`SSE ${res.statusCode}`)
      clearTimeout(timer)
      timer = setTimeout(() => req.destroy(), ms)
      res.setEncoding("utf8")
      res.on("error", () => {})
      res.on("data", (chunk: string) => {
        if (done) return
        buffer += chunk
        for (let i = buffer.indexOf("\n\n"); i >= 0; i = buffer.indexOf("\n\n")) {
          const block = buffer.slice(0, i)
          buffer = buffer.slice(i + 2)
          const data = block.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("\n")
          if (data === "") continue
          const e = JSON.parse(data) as Ev
          onEvent(e)
          if (ended(e)) {
            done = true
            req.destroy()
            return
          }
        }
      })
    })
    req.end()
  })

/** A reader that keeps cutting its connection until it has seen RunEnded; counts its reconnects. */
const flaky = async (
  kind: "ws" | "sse",
  connect: (last: number, ms: number, onEvent: (e: Ev) => void) => Promise<boolean>,
  from: number,
  random: () => number,
  maxConnectedMs: number,
  deadline: number
) => {
  const events: Array<Ev> = []
  let last = from
  let reconnects = 0
  for (;;) {
    const ms = 10 + Math.floor(random() * (maxConnectedMs - 10))
    const end = await connect(last, ms, (e) => {
      events.push(e)
      last = Math.max(last, e.seq)
    })
    if (end) return { kind, events, reconnects }
    if (Date.now() > deadline) throw new Error(`${kind} reader: no RunEnded before the deadline (${events.length} events)`)
    reconnects++
    if (random() < 0.3) await new Promise((r) => setTimeout(r, Math.floor(random() * 50)))
  }
}

export const runResume = async (o: ResumeOptions): Promise<ResumeResult> => {
  const t0 = Date.now()
  const dir = mkdtempSync(join(tmpdir(), "sluice-stress-resume-"))
  const fake = start([...tsx, join(root, "bench/streaming/fake.ts")], { SECONDS: String(o.seconds), DELTAS_PER_SECOND: String(o.rate) })
  let gateway: ReturnType<typeof start> | undefined
  try {
    const { port: fakePort } = JSON.parse(await fake.line((l) => l.startsWith("{"), 20_000)) as { port: number }
    const started = await startGateway({
      dir,
      config: { gateway: { limits: { maxRunsPerPrincipal: 10_000, messagesPerSecond: 1000, burst: 1000 } } },
      env: { ANTHROPIC_API_KEY: "stress-key", ANTHROPIC_BASE_URL: `http://127.0.0.1:${fakePort}` }
    })
    gateway = started.proc
    const port = started.port
    const wsUrl = `ws://127.0.0.1:${port}/v1/ws`
    const base = `http://127.0.0.1:${port}`
    const random = seeded(o.seed)
    // Subscriptions the gateway refused (there should be none).
    const refusals: Array<string> = []
    const deadline = Date.now() + (o.seconds * 4 + 60) * 1000
    const outcomes = await Promise.all(
      Array.from({ length: o.conversations }, async (_, i) => {
        const conversationId = `stress-${o.seed}-${i}`
        // The reference's send starts the run; the flaky readers start from just before its first event.
        let accepted!: (seq: number) => void
        const acceptedAt = new Promise<number>((r) => (accepted = r))
        const refP = reference(wsUrl, conversationId, `resume stress seconds=${o.seconds}`, accepted)
        const from = (await acceptedAt) - 1
        const [ref, ws, sse] = await Promise.all([
          refP,
          flaky("ws", (last, ms, on) => wsOnce(wsUrl, conversationId, last, ms, on, refusals), from, random, o.maxConnectedMs, deadline),
          flaky("sse", (last, ms, on) => sseOnce(base, conversationId, last, ms, on, refusals), from, random, o.maxConnectedMs, deadline)
        ])
        return [compare(ref.events, ws.events, `${conversationId} ws`), compare(ref.events, sse.events, `${conversationId} sse`), ws.reconnects, sse.reconnects] as const
      })
    )
    const sum = (f: (c: ReturnType<typeof compare>) => number) => outcomes.reduce((s, [a, b]) => s + f(a) + f(b), 0)
    return {
      reconnects: { ws: outcomes.reduce((s, o) => s + o[2], 0), sse: outcomes.reduce((s, o) => s + o[3], 0) },
      readers: outcomes.length * 2,
      eventsCompared: sum((c) => c.compared),
      draftsChecked: sum((c) => c.drafts),
      lost: sum((c) => c.lost),
      duplicated: sum((c) => c.duplicated),
      outOfOrder: sum((c) => c.outOfOrder),
      draftMismatches: sum((c) => c.draftMismatches),
      failures: [...outcomes.flatMap(([a, b]) => [...a.failures, ...b.failures]), ...refusals.slice(0, 5).map((r) => `refused: ${r}`)],
      ms: Date.now() - t0
    }
  } finally {
    await gateway?.stop()
    await fake.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}
