/**
 * Soak: mixed traffic for a fixed time, with conversations coming and going, measured from outside:
 * the gateway as users start it (bundle, SQLite, the real SDK against the streaming fake), with
 * `conversations.idleTimeToLiveMs` short enough that idle conversations are passivated during the run.
 *
 * Each simulated user repeats, until the time is up: a new conversation over WebSocket (send,
 * subscribe, read to `RunEnded`, close); a follow-up over REST read to its end over SSE; a history and
 * a list read; now and then a delete (a user keeps at most five conversations). Every answer must be
 * what the protocol says; any other is a fault.
 *
 * Every few seconds `/metrics` is read: resident memory, V8 heap, open descriptors and the event
 * loop's live timers and sockets, Effect's live fibers (`SLUICE_FIBER_METRICS=1`); every fifth time also the live heap, after two full GCs in the
 * gateway (`gcProbe.cjs`, preloaded with `--expose-gc`: the only difference from how users start it).
 * Reported: first and last values and slopes over the steady part (the last two thirds), per minute.
 * After the traffic stops and the gateway settles, descriptors, sockets, timers, fibers and the live heap must
 * be back near where they were before it started.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { request as httpRequest } from "node:http"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import WebSocket from "ws"
import { start } from "../streaming/procs.js"
import { GC_PROBE, liveMemory, metricValue, scrapeMetrics, startGateway } from "./gateway.js"
import { seeded } from "./random.js"

export interface SoakOptions {
  readonly seconds: number
  readonly users: number
  readonly sampleMs: number
  readonly seed: number
}

export interface Sample {
  readonly t: number
  readonly rss: number
  readonly heap: number
  readonly fds: number
  readonly timers: number
  readonly sockets: number
  /** Effect fibers alive (SLUICE_FIBER_METRICS=1). */
  readonly fibers: number
}

export interface LiveSample {
  readonly t: number
  readonly heap: number
  readonly rss: number
}

export interface SoakResult {
  readonly operations: Readonly<Record<string, number>>
  readonly samples: ReadonlyArray<Sample>
  /** Forced-GC samples: before the traffic, every fifth sample, after it. */
  readonly lives: ReadonlyArray<LiveSample>
  readonly idle: { readonly before: Sample; readonly after: Sample; readonly liveBefore: LiveSample; readonly liveAfter: LiveSample }
  /** Per minute, over the steady part (the last two thirds). */
  readonly slope: { readonly rss: number; readonly heap: number; readonly fds: number; readonly timers: number; readonly liveHeap: number }
  readonly failures: ReadonlyArray<string>
  readonly ms: number
}

const here = dirname(fileURLToPath(import.meta.url))
const root = join(here, "../..")

const request = (port: number, method: string, path: string, body?: unknown) =>
  new Promise<{ status: number; text: string }>((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body)
    const req = httpRequest(
      {
        host: "127.0.0.1",
        port,
        method,
        path,
        agent: false,
        headers: data === undefined ? {} : { "content-type": "application/json", "content-length": String(Buffer.byteLength(data)) }
      },
      (res) => {
        let text = ""
        res.setEncoding("utf8")
        res.on("data", (d: string) => (text += d))
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text }))
      }
    )
    req.setTimeout(20_000, () => req.destroy(new Error(`${method} ${path}: no answer in 20 s`)))
    req.on("error", reject)
    if (data !== undefined) req.write(data)
    req.end()
  })

/** Reads an SSE stream from `fromSeq` until `RunEnded`. */
const sseToEnd = (port: number, id: string, fromSeq: number) =>
  new Promise<number>((resolve, reject) => {
    let buffer = ""
    let events = 0
    const req = httpRequest({ host: "127.0.0.1", port, path: `/v1/conversations/${id}/events?fromSeq=${fromSeq}`, agent: false }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`SSE ${id}: ${res.statusCode}`))
      res.setEncoding("utf8")
      res.on("data", (d: string) => {
        buffer += d
        for (let i = buffer.indexOf("\n\n"); i >= 0; i = buffer.indexOf("\n\n")) {
          const block = buffer.slice(0, i)
          buffer = buffer.slice(i + 2)
          if (!block.includes("data: ")) continue
          events++
          if (/^event: RunEnded$/m.test(block)) {
            req.destroy()
            return resolve(events)
          }
        }
      })
    })
    req.setTimeout(30_000, () => req.destroy(new Error(`SSE ${id}: no RunEnded in 30 s`)))
    req.on("error", (e) => reject(e))
    req.end()
  })

/** A new conversation over WebSocket: send, subscribe, read to RunEnded, close. */
const wsConversation = (port: number, id: string, text: string) =>
  new Promise<number>((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/ws`)
    let events = 0
    const t = setTimeout(() => {
      ws.terminate()
      reject(new Error(`WS ${id}: no RunEnded in 30 s`))
    }, 30_000)
    ws.on("error", (e) => {
      clearTimeout(t)
      reject(e)
    })
    ws.on("open", () => ws.send(JSON.stringify({ type: "hello", protocol: 1 })))
    ws.on("message", (data) => {
      const f = JSON.parse(String(data)) as { type: string; id?: number; ok?: boolean; result?: { seq: number }; error?: unknown; event?: { _tag: string }; events?: Array<{ _tag: string }> }
      if (f.type === "welcome") ws.send(JSON.stringify({ type: "send", id: 1, conversationId: id, text }))
      else if (f.type === "res" && f.id === 1) {
        if (!f.ok) {
          clearTimeout(t)
          ws.terminate()
          return reject(new Error(`WS send ${id}: ${JSON.stringify(f.error)}`))
        }
        ws.send(JSON.stringify({ type: "subscribe", id: 2, conversationId: id, fromSeq: f.result!.seq - 1 }))
      } else if (f.type === "event" || f.type === "batch") {
        for (const e of f.type === "event" ? [f.event!] : f.events!) {
          events++
          if (e._tag === "RunEnded") {
            clearTimeout(t)
            ws.close()
            return resolve(events)
          }
        }
      }
    })
  })

const sample = async (port: number, t0: number): Promise<Sample> => {
  const text = await scrapeMetrics(port)
  const value = (series: string) => metricValue(text, series, 0)
  return {
    t: Date.now() - t0,
    rss: value("process_resident_memory_bytes"),
    heap: value("nodejs_heap_size_used_bytes"),
    fds: value("process_open_fds"),
    timers: value('nodejs_active_resources{type="Timeout"}'),
    sockets: value('nodejs_active_resources{type="TCPSocketWrap"}'),
    fibers: value("effect_fiber_active")
  }
}

/** Least-squares slope of `y` over time, per minute. */
export const slopePerMinute = (points: ReadonlyArray<{ readonly t: number; readonly y: number }>): number => {
  if (points.length < 2) return 0
  const n = points.length
  const mt = points.reduce((s, p) => s + p.t, 0) / n
  const my = points.reduce((s, p) => s + p.y, 0) / n
  const num = points.reduce((s, p) => s + (p.t - mt) * (p.y - my), 0)
  const den = points.reduce((s, p) => s + (p.t - mt) ** 2, 0)
  return den === 0 ? 0 : (num / den) * 60_000
}

export const runSoak = async (o: SoakOptions): Promise<SoakResult> => {
  const t0 = Date.now()
  const dir = mkdtempSync(join(tmpdir(), "sluice-stress-soak-"))
  const fake = start(["--import", "tsx", join(root, "bench/streaming/fake.ts")], { SECONDS: "1", DELTAS_PER_SECOND: "40" })
  let gateway: ReturnType<typeof start> | undefined
  const failures: Array<string> = []
  const operations: Record<string, number> = {}
  const count = (op: string) => (operations[op] = (operations[op] ?? 0) + 1)
  try {
    const { port: fakePort } = JSON.parse(await fake.line((l) => l.startsWith("{"), 20_000)) as { port: number }
    const started = await startGateway({
      dir,
      config: {
        gateway: { limits: { maxRunsPerPrincipal: 10_000, messagesPerSecond: 1000, burst: 1000 } },
        conversations: { idleTimeToLiveMs: 5000 }
      },
      env: { ANTHROPIC_API_KEY: "soak-key", ANTHROPIC_BASE_URL: `http://127.0.0.1:${fakePort}`, NODE_OPTIONS: GC_PROBE, SLUICE_FIBER_METRICS: "1" }
    })
    gateway = started.proc
    const port = started.port
    const proc = gateway
    /** The live heap: two full GCs in the gateway (gcProbe.cjs), then its heap in use. */
    const live = async (): Promise<LiveSample> => ({ t: Date.now() - t0, ...(await liveMemory(proc)) })
    const before = await sample(port, t0)
    const liveBefore = await live()
    const lives: Array<LiveSample> = [liveBefore]
    const random = seeded(o.seed)
    const until = Date.now() + o.seconds * 1000
    const samples: Array<Sample> = []
    let sampling = true
    const sampler = (async () => {
      for (let i = 1; sampling; i++) {
        samples.push(await sample(port, t0))
        if (i % 5 === 0) lives.push(await live())
        await new Promise((r) => setTimeout(r, o.sampleMs))
      }
    })()
    const seconds = () => (0.2 + random() * 0.8).toFixed(2)
    await Promise.all(
      Array.from({ length: o.users }, async (_, u) => {
        const mine: Array<string> = []
        let k = 0
        while (Date.now() < until) {
          const x = random()
          try {
            if (x < 0.45 || mine.length === 0) {
              const id = `soak-${o.seed}-${u}-${k++}`
              await wsConversation(port, id, `hello seconds=${seconds()}`)
              mine.push(id)
              count("new conversation (WS)")
            } else if (x < 0.75) {
              const id = mine[Math.floor(random() * mine.length)]!
              const r = await request(port, "POST", `/v1/conversations/${id}/messages`, { text: `more seconds=${seconds()}` })
              if (r.status !== 202) throw new Error(`POST ${id}: ${r.status} ${r.text}`)
              await sseToEnd(port, id, (JSON.parse(r.text) as { seq: number }).seq - 1)
              count("follow-up (REST + SSE)")
            } else if (x < 0.92) {
              const id = mine[Math.floor(random() * mine.length)]!
              const h = await request(port, "GET", `/v1/conversations/${id}/messages`)
              const l = await request(port, "GET", "/v1/conversations")
              if (h.status !== 200 || l.status !== 200) throw new Error(`history ${h.status}, list ${l.status}`)
              count("history and list")
            }
            if (x >= 0.92 || mine.length > 5) {
              const id = mine.shift()!
              const d = await request(port, "DELETE", `/v1/conversations/${id}`)
              if (d.status !== 200) throw new Error(`DELETE ${id}: ${d.status} ${d.text}`)
              count("delete")
            }
          } catch (e) {
            failures.push(`user ${u}: ${(e as Error).message}`)
            await new Promise((r) => setTimeout(r, 200))
          }
        }
      })
    )
    sampling = false
    await sampler
    // Settle: runs over, connections closed, idle conversations passivated.
    await new Promise((r) => setTimeout(r, 8000))
    const after = await sample(port, t0)
    const liveAfter = await live()
    const steady = samples.slice(Math.floor(samples.length / 3))
    const slope = {
      rss: slopePerMinute(steady.map((s) => ({ t: s.t, y: s.rss }))),
      heap: slopePerMinute(steady.map((s) => ({ t: s.t, y: s.heap }))),
      fds: slopePerMinute(steady.map((s) => ({ t: s.t, y: s.fds }))),
      timers: slopePerMinute(steady.map((s) => ({ t: s.t, y: s.timers }))),
      liveHeap: slopePerMinute(lives.slice(Math.floor(lives.length / 3)).map((s) => ({ t: s.t, y: s.heap })))
    }
    // With the traffic gone and idle conversations passivated, what is still live must be what was live before it.
    if (liveAfter.heap > liveBefore.heap + 20 * 2 ** 20) {
      failures.push(`live heap ${(liveBefore.heap / 2 ** 20).toFixed(1)} → ${(liveAfter.heap / 2 ** 20).toFixed(1)} MiB after the traffic`)
    }
    // The SDK keeps up to one idle keep-alive connection per concurrent run to the upstream (the
    // fake holds them 60 s): at most `users` of them.
    if (after.fds > before.fds + o.users + 8) failures.push(`open descriptors ${before.fds} → ${after.fds} after the traffic`)
    if (after.sockets > before.sockets + 4) failures.push(`live sockets ${before.sockets} → ${after.sockets} after the traffic`)
    if (after.fibers > before.fibers + 8) failures.push(`live fibers ${before.fibers} → ${after.fibers} after the traffic`)
    if (after.timers > before.timers + 8) failures.push(`live timers ${before.timers} → ${after.timers} after the traffic`)
    return { operations, samples, lives, idle: { before, after, liveBefore, liveAfter }, slope, failures, ms: Date.now() - t0 }
  } finally {
    await gateway?.stop()
    await fake.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}
