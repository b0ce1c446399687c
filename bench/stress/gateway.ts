/**
 * What every scenario (and the connections bench) does to the gateway from outside: start it as
 * users do, read its /metrics, and read its live heap through the GC probe.
 */
import { writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { freePort, type Proc, start } from "../streaming/procs.js"

const here = dirname(fileURLToPath(import.meta.url))
const sluice = join(here, "../../packages/cli/bin/sluice.js")

/** NODE_OPTIONS that preload gcProbe.cjs: two full GCs and the live heap on SIGUSR2. */
export const GC_PROBE = `--expose-gc --require ${join(here, "gcProbe.cjs")}`

/**
 * `sluice gateway` (the bundle) with `config` written to `dir/sluice.json`, data in `dataDir`
 * (default `dir/data`), on `port` (default a free one); resolves once it listens.
 */
export const startGateway = async (o: {
  readonly dir: string
  readonly config: unknown
  readonly env?: Record<string, string>
  readonly port?: number
  readonly dataDir?: string
}): Promise<{ readonly proc: Proc; readonly port: number }> => {
  const port = o.port ?? (await freePort())
  const config = join(o.dir, "sluice.json")
  writeFileSync(config, JSON.stringify(o.config))
  const proc = start([sluice, "gateway", "--port", String(port), "--data-dir", o.dataDir ?? join(o.dir, "data"), "--config", config], o.env ?? {}, o.dir)
  try {
    await proc.line((l) => l.includes(`:${port}`), 60_000)
  } catch (e) {
    await proc.stop()
    throw e
  }
  return { proc, port }
}

/** The value of one series in Prometheus text (`name` or `name{labels}` exactly), else `missing`. */
export const metricValue = (text: string, series: string, missing = Number.NaN): number => {
  for (const line of text.split("\n")) if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1))
  return missing
}

/** The gateway's /metrics (no token: the scenarios run it without tokens). */
export const scrapeMetrics = async (port: number): Promise<string> => (await fetch(`http://127.0.0.1:${port}/metrics`)).text()

/** The live heap and RSS of a process started with GC_PROBE, after two full GCs. */
export const liveMemory = async (proc: Proc): Promise<{ readonly heap: number; readonly rss: number }> => {
  const line = proc.line((l) => l.startsWith("{\"live\""), 20_000)
  proc.child.kill("SIGUSR2")
  return (JSON.parse(await line) as { live: { heap: number; rss: number } }).live
}
