/**
 * Streaming load, measured from outside as users run it: the gateway (`sluice gateway`, SQLite,
 * the real Anthropic SDK) against the floor (bench/streaming/floor.ts: the SDK stream forwarded to
 * a WebSocket by hand), side by side in one run. The fake Anthropic server and the load clients
 * run in their own processes; each stream gets 20 text deltas/s for STREAM_SECONDS.
 *
 *   node --import tsx bench/run.ts streaming                      # 10 and 100 streams, 5 s
 *   STREAM_LOADS=10,100,300,1000 STREAM_SECONDS=10 node --import tsx bench/run.ts streaming
 *   STREAM_PROFILE=1 …                                            # + CPU profile summaries (of the bundle)
 *   STREAM_PROFILE_KEEP=/some/dir …                               # and keep the .cpuprofile files there
 *
 * Per load and target: CPU per delivered delta (target process user+sys over the window, /proc),
 * delivered fraction (deltas that reached a client before the fake's end + 2 s), latency from
 * the fake's write to the client's receive (p50/p99/max) and RSS per stream (peak − idle).
 */
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { summarise } from "./streaming/profile.js"
import { cpuMicros, freePort, type Proc, rssBytes, start } from "./streaming/procs.js"

const here = dirname(fileURLToPath(import.meta.url))
const root = join(here, "..")
const loads = (process.env.STREAM_LOADS ?? "10,100").split(",").map(Number)
const seconds = Number(process.env.STREAM_SECONDS ?? 5)
const profile = process.env.STREAM_PROFILE === "1"
const tsx = ["--import", "tsx"]

interface Row {
  readonly target: string
  readonly streams: number
  readonly cpuPerDeltaUs: number
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
    await new Promise((r) => setTimeout(r, 500))
    const idle = rssBytes(pid)
    clients = start([...tsx, join(here, "streaming/clients.ts")], { ...env, TARGET: target, URL: t.url, STREAMS: String(streams), RUN_TAG: String(Date.now()) })
    await clients.line((l) => l === "started", 30_000)
    const c0 = cpuMicros(pid)
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
    const cpu = cpuMicros(pid) - c0
    return {
      target,
      streams,
      cpuPerDeltaUs: result.delivered === 0 ? Number.NaN : cpu / result.delivered,
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

export default async () => {
  const rows: Array<Row> = []
  console.log(`streaming: ${seconds} s per stream, 20 deltas/s, loads ${loads.join(", ")} (target process CPU from /proc)`)
  console.log("| streams | target | CPU µs/delta | ratio | delivered | p50 ms | p99 ms | max ms | RSS KiB/stream |")
  console.log("|---:|---|---:|---:|---:|---:|---:|---:|---:|")
  for (const n of loads) {
    const floor = await measure("floor", n)
    const gateway = await measure("gateway", n)
    rows.push(floor, gateway)
    for (const r of [floor, gateway]) {
      const ratio = r.target === "gateway" ? `${(gateway.cpuPerDeltaUs / floor.cpuPerDeltaUs).toFixed(2)}×` : ""
      console.log(
        `| ${n} | ${r.target} | ${r.cpuPerDeltaUs.toFixed(0)} | ${ratio} | ${(100 * r.delivered).toFixed(1)} % | ${r.p50} | ${r.p99} | ${r.max} | ${r.rssPerStreamKiB.toFixed(0)} |`
      )
    }
  }
  mkdirSync(join(here, "results"), { recursive: true })
  writeFileSync(join(here, "results", `streaming-${Date.now()}.json`), JSON.stringify({ seconds, rows }, null, 2))
}
