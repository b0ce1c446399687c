/**
 * Streaming load, measured from outside as users run it: the gateway (`sluice gateway`, SQLite,
 * the real Anthropic SDK) against the floor (bench/streaming/floor.ts: the SDK stream forwarded to
 * a WebSocket by hand), side by side in one run. The fake Anthropic server and the load clients
 * run in their own processes; each stream gets 20 text deltas/s for STREAM_SECONDS.
 *
 *   node --import tsx bench/run.ts streaming                      # 10 and 100 streams, 5 s
 *   STREAM_LOADS=10,100,300,1000 STREAM_SECONDS=10 node --import tsx bench/run.ts streaming
 *   STREAM_REPEAT=3 …                                             # each pair 3 times, medians (the box is noisy)
 *   STREAM_WARMUP=0 …                                             # no warm-up round (default 3 s, ≤ 100 streams)
 *   STREAM_PROFILE=1 …                                            # + CPU profile summaries (of the bundle)
 *   STREAM_PROFILE_KEEP=/some/dir …                               # and keep the .cpuprofile files there
 *   STREAM_PLOT=docs …                                            # + streaming-{latency,cpu,memory}.svg into docs/
 *
 * Each target first serves a warm-up round (STREAM_WARMUP s, at most 100 streams), so the window
 * measures a process in its steady state, not its JIT warming up. Per load and target: CPU per
 * delivered delta (target process user+sys over the window, /proc, with the kernel's and the main
 * thread's shares),
 * delivered fraction (deltas that reached a client before the fake's end + 2 s), latency from
 * the fake's write to the client's receive (p50/p99/max) and RSS per stream (peak − idle).
 */
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { lineChart } from "./connections/plot.js"
import { summarise } from "./streaming/profile.js"
import { cpuSplit, freePort, mainThreadMicros, type Proc, rssBytes, start } from "./streaming/procs.js"

const here = dirname(fileURLToPath(import.meta.url))
const root = join(here, "..")
const loads = (process.env.STREAM_LOADS ?? "10,100").split(",").map(Number)
const seconds = Number(process.env.STREAM_SECONDS ?? 5)
const profile = process.env.STREAM_PROFILE === "1"
const warmup = Number(process.env.STREAM_WARMUP ?? 3)
const repeats = Math.max(1, Number(process.env.STREAM_REPEAT ?? 1))
const tsx = ["--import", "tsx"]
/** `STREAM_PLOT=docs`: the figures as SVG line charts into that directory (latency, CPU, memory per stream). */
const plotDir = process.env.STREAM_PLOT

interface Row {
  readonly target: string
  readonly streams: number
  readonly cpuPerDeltaUs: number
  /** The kernel's share of that CPU (syscalls: sockets, files). */
  readonly systemShare: number
  /** The main thread's (event loop's) share of it; the rest is V8's GC and compiler threads and libuv's. */
  readonly mainShare: number
  readonly delivered: number
  readonly p50: number
  readonly p99: number
  readonly max: number
  readonly rssPerStreamKiB: number
}

const startTarget = async (target: "floor" | "gateway", fakeUrl: string, dir: string): Promise<{ proc: Proc; url: string }> => {
  const env = { ANTHROPIC_API_KEY: "bench-key", ANTHROPIC_BASE_URL: fakeUrl }
  if (target === "floor") {
    const proc = start([...(profile ? ["--cpu-prof", `--cpu-prof-dir=${join(dir, "prof")}`] : []), ...tsx, join(here, "streaming/floor.ts")], env)
    const { port } = JSON.parse(await proc.line((l) => l.startsWith("{"), 20_000)) as { port: number }
    return { proc, url: `ws://127.0.0.1:${port}/` }
  }
  const port = await freePort()
  const config = join(dir, "sluice.json")
  writeFileSync(config, JSON.stringify({ gateway: { limits: { maxRunsPerPrincipal: 100_000, messagesPerSecond: 1000, burst: 1000 } } }))
  const flags = profile ? ["--cpu-prof", `--cpu-prof-dir=${join(dir, "prof")}`] : []
  // Profiles are of the bundle users run; profile.ts maps its lines back to source modules.
  const genv = { ...env, ...(process.env.GATEWAY_NODE_OPTIONS ? { NODE_OPTIONS: process.env.GATEWAY_NODE_OPTIONS } : {}) }
  const proc = start([...flags, join(root, "packages/cli/bin/sluice.js"), "gateway", "--port", String(port), "--data-dir", join(dir, "data"), "--config", config], genv, dir)
  await proc.line((l) => l.includes(`:${port}`), 60_000)
  return { proc, url: `ws://127.0.0.1:${port}/v1/ws` }
}

const measure = async (target: "floor" | "gateway", streams: number): Promise<Row> => {
  const dir = mkdtempSync(join(tmpdir(), "sluice-stream-"))
  const env = { SECONDS: String(seconds), DELTAS_PER_SECOND: "20" }
  const fake = start([...tsx, join(here, "streaming/fake.ts")], env)
  let t: { proc: Proc; url: string } | undefined
  let clients: Proc | undefined
  try {
    const { port } = JSON.parse(await fake.line((l) => l.startsWith("{"), 20_000)) as { port: number }
    t = await startTarget(target, `http://127.0.0.1:${port}`, dir)
    const pid = t.proc.child.pid!
    if (warmup > 0) {
      // Both targets warm up the same way (the JIT has compiled the hot paths before the window):
      // what is measured is the steady state of a process that has been serving for a while.
      const w = start([...tsx, join(here, "streaming/clients.ts")], { SECONDS: String(warmup), DELTAS_PER_SECOND: "20", TARGET: target, URL: t.url, STREAMS: String(Math.min(streams, 100)), RUN_TAG: `warm-${Date.now()}` })
      await w.line((l) => l.startsWith("{"), (warmup + 30) * 1000)
      await w.stop()
    }
    await new Promise((r) => setTimeout(r, 500))
    const idle = rssBytes(pid)
    clients = start([...tsx, join(here, "streaming/clients.ts")], { ...env, TARGET: target, URL: t.url, STREAMS: String(streams), RUN_TAG: String(Date.now()) })
    await clients.line((l) => l === "started", 30_000)
    const c0 = cpuSplit(pid)
    const m0 = mainThreadMicros(pid)
    let peak = idle
    const sampler = setInterval(() => (peak = Math.max(peak, rssBytes(pid))), 200)
    const result = JSON.parse(await clients.line((l) => l.startsWith("{"), (seconds + 30) * 1000)) as {
      delivered: number
      expected: number
      p50: number
      p99: number
      max: number
    }
    clearInterval(sampler)
    const c1 = cpuSplit(pid)
    const main = mainThreadMicros(pid) - m0
    const cpu = c1.user + c1.system - c0.user - c0.system
    return {
      target,
      streams,
      cpuPerDeltaUs: result.delivered === 0 ? Number.NaN : cpu / result.delivered,
      systemShare: cpu === 0 ? 0 : (c1.system - c0.system) / cpu,
      mainShare: cpu === 0 ? 0 : main / cpu,
      delivered: result.delivered / result.expected,
      p50: result.p50,
      p99: result.p99,
      max: result.max,
      rssPerStreamKiB: (peak - idle) / 1024 / streams
    }
  } finally {
    await clients?.stop()
    await t?.proc.stop()
    await fake.stop()
    if (profile) {
      const profDir = join(dir, "prof")
      for (const f of readdirSync(profDir)) {
        console.log(`${target} profile at ${streams} streams:\n${summarise(join(profDir, f))}`)
        if (process.env.STREAM_PROFILE_KEEP) copyFileSync(join(profDir, f), join(process.env.STREAM_PROFILE_KEEP, `${target}-${streams}-${f}`))
      }
    }
    rmSync(dir, { recursive: true, force: true })
  }
}

const median = (xs: ReadonlyArray<number>): number => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

/** Each metric's median over the repeats (the ratio is the median of the per-repeat ratios). */
const medianRow = (rs: ReadonlyArray<Row>): Row => ({
  target: rs[0]!.target,
  streams: rs[0]!.streams,
  cpuPerDeltaUs: median(rs.map((r) => r.cpuPerDeltaUs)),
  systemShare: median(rs.map((r) => r.systemShare)),
  mainShare: median(rs.map((r) => r.mainShare)),
  delivered: median(rs.map((r) => r.delivered)),
  p50: median(rs.map((r) => r.p50)),
  p99: median(rs.map((r) => r.p99)),
  max: median(rs.map((r) => r.max)),
  rssPerStreamKiB: median(rs.map((r) => r.rssPerStreamKiB))
})

export default async () => {
  const rows: Array<Row> = []
  const medians: Array<Row> = []
  console.log(
    `streaming: ${seconds} s per stream, 20 deltas/s, loads ${loads.join(", ")}, ${repeats} repeat(s) (medians; floor and gateway alternate), target process CPU from /proc`
  )
  console.log("| streams | target | CPU µs/delta | ratio | kernel | main thread | delivered | p50 ms | p99 ms | max ms | RSS KiB/stream |")
  console.log("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
  for (const n of loads) {
    const floors: Array<Row> = []
    const gateways: Array<Row> = []
    for (let i = 0; i < repeats; i++) {
      floors.push(await measure("floor", n))
      gateways.push(await measure("gateway", n))
    }
    rows.push(...floors, ...gateways)
    const floor = medianRow(floors)
    const gateway = medianRow(gateways)
    medians.push(floor, gateway)
    const ratios = gateways.map((g, i) => g.cpuPerDeltaUs / floors[i]!.cpuPerDeltaUs)
    for (const r of [floor, gateway]) {
      const ratio =
        r.target === "gateway" ? `${median(ratios).toFixed(2)}×${repeats > 1 ? ` (${ratios.map((x) => x.toFixed(2)).join(", ")})` : ""}` : ""
      console.log(
        `| ${n} | ${r.target} | ${r.cpuPerDeltaUs.toFixed(0)} | ${ratio} | ${(100 * r.systemShare).toFixed(0)} % | ${(100 * r.mainShare).toFixed(0)} % | ${(100 * r.delivered).toFixed(1)} % | ${r.p50} | ${r.p99} | ${r.max} | ${r.rssPerStreamKiB.toFixed(0)} |`
      )
    }
  }
  mkdirSync(join(here, "results"), { recursive: true })
  writeFileSync(join(here, "results", `streaming-${Date.now()}.json`), JSON.stringify({ seconds, repeats, rows }, null, 2))
  if (plotDir !== undefined && medians.length > 0) {
    const name = (t: string) => (t === "gateway" ? "sluice gateway" : "floor (SDK → ws)")
    const series = (target: string, y: (r: Row) => number, suffix = "") => ({
      name: `${name(target)}${suffix}`,
      points: medians.filter((r) => r.target === target).map((r) => ({ x: r.streams, y: y(r) }))
    })
    const files = {
      "streaming-latency.svg": lineChart({
        title: `Added latency per delta, p99 and p50 (${seconds} s streams, 20 deltas/s)`,
        xLabel: "concurrent streams (log scale)",
        yLabel: "ms",
        series: [series("gateway", (r) => r.p99, " p99"), series("floor", (r) => r.p99, " p99"), series("gateway", (r) => r.p50, " p50"), series("floor", (r) => r.p50, " p50")],
        logX: true
      }),
      "streaming-cpu.svg": lineChart({
        title: "CPU per delivered delta",
        xLabel: "concurrent streams (log scale)",
        yLabel: "µs per delta",
        series: [series("gateway", (r) => r.cpuPerDeltaUs), series("floor", (r) => r.cpuPerDeltaUs)],
        logX: true
      }),
      "streaming-memory.svg": lineChart({
        title: "Resident memory per active stream (peak − idle)",
        xLabel: "concurrent streams (log scale)",
        yLabel: "KiB per stream",
        series: [series("gateway", (r) => r.rssPerStreamKiB), series("floor", (r) => r.rssPerStreamKiB)],
        logX: true
      })
    }
    for (const [f, svg] of Object.entries(files)) writeFileSync(join(plotDir, f), svg)
    console.log(`plots: ${Object.keys(files).map((f) => join(plotDir, f)).join(", ")}`)
  }
}
