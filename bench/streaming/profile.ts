/**
 * A V8 `.cpuprofile` (from `node --cpu-prof`) summarised the way the streaming benchmark reports
 * it: the share of self time per category — Effect runtime, GC, SQLite, sockets, SDK parsing, our
 * own code, other — plus the busiest functions of our own code. Pure over the parsed profile, so
 * `categorise` and `shares` are unit-tested without a profiler.
 */
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"

export interface CallFrame {
  readonly functionName: string
  readonly url: string
  readonly lineNumber?: number
}
export interface ProfileNode {
  readonly id: number
  readonly callFrame: CallFrame
  readonly hitCount?: number
}
export interface CpuProfile {
  readonly nodes: ReadonlyArray<ProfileNode>
  readonly samples?: ReadonlyArray<number>
  readonly timeDeltas?: ReadonlyArray<number>
}

export const categories = ["effect", "gc", "sqlite", "sockets", "sdk", "ours", "idle", "other"] as const
export type Category = (typeof categories)[number]

/** Where a frame's self time belongs. Order matters: the first match wins. */
export const categorise = ({ functionName, url }: CallFrame): Category => {
  if (functionName === "(garbage collector)") return "gc"
  if (functionName === "(idle)" || functionName === "(program)") return "idle"
  if (/better-sqlite3|@effect\/sql|packages\/core\/src\/(sqlite|internal\/sqlite)/.test(url)) return "sqlite"
  if (/@anthropic-ai/.test(url)) return "sdk"
  if (/node_modules\/(\.pnpm\/)?(effect|@effect)/.test(url)) return "effect"
  if (/\/packages\//.test(url)) return "ours"
  if (/^node:(net|stream|_http|http|internal\/(streams|stream_base|net|http|js_stream))|\/ws\/lib\//.test(url) || /^node:internal\/(deps\/undici|webstreams)/.test(url)) return "sockets"
  if (url === "" && /^(writev|writeUtf8String|writeBuffer|onStreamRead|readStop|readStart)$/.test(functionName)) return "sockets"
  return "other"
}

/**
 * esbuild marks where each module starts in a bundle with a `// <path>` line. For a frame in a
 * bundle file, the source path of the module its line falls in (so the bundled gateway, what users
 * run, is categorised like the sources); other frames keep their URL.
 */
export const sourceIndex = (text: string): ReadonlyArray<readonly [number, string]> => {
  const out: Array<readonly [number, string]> = []
  const lines = text.split("\n")
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!
    if (!line.startsWith("// ")) continue
    const m = /^\/\/ ((?:\.\.\/)*\S*(?:node_modules|packages)\/\S+)$/.exec(line)
    if (m !== null) {
      out.push([i, m[1]!])
      continue
    }
    // Built from packages/cli, the workspace's own modules are `../core/src/…` and `src/…` (the CLI's).
    const w = /^\/\/ (?:\.\.\/)?([a-z-]+\/)?src\/(\S+\.ts)$/.exec(line)
    if (w !== null) out.push([i, `/packages/${w[1] ?? "cli/"}src/${w[2]!}`])
  }
  return out
}

const indexes = new Map<string, ReadonlyArray<readonly [number, string]>>()
const bundled = (url: string): ReadonlyArray<readonly [number, string]> => {
  let idx = indexes.get(url)
  if (idx === undefined) {
    idx = /\/\.cache\/sluice-cli\//.test(url) ? sourceIndex(readFileSync(fileURLToPath(url), "utf8")) : []
    indexes.set(url, idx)
  }
  return idx
}

/** The frame with its source module's path as URL when it is in a bundle (see `sourceIndex`). */
export const resolveFrame = (f: CallFrame, index: ReadonlyArray<readonly [number, string]> = f.url.startsWith("file:") ? bundled(f.url) : []): CallFrame => {
  if (index.length === 0) return f
  const line = f.lineNumber ?? 0
  let lo = 0
  let hi = index.length - 1
  if (index[0]![0] > line) return f
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1
    if (index[mid]![0] <= line) lo = mid
    else hi = mid - 1
  }
  return { ...f, url: index[lo]![1].replace(/^(\.\.\/)+/, "/") }
}

/** Self time (µs) per node id: from samples and timeDeltas when present, else hitCount. */
const selfTimes = (p: CpuProfile): Map<number, number> => {
  const out = new Map<number, number>()
  if (p.samples !== undefined && p.timeDeltas !== undefined && p.samples.length === p.timeDeltas.length) {
    // timeDeltas[i] is the time before sample i; attribute it to the sample that follows it.
    for (let i = 0; i < p.samples.length; i++) {
      const id = p.samples[i]!
      out.set(id, (out.get(id) ?? 0) + Math.max(0, p.timeDeltas[i]!))
    }
    return out
  }
  for (const n of p.nodes) out.set(n.id, n.hitCount ?? 0)
  return out
}

export interface Summary {
  /** Shares of busy (non-idle) self time, 0–1, per category (idle excluded from the total). */
  readonly shares: Record<Category, number>
  readonly busyMs: number
  /** Our own busiest functions: [name (file:line), share of busy time]. */
  readonly topOurs: ReadonlyArray<readonly [string, number]>
  /** The busiest functions left in "other", to see what the categories miss. */
  readonly topOther: ReadonlyArray<readonly [string, number]>
  /** The Effect runtime's busiest functions (which machinery the hot path still goes through). */
  readonly topEffect: ReadonlyArray<readonly [string, number]>
}

export const shares = (p: CpuProfile, top = 8): Summary => {
  const self = selfTimes(p)
  const byId = new Map(p.nodes.map((n) => [n.id, n]))
  const total: Record<Category, number> = { effect: 0, gc: 0, sqlite: 0, sockets: 0, sdk: 0, ours: 0, idle: 0, other: 0 }
  const ours = new Map<string, number>()
  const other = new Map<string, number>()
  const effect = new Map<string, number>()
  for (const [id, t] of self) {
    const node = byId.get(id)
    if (node === undefined) continue
    const frame = resolveFrame(node.callFrame)
    const c = categorise(frame)
    total[c] += t
    if (c === "ours") {
      const file = frame.url.replace(/^.*\/packages\//, "")
      const key = `${frame.functionName || "(anonymous)"} (${file}${frame === node.callFrame ? `:${(frame.lineNumber ?? 0) + 1}` : ""})`
      ours.set(key, (ours.get(key) ?? 0) + t)
    } else if (c === "effect") {
      const key = `${frame.functionName || "(anonymous)"} (${frame.url.replace(/^.*\/dist\/esm\//, "")})`
      effect.set(key, (effect.get(key) ?? 0) + t)
    } else if (c === "other") {
      const key = `${frame.functionName || "(anonymous)"} (${frame.url.replace(/^.*node_modules\//, "") || "native"})`
      other.set(key, (other.get(key) ?? 0) + t)
    }
  }
  const busy = categories.filter((c) => c !== "idle").reduce((s, c) => s + total[c], 0)
  const share = (t: number) => (busy === 0 ? 0 : t / busy)
  const result = Object.fromEntries(categories.map((c) => [c, c === "idle" ? 0 : share(total[c])])) as Record<Category, number>
  const ranked = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]).slice(0, top).map(([k, t]) => [k, share(t)] as const)
  return { shares: result, busyMs: busy / 1000, topOurs: ranked(ours), topOther: ranked(other), topEffect: ranked(effect) }
}

const pct = (x: number) => `${(100 * x).toFixed(1)} %`

/** A printable summary of the profile in `file`. */
export const summarise = (file: string): string => {
  const s = shares(JSON.parse(readFileSync(file, "utf8")) as CpuProfile)
  const line = categories
    .filter((c) => c !== "idle")
    .map((c) => `${c} ${pct(s.shares[c])}`)
    .join(", ")
  return [
    `  busy ${s.busyMs.toFixed(0)} ms: ${line}`,
    "  ours, busiest:",
    ...s.topOurs.map(([k, v]) => `    ${pct(v)}  ${k}`),
    "  other, busiest:",
    ...s.topOther.map(([k, v]) => `    ${pct(v)}  ${k}`),
    "  effect, busiest:",
    ...s.topEffect.map(([k, v]) => `    ${pct(v)}  ${k}`)
  ].join("\n")
}
