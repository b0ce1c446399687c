/**
 * The cluster, measured from outside as users run it (`sluice gateway --cluster`, every runner a
 * process of its own on the machine's PostgreSQL), side by side with the one-process gateway on
 * SQLite in the same run:
 *
 * - streaming: the streaming bench's load (fake Anthropic server and load clients in their own
 *   processes, 20 deltas/s per stream), against 1 process (SQLite), 1 runner and 3 runners (the
 *   clients spread over the runners, so about 2 of 3 streams cross a runner-to-runner hop): CPU per
 *   delivered delta summed over every gateway process, delivered fraction, p50/p99 added latency;
 * - sends: accepted sends per second, 32 HTTP clients sending to distinct conversations, to 1
 *   process, 1 runner and 3 runners;
 * - failover: 3 runners, 12 conversations; SIGKILL one runner, then time until every conversation
 *   accepts a message again through the others; and the same after a SIGTERM (the handoff).
 *
 *   node --import tsx bench/run.ts cluster
 *   CLUSTER_LOADS=100,300 CLUSTER_SECONDS=10 CLUSTER_FAILOVERS=5 node --import tsx bench/run.ts cluster
 *
 * Needs PostgreSQL (SLUICE_TEST_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/test);
 * says so and skips without one. The machine is a noisy 2-core box: 3 runners share 2 cores
 * with the fake server and the clients, so "3 runners" measures the hop's cost, not scale-out.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { database, pgUnavailable } from "../packages/core/fakes/postgres.js"
import { cpuSplit, freePort, type Proc, start } from "./streaming/procs.js"

const here = dirname(fileURLToPath(import.meta.url))
const root = join(here, "..")
const bin = join(root, "packages/cli/bin/sluice.js")
const tsx = ["--import", "tsx"]
const loads = (process.env.CLUSTER_LOADS ?? "100").split(",").map(Number)
const seconds = Number(process.env.CLUSTER_SECONDS ?? 5)
const failovers = Number(process.env.CLUSTER_FAILOVERS ?? 3)
/** `CLUSTER_PARTS=streaming,sends,failover` (default all); `CLUSTER_TARGETS=single,cluster×1,cluster×3`. */
const parts = (process.env.CLUSTER_PARTS ?? "streaming,sends,failover").split(",")
const onlyTargets = process.env.CLUSTER_TARGETS?.split(",")
/** `CLUSTER_NODE_FLAGS="--cpu-prof --cpu-prof-dir=/tmp/p"`: Node flags for the gateway processes. */
const nodeFlags = process.env.CLUSTER_NODE_FLAGS?.split(" ").filter((f) => f !== "") ?? []

type Target = "single" | "cluster×1" | "cluster×3"
interface Gateway {
  readonly procs: ReadonlyArray<Proc>
  readonly bases: ReadonlyArray<string>
  readonly stop: () => Promise<void>
}

const median = (xs: ReadonlyArray<number>) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length === 0 ? Number.NaN : s.length % 2 === 1 ? s[s.length >> 1]! : (s[(s.length >> 1) - 1]! + s[s.length >> 1]!) / 2
}

const ready = async (bases: ReadonlyArray<string>) => {
  const t0 = Date.now()
  for (;;) {
    const states = await Promise.all(bases.map(async (b) => ((await (await fetch(`${b}/readyz`)).json()) as { ready: boolean }).ready))
    if (states.every(Boolean)) return
    if (Date.now() - t0 > 60_000) throw new Error("runners not ready after 60 s")
    await new Promise((r) => setTimeout(r, 100))
  }
}

/** The gateway(s) of `target`, with `config`, on `databaseUrl` for a cluster. */
const startGateways = async (target: Target, dir: string, config: object, env: Record<string, string>, databaseUrl?: string): Promise<Gateway> => {
  const file = join(dir, "sluice.json")
  writeFileSync(file, JSON.stringify(config))
  const n = target === "cluster×3" ? 3 : 1
  const procs: Array<Proc> = []
  const bases: Array<string> = []
  await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const port = await freePort()
      const args = [...nodeFlags, bin, "gateway", "--port", String(port), "--data-dir", join(dir, `data${i}`), "--config", file]
      if (target !== "single") args.push("--cluster", "--database-url", databaseUrl!, "--runner-port", String(await freePort()))
      const proc = start(args, env, dir)
      procs[i] = proc
      await proc.line((l) => l.includes(`:${port}`), 60_000)
      bases[i] = `http://127.0.0.1:${port}`
    })
  )
  if (target !== "single") await ready(bases)
  return { procs, bases, stop: async () => void (await Promise.all(procs.map((p) => p.stop()))) }
}

// ---- streaming -----------------------------------------------------------------------------

const streaming = async (target: Target, streams: number, databaseUrl: string) => {
  const dir = mkdtempSync(join(tmpdir(), "sluice-cluster-"))
  const fake = start([...tsx, join(here, "streaming/fake.ts")], { SECONDS: String(seconds), DELTAS_PER_SECOND: "20" })
  let gw: Gateway | undefined
  let clients: Proc | undefined
  try {
    const { port } = JSON.parse(await fake.line((l) => l.startsWith("{"), 20_000)) as { port: number }
    const env = { ANTHROPIC_API_KEY: "bench-key", ANTHROPIC_BASE_URL: `http://127.0.0.1:${port}` }
    const limits = { gateway: { limits: { maxRunsPerPrincipal: 100_000, messagesPerSecond: 1000, burst: 1000 } } }
    gw = await startGateways(target, dir, limits, env, databaseUrl)
    const urls = gw.bases.map((b) => `${b.replace("http", "ws")}/v1/ws`).join(",")
    // Warm-up round, as the streaming bench does.
    const w = start([...tsx, join(here, "streaming/clients.ts")], { SECONDS: "3", DELTAS_PER_SECOND: "20", TARGET: "gateway", URL: urls, STREAMS: String(Math.min(streams, 100)), RUN_TAG: `warm-${Date.now()}` })
    await w.line((l) => l.startsWith("{"), 40_000)
    await w.stop()
    clients = start([...tsx, join(here, "streaming/clients.ts")], { SECONDS: String(seconds), DELTAS_PER_SECOND: "20", TARGET: "gateway", URL: urls, STREAMS: String(streams), RUN_TAG: String(Date.now()) })
    await clients.line((l) => l === "started", 30_000)
    const cpu = () => gw!.procs.reduce((sum, p) => {
      const c = cpuSplit(p.child.pid!)
      return sum + c.user + c.system
    }, 0)
    const c0 = cpu()
    const r = JSON.parse(await clients.line((l) => l.startsWith("{"), (seconds + 30) * 1000)) as { delivered: number; expected: number; p50: number; p99: number }
    const used = cpu() - c0
    return { cpuPerDeltaUs: used / Math.max(1, r.delivered), delivered: r.delivered / r.expected, p50: r.p50, p99: r.p99 }
  } finally {
    await clients?.stop()
    await gw?.stop()
    await fake.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}

// ---- sends -----------------------------------------------------------------------------------

const sends = async (target: Target, databaseUrl: string) => {
  const dir = mkdtempSync(join(tmpdir(), "sluice-cluster-"))
  // The offline model as fast as it goes, with short answers: what is measured is taking sends.
  const config = { model: { provider: "offline", offline: { tokensPerSecond: 0, words: 5 } }, gateway: { limits: { maxRunsPerPrincipal: 100_000, messagesPerSecond: 100_000, burst: 100_000 } } }
  const gw = await startGateways(target, dir, config, {}, databaseUrl)
  try {
    const windowMs = seconds * 1000
    const end = Date.now() + windowMs
    let accepted = 0
    let failed = 0
    await Promise.all(
      Array.from({ length: 32 }, async (_, c) => {
        for (let i = 0; Date.now() < end; i++) {
          const base = gw.bases[(c + i) % gw.bases.length]!
          const res = await fetch(`${base}/v1/conversations/s-${c}-${i % 50}/messages`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ text: `message ${i}`, queueMode: "collect" })
          })
          await res.arrayBuffer()
          if (res.status === 202) accepted++
          else failed++
        }
      })
    )
    return { perSecond: accepted / (windowMs / 1000), failed }
  } finally {
    await gw.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}

// ---- failover --------------------------------------------------------------------------------

const failover = async (signal: "SIGKILL" | "SIGTERM", databaseUrl: string) => {
  const dir = mkdtempSync(join(tmpdir(), "sluice-cluster-"))
  const config = { model: { provider: "offline", offline: { tokensPerSecond: 40, words: 150 } }, gateway: { limits: { maxRunsPerPrincipal: 1000 } } }
  const gw = await startGateways("cluster×3", dir, config, {}, databaseUrl)
  const post = (base: string, id: string, text: string) =>
    fetch(`${base}/v1/conversations/${id}/messages`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ text }) }).then(
      async (r) => (await r.arrayBuffer(), r.status)
    )
  try {
    const ids = Array.from({ length: 12 }, (_, i) => `f${i}`)
    const survivor = gw.bases[0]!
    for (const id of ids) await post(survivor, id, "first")
    await new Promise((r) => setTimeout(r, 1500)) // runs under way
    const t0 = Date.now()
    const victim = gw.procs[2]!
    victim.child.kill(signal)
    const times = await Promise.all(
      ids.map(async (id) => {
        for (;;) {
          if ((await post(survivor, id, "again")) === 202) return Date.now() - t0
          if (Date.now() - t0 > 60_000) return Number.NaN
        }
      })
    )
    return Math.max(...times)
  } finally {
    await gw.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}

export default async () => {
  if (pgUnavailable !== undefined) {
    console.log(`cluster: SKIPPED, no PostgreSQL (${pgUnavailable})`)
    return
  }
  const targets = (["single", "cluster×1", "cluster×3"] as const).filter((t) => onlyTargets === undefined || onlyTargets.includes(t))
  if (parts.includes("streaming")) {
    console.log(`cluster: streaming ${seconds} s per stream at 20 deltas/s, loads ${loads.join(", ")}; CPU summed over every gateway process`)
    console.log("| streams | target | CPU per delivered delta | delivered | p50 / p99 added latency |")
    console.log("|---:|---|---:|---:|---:|")
    for (const n of loads) {
      for (const t of targets) {
        await using db = await database()
        const r = await streaming(t, n, db.url)
        console.log(`| ${n} | ${t} | ${r.cpuPerDeltaUs.toFixed(0)} µs | ${(r.delivered * 100).toFixed(1)} % | ${r.p50} / ${r.p99} ms |`)
      }
    }
  }
  if (parts.includes("sends")) {
    console.log(`\ncluster: accepted sends/s (32 HTTP clients, ${seconds} s)`)
    console.log("| target | sends/s | refused |")
    console.log("|---|---:|---:|")
    for (const t of targets) {
      await using db = await database()
      const r = await sends(t, db.url)
      console.log(`| ${t} | ${r.perSecond.toFixed(0)} | ${r.failed} |`)
    }
  }
  if (parts.includes("failover")) {
    for (const signal of ["SIGKILL", "SIGTERM"] as const) {
      const times: Array<number> = []
      for (let i = 0; i < failovers; i++) {
        await using db = await database()
        times.push(await failover(signal, db.url))
      }
      console.log(
        `\ncluster failover (${signal} one of 3 runners, 12 conversations): every conversation answered again after ` +
          `${median(times).toFixed(0)} ms (median of ${times.length}; each: ${times.map((t) => t.toFixed(0)).join(", ")} ms)`
      )
    }
  }
}
