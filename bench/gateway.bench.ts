/**
 * Gateway: N WebSocket clients on loopback, each streaming its own conversation from a model that
 * writes at a fixed token rate and stamps every text delta with its emit time
 * (`performance.timeOrigin + performance.now()`, shared by both processes on one machine).
 * Clients run in a child process (their own event loop) and record, for every Draft frame, now − the
 * stamp of the newest delta it carries: the latency the gateway adds (actor + pipeline + store +
 * WebSocket), model event emitted → client frame received.
 *
 * Phases: 1,000 streams (latency p50/p99, memory per connection) and 10,000 connections (memory
 * per connection while held and streaming slowly). Also: MessagePack vs JSON bytes on a real reply.
 *
 * Run: `node --expose-gc --import tsx bench/run.ts gateway` (or `pnpm bench gateway`).
 * Env: GW_STREAMS (1000), GW_CONNS (10000), GW_TPS (10 tokens/s per stream), GW_SECONDS (15).
 * Bounded: every phase has a deadline; the client process exits itself after 280 s.
 */
import { fork } from "node:child_process"
import { writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { setFlagsFromString, writeHeapSnapshot } from "node:v8"
import { runInNewContext } from "node:vm"
import { Context, Duration, Effect, Exit, Layer, Scope, Stream } from "effect"
import * as Conversations from "../packages/core/src/Conversations.js"
import * as Model from "../packages/core/src/Model.js"
import * as StreamingSettings from "../packages/core/src/StreamingSettings.js"
import * as Gateway from "../packages/gateway/src/Gateway.js"
import * as SqliteStore from "../packages/core/src/sqlite/SqliteStore.js"

const gatewayRequire = createRequire(new URL("../packages/gateway/package.json", import.meta.url))
const { Packr } = gatewayRequire("msgpackr") as { Packr: new (o: object) => { pack: (v: unknown) => Uint8Array } }

setFlagsFromString("--expose-gc")
const gc = runInNewContext("gc") as () => void
const settle = () => {
  for (let i = 0; i < 4; i++) gc()
  return process.memoryUsage()
}
const MiB = 1024 * 1024
const env = (k: string, d: number) => (process.env[k] ? Number(process.env[k]) : d)

/** Writes `tokens` deltas at `tps`, each stamped with the time it was emitted. */
const stampedModel = (tps: number, tokens: number): Model.ModelService => ({
  name: "bench model",
  stream: () =>
    Stream.concat(
      Stream.make({ _tag: "MessageStart", messageId: "m", model: "bench", usage: { inputTokens: 1, outputTokens: 0 } } as const),
      Stream.range(1, tokens).pipe(
        Stream.mapEffect((i) =>
          Effect.sleep(Duration.millis(1000 / tps)).pipe(
            Effect.zipRight(
              Effect.sync(() => ({
                _tag: "TextDelta" as const,
                index: 0,
                text: ` w${i}⟨t=${(performance.timeOrigin + performance.now()).toFixed(3)}⟩`
              }))
            )
          )
        ),
        Stream.concat(
          Stream.make(
            { _tag: "TextEnd", index: 0 } as const,
            { _tag: "MessageDelta", stopReason: "end_turn", usage: { inputTokens: 1, outputTokens: tokens } } as const,
            { _tag: "MessageEnd" } as const
          )
        )
      )
    )
})

// Blocks off: each Draft carries the new text, ending with the newest stamp.
const settings: StreamingSettings.StreamingSettings = { ...StreamingSettings.defaults, blockStreaming: false }

const clientSource = `
const WebSocket = require(process.argv[2])
const [url, n, mode] = [process.argv[3], Number(process.argv[4]), process.argv[5]]
setTimeout(() => process.exit(3), 280000).unref()
const lat = []
let measuring = false, opened = 0, failed = 0, frames = 0, welcomed = 0
const starters = []
const socks = []
const stampOf = (t) => { const i = t.lastIndexOf("⟨t="); return i < 0 ? NaN : Number(t.slice(i + 3, t.indexOf("⟩", i))) }
function one(i) {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { perMessageDeflate: false })
    socks.push(ws)
    const conv = "bench-" + mode + "-" + i
    let id = 1
    const send = () => ws.send(JSON.stringify({ type: "send", id: id++, conversationId: conv, text: "go" }))
    ws.on("open", () => { opened++; ws.send(JSON.stringify({ type: "hello", protocol: 1 })); resolve() })
    ws.on("error", () => { failed++; resolve() })
    ws.on("message", (data) => {
      frames++
      const f = JSON.parse(data)
      if (f.type === "welcome") { welcomed++; starters.push(send); return }
      if (f.type === "res" && f.id === 1 && f.ok) ws.send(JSON.stringify({ type: "subscribe", id: id++, conversationId: conv, fromSeq: f.result.seq - 1 }))
      const evs = f.type === "event" ? [f.event] : f.type === "batch" ? f.events : []
      for (const e of evs) {
        if (e._tag === "Draft" && measuring) {
          const t = stampOf(e.text)
          if (t === t) lat.push(performance.timeOrigin + performance.now() - t)
        } else if (e._tag === "RunEnded" && mode === "stream") send()
      }
    })
  })
}
process.on("message", async (m) => {
  if (m === "connect") {
    for (let i = 0; i < n; i += 200) await Promise.all(Array.from({ length: Math.min(200, n - i) }, (_, k) => one(i + k)))
    const t0 = Date.now()
    while (welcomed + failed < n && Date.now() - t0 < 60000) await new Promise((r) => setTimeout(r, 50))
    process.send({ connected: welcomed, failed })
  } else if (m === "start") { for (const s of starters) setTimeout(s, Math.random() * 1000) }
  else if (m === "measure") { measuring = true; lat.length = 0 }
  else if (m === "report") {
    measuring = false
    lat.sort((a, b) => a - b)
    const q = (p) => lat.length ? lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] : NaN
    process.send({ samples: lat.length, p50: q(0.5), p90: q(0.9), p99: q(0.99), max: lat[lat.length - 1], frames })
  } else if (m === "close") { for (const s of socks) s.terminate(); setTimeout(() => process.exit(0), 200) }
})
`

interface ClientProc {
  post: (msg: string) => void
  call: <A>(msg: string, ms: number) => Promise<A>
  kill: () => void
}
const clients = (url: string, n: number, mode: string): ClientProc => {
  const file = join(tmpdir(), `sluice-gw-bench-client-${process.pid}.cjs`)
  writeFileSync(file, clientSource)
  const wsPath = gatewayRequire.resolve("ws")
  const child = fork(file, [wsPath, url, String(n), mode], { stdio: ["ignore", "inherit", "inherit", "ipc"], execArgv: [] })
  child.on("error", () => undefined) // it may have exited on its own deadline
  return {
    post: (msg) => child.send(msg),
    call: (msg, ms) =>
      new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`client process: no answer to ${msg} in ${ms} ms`)), ms)
        child.once("message", (m) => {
          clearTimeout(t)
          resolve(m as never)
        })
        child.send(msg)
      }),
    kill: () => {
      if (child.connected) child.send("close")
      setTimeout(() => child.kill("SIGKILL"), 1000).unref()
    }
  }
}

const startGateway = async (model: Model.ModelService) => {
  const stack = Gateway.layer({ port: 0, settings, limits: { maxRunsPerPrincipal: 1_000_000, burst: 1000 } }).pipe(
    Layer.provideMerge(SqliteStore.layerConversationsMemory({ idleTimeToLive: "10 minutes" })),
    Layer.provideMerge(Layer.succeed(Model.Model, model))
  )
  const scope = Effect.runSync(Scope.make())
  const ctx = await Effect.runPromise(Layer.buildWithScope(stack, scope))
  return { info: Context.get(ctx, Gateway.Gateway), close: () => Effect.runPromise(Scope.close(scope, Exit.void)) }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const f = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : "n/a")

const phase = async (label: string, n: number, tps: number, tokens: number, seconds: number, mode = "stream") => {
  const before = settle()
  const gw = await startGateway(stampedModel(tps, tokens))
  const base = settle()
  const c = clients(gw.info.wsUrl, n, mode)
  try {
    const t0 = performance.now()
    const connected = await c.call<{ connected: number; failed: number }>("connect", 120_000)
    console.log(`${label}: ${connected.connected} connected (${connected.failed} failed) in ${((performance.now() - t0) / 1000).toFixed(1)} s`)
    c.post("start")
    await sleep(4000) // everyone is streaming
    c.post("measure")
    const cpu0 = process.cpuUsage()
    const wall0 = performance.now()
    await sleep(seconds * 1000)
    const cpu = process.cpuUsage(cpu0)
    const wall = performance.now() - wall0
    const r = await c.call<{ samples: number; p50: number; p90: number; p99: number; max: number; frames: number }>("report", 30_000)
    const held = settle()
    if (process.env.GW_HEAPSNAPSHOT) console.log(`${label}: heap snapshot ${writeHeapSnapshot(process.env.GW_HEAPSNAPSHOT)}`)
    const perConn = (held.rss - base.rss) / connected.connected
    console.log(
      `${label}: ${n} streams at ${tps} tok/s each (${n * tps} deltas/s): latency ms p50 ${f(r.p50)} p90 ${f(r.p90)} p99 ${f(r.p99)} max ${f(r.max)} (${r.samples} Draft frames measured, ${r.frames} frames received in all)`
    )
    console.log(
      `${label}: server RSS ${(held.rss / MiB).toFixed(0)} MiB (base ${(base.rss / MiB).toFixed(0)} MiB, process before gateway ${(before.rss / MiB).toFixed(0)} MiB), heap ${(held.heapUsed / MiB).toFixed(0)} MiB; ` +
        `per connection ${(perConn / 1024).toFixed(1)} KiB RSS, ${((held.heapUsed - base.heapUsed) / connected.connected / 1024).toFixed(1)} KiB heap`
    )
    // Wall-clock latency is unfair on a loaded shared machine; CPU time per event is not.
    const cpuMs = (cpu.user + cpu.system) / 1000
    // A saturated process also slows the model's own timers, so count what was delivered.
    const expected = n * tps * seconds
    console.log(
      `${label}: server CPU ${cpuMs.toFixed(0)} ms over ${(wall / 1000).toFixed(1)} s wall (${((cpuMs / wall) * 100).toFixed(0)}% of one core); ` +
        `${r.samples} Draft frames delivered of ${expected} deltas scheduled (${((r.samples / expected) * 100).toFixed(0)}%); ` +
        `≈ ${((cpuMs * 1000) / Math.max(1, r.samples)).toFixed(0)} µs server CPU per delivered delta`
    )
  } finally {
    c.kill()
    await sleep(1200)
    await gw.close()
  }
}

/** Bytes of one real offline-model reply as JSON text frames vs MessagePack frames. */
const encodingRatio = async () => {
  const model = Model.makeScripted({ tokensPerSecond: 0, words: 400 })
  const layer = SqliteStore.layerConversationsMemory().pipe(Layer.provideMerge(Layer.succeed(Model.Model, model)))
  const events = await Effect.runPromise(
    Effect.gen(function* () {
      const conv = yield* Conversations.Conversations
      const accepted = yield* conv.send("ratio", "Explain backpressure in WebSocket servers", { settings: StreamingSettings.defaults })
      return yield* conv.subscribe("ratio", { fromSeq: accepted.seq - 1 }).pipe(
        Stream.takeUntil((e) => e._tag === "RunEnded"),
        Stream.runCollect
      )
    }).pipe(Effect.provide(layer), Effect.scoped)
  )
  const packr = new Packr({ useRecords: false })
  let json = 0
  let mp = 0
  for (const event of events) {
    const frame = { type: "event", event }
    json += Buffer.byteLength(JSON.stringify(frame))
    mp += packr.pack(frame).length
  }
  console.log(
    `encoding: one offline reply (${events.length} reply events): JSON ${json} B, MessagePack ${mp} B, ratio ${(mp / json).toFixed(3)} (${((1 - mp / json) * 100).toFixed(1)}% saved)`
  )
}

export default async () => {
  const streams = env("GW_STREAMS", 1000)
  const conns = env("GW_CONNS", 10_000)
  const tps = env("GW_TPS", 5)
  const seconds = env("GW_SECONDS", 15)
  await encodingRatio()
  if (streams > 0) await phase("1k", streams, tps, 40, seconds)
  // 10k: every connection subscribed to its own conversation with one short reply, then held.
  // GW_HOLD=1: each connection gets its one reply and is then only held (idle, subscribed);
  // otherwise every client sends again when its reply ends (10k short streams at 1 token/s).
  if (conns > 0) await phase("10k", conns, 1, 3, Math.min(seconds, 10), process.env.GW_HOLD ? "hold" : "stream")
}
