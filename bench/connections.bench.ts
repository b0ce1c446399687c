/**
 * Held connections, measured from outside: the gateway (`sluice gateway`, as users start it) against
 * the floor (bench/connections/floor.ts: a plain `ws` server answering hello and ping), side by side
 * in one run. A holder process (bench/connections/holder.ts) opens N WebSocket connections, each
 * welcomed after its `hello`, and keeps them; then one `ping` per connection, spread over a second.
 *
 *   node --import tsx bench/run.ts connections                        # 100 and 1,000 connections
 *   CONN_LOADS=100,1000,3000,10000 CONN_PLOT=docs pnpm bench connections   # and the plots into docs/
 *
 * Per target and N: resident memory and live heap (after two full GCs: both targets are started
 * with `--expose-gc` and bench/stress/gcProbe.cjs, the only difference from how users start them)
 * per connection, over the process's idle figures; connect-to-welcome p50/p99; ping round trip
 * p50/p99/max with every connection held.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { lineChart } from "./connections/plot.js"
import { type Proc, rssBytes, start } from "./streaming/procs.js"
import { GC_PROBE, liveMemory, startGateway } from "./stress/gateway.js"

const here = dirname(fileURLToPath(import.meta.url))
const loads = (process.env.CONN_LOADS ?? "100,1000").split(",").map(Number)
const plotDir = process.env.CONN_PLOT
const tsx = ["--import", "tsx"]

interface Row {
  readonly target: "gateway" | "floor"
  readonly connections: number
  readonly rssPerConnKiB: number
  readonly liveHeapPerConnKiB: number
  readonly connect: { readonly p50: number; readonly p99: number }
  readonly ping: { readonly answered: number; readonly p50: number; readonly p99: number; readonly max: number }
}

const startTarget = async (target: Row["target"], dir: string): Promise<{ proc: Proc; url: string }> => {
  if (target === "floor") {
    const proc = start([...tsx, join(here, "connections/floor.ts")], { NODE_OPTIONS: GC_PROBE })
    const { port } = JSON.parse(await proc.line((l) => l.startsWith("{\"port\""), 20_000)) as { port: number }
    return { proc, url: `ws://127.0.0.1:${port}/` }
  }
  const { proc, port } = await startGateway({
    dir,
    config: { model: { provider: "offline" }, gateway: { limits: { messagesPerSecond: 1000, burst: 1000 } } },
    env: { NODE_OPTIONS: GC_PROBE }
  })
  return { proc, url: `ws://127.0.0.1:${port}/v1/ws` }
}

const liveHeap = async (proc: Proc): Promise<number> => (await liveMemory(proc)).heap

const measure = async (target: Row["target"], n: number): Promise<Row> => {
  const dir = mkdtempSync(join(tmpdir(), "sluice-conn-"))
  let t: { proc: Proc; url: string } | undefined
  let holder: Proc | undefined
  try {
    t = await startTarget(target, dir)
    const pid = t.proc.child.pid!
    await new Promise((r) => setTimeout(r, 500))
    const heap0 = await liveHeap(t.proc)
    const rss0 = rssBytes(pid)
    holder = start([...tsx, join(here, "connections/holder.ts")], { URL: t.url, N: String(n) })
    const held = JSON.parse(await holder.line((l) => l.startsWith("{\"held\""), 300_000)) as { held: number; connectMs: { p50: number; p99: number } }
    if (held.held !== n) throw new Error(`${target}: ${held.held} of ${n} connections held`)
    await new Promise((r) => setTimeout(r, 1000))
    const heap1 = await liveHeap(t.proc)
    const rss1 = rssBytes(pid)
    holder.send("ping")
    const { ping } = JSON.parse(await holder.line((l) => l.startsWith("{\"ping\""), 60_000)) as { ping: Row["ping"] }
    return {
      target,
      connections: n,
      rssPerConnKiB: (rss1 - rss0) / 1024 / n,
      liveHeapPerConnKiB: (heap1 - heap0) / 1024 / n,
      connect: held.connectMs,
      ping
    }
  } finally {
    await holder?.stop()
    await t?.proc.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}

export default async () => {
  const rows: Array<Row> = []
  for (const n of loads) for (const target of ["gateway", "floor"] as const) rows.push(await measure(target, n))
  console.log("| target | connections | RSS per connection | live heap per connection | connect → welcome p50 / p99 | ping p50 / p99 / max (all held) | pings answered |")
  console.log("|---|---:|---:|---:|---:|---:|---:|")
  for (const r of rows) {
    console.log(
      `| ${r.target} | ${r.connections} | ${r.rssPerConnKiB.toFixed(1)} KiB | ${r.liveHeapPerConnKiB.toFixed(1)} KiB | ${r.connect.p50.toFixed(1)} / ${r.connect.p99.toFixed(1)} ms | ${r.ping.p50.toFixed(1)} / ${r.ping.p99.toFixed(1)} / ${r.ping.max.toFixed(1)} ms | ${r.ping.answered} |`
    )
  }
  for (const n of loads) {
    const g = rows.find((r) => r.target === "gateway" && r.connections === n)!
    const f = rows.find((r) => r.target === "floor" && r.connections === n)!
    console.log(`${n} connections: gateway/floor RSS per connection ${(g.rssPerConnKiB / f.rssPerConnKiB).toFixed(2)}×, live heap ${(g.liveHeapPerConnKiB / f.liveHeapPerConnKiB).toFixed(2)}×, ping p99 ${(g.ping.p99 / f.ping.p99).toFixed(2)}×`)
  }
  if (plotDir !== undefined) {
    const series = (target: Row["target"], y: (r: Row) => number) => ({
      name: target === "gateway" ? "sluice gateway" : "floor (plain ws)",
      points: rows.filter((r) => r.target === target).map((r) => ({ x: r.connections, y: y(r) }))
    })
    const both = (y: (r: Row) => number) => [series("gateway", y), series("floor", y)]
    writeFileSync(
      join(plotDir, "connections-memory.svg"),
      // The live heap (after full GCs) is the stable measure; RSS per connection is noisy below ~1,000.
      lineChart({ title: "Live heap per held WebSocket connection", xLabel: "connections held (log scale)", yLabel: "KiB per connection (live heap)", series: both((r) => r.liveHeapPerConnKiB), logX: true })
    )
    writeFileSync(
      join(plotDir, "connections-latency.svg"),
      lineChart({ title: "Ping round trip with every connection held (p99)", xLabel: "connections held (log scale)", yLabel: "ms", series: both((r) => r.ping.p99), logX: true })
    )
    console.log(`plots: ${join(plotDir, "connections-memory.svg")}, ${join(plotDir, "connections-latency.svg")}`)
  }
}
