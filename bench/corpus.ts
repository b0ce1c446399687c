/**
 * A deterministic markdown corpus for benches: headings, paragraphs, lists, code fences with ```
 * and ~~~ (info strings, 0–3 space indents, some longer than a block), CJK and emoji (surrogate
 * pairs). `corpus(bytes, seed)` returns at least `bytes` UTF-8 bytes; `deltas(text, seed)` cuts a
 * text into 4–8 code unit pieces (it may split a surrogate pair, as a worst case).
 */

/** mulberry32: small, fast, deterministic. */
export const rng = (seed: number) => {
  let a = seed >>> 0
  return (): number => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const WORDS = (
  "the a stream block chunk reply model token fence code paragraph sentence gateway channel " +
  "effect layer buffer delta message limit break newline whitespace quickly carefully never " +
  "always reader writer value result error retry schedule clock random fiber scope"
).split(" ")
const CJK = ["流式", "代码块", "段落", "句子", "消息", "网关", "模型", "输出"]
const EMOJI = ["😀", "🚀", "✨", "🧪", "👍🏽", "🇯🇵", "🦀"]
const LANGS = ["ts", "js", "python", "rust", "sh", "json", "", "txt", "diff", "typescript title=\"example.ts\""]

export const corpus = (bytes: number, seed = 1): string => {
  const r = rng(seed)
  const pick = <A>(xs: ReadonlyArray<A>): A => xs[Math.floor(r() * xs.length)]!
  const int = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1))
  const word = () => {
    const x = r()
    return x < 0.06 ? pick(CJK) : x < 0.09 ? pick(EMOJI) : pick(WORDS)
  }
  const sentence = () => {
    const n = int(4, 18)
    const ws: Array<string> = []
    for (let i = 0; i < n; i++) ws.push(word())
    const s = ws.join(" ")
    return s[0]!.toUpperCase() + s.slice(1) + pick([".", ".", ".", "!", "?", ":", "。"])
  }
  const paragraph = () => {
    const n = int(1, 6)
    const ss: Array<string> = []
    for (let i = 0; i < n; i++) ss.push(sentence())
    return ss.join(" ")
  }
  const fence = () => {
    const ch = r() < 0.8 ? "`" : "~"
    const marker = ch.repeat(r() < 0.85 ? 3 : int(4, 5))
    const indent = " ".repeat(r() < 0.8 ? 0 : int(1, 3))
    const lines = r() < 0.1 ? int(40, 120) : int(2, 25)
    const body: Array<string> = []
    for (let i = 0; i < lines; i++) {
      const depth = "  ".repeat(int(0, 3))
      body.push(`${depth}${pick(WORDS)}(${pick(WORDS)}, ${int(0, 999)}) // ${pick(WORDS)} ${pick(WORDS)}.`)
    }
    return `${indent}${marker}${pick(LANGS)}\n${body.join("\n")}\n${indent}${marker}`
  }
  const list = () => {
    const n = int(2, 7)
    const items: Array<string> = []
    const ordered = r() < 0.4
    for (let i = 0; i < n; i++) items.push(`${ordered ? `${i + 1}.` : "-"} ${sentence()}`)
    return items.join("\n")
  }
  const parts: Array<string> = []
  let size = 0
  while (size < bytes) {
    const x = r()
    const part =
      x < 0.1 ? `${"#".repeat(int(1, 3))} ${sentence().slice(0, -1)}` : x < 0.55 ? paragraph() : x < 0.75 ? list() : fence()
    parts.push(part)
    size += Buffer.byteLength(part) + 2
  }
  return parts.join("\n\n")
}

/**
 * The lengths `deltas(text, seed)` cuts `text` into (4–8 each). Benches slice the deltas from the
 * text while they run, as a model client allocates each delta when it parses it: holding millions
 * of delta strings alive up front would make the 10 MB rows measure the garbage collector
 * marking them, not the code under test.
 */
export const deltaLengths = (text: string, seed = 1): Uint8Array => {
  const r = rng(seed ^ 0x9e3779b9)
  const out = new Uint8Array(Math.ceil(text.length / 4))
  let k = 0
  for (let i = 0; i < text.length; ) {
    const n = 4 + Math.floor(r() * 5)
    out[k++] = n
    i += n
  }
  return out.subarray(0, k)
}

/** Cut `text` into pieces of 4–8 UTF-16 code units. */
export const deltas = (text: string, seed = 1): Array<string> => {
  const r = rng(seed ^ 0x9e3779b9)
  const out: Array<string> = []
  for (let i = 0; i < text.length; ) {
    const n = 4 + Math.floor(r() * 5)
    out.push(text.slice(i, i + n))
    i += n
  }
  return out
}

/**
 * Yardstick: slice the same deltas from the text and read each char once with `charCodeAt` (no
 * chunking), in CPU ms. Benches report their
 * cost as a multiple of it, which stays meaningful on a loaded machine where raw MB/s does not.
 */
export const yardstick = (text: string, lengths: Uint8Array): number => {
  const c0 = process.cpuUsage()
  let x = 0
  for (let j = 0, at = 0; j < lengths.length; j++) {
    const next = at + lengths[j]!
    const d = text.slice(at, next)
    at = next
    for (let i = 0; i < d.length; i++) x = (x + d.charCodeAt(i)) | 0
  }
  if (x === 0.5) console.log(x)
  const cpu = process.cpuUsage(c0)
  return (cpu.user + cpu.system) / 1000
}

/** Wall and CPU (user + system) milliseconds of one synchronous or asynchronous run. */
export const timed = async <A>(f: () => A | Promise<A>): Promise<{ value: A; ms: number; cpuMs: number }> => {
  const t0 = process.hrtime.bigint()
  const c0 = process.cpuUsage()
  const value = await f()
  const cpu = process.cpuUsage(c0)
  return { value, ms: Number(process.hrtime.bigint() - t0) / 1e6, cpuMs: (cpu.user + cpu.system) / 1000 }
}

export const median = (xs: ReadonlyArray<number>): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
export const best = (xs: ReadonlyArray<number>): number => Math.min(...xs)
export const mbps = (mb: number, ms: number): string => (mb / (ms / 1000)).toFixed(1)

/**
 * Linear cost check over a bench's rows: for each mode, CPU MB/s at the largest size must stay at
 * least half of that at the smallest. A quadratic slip (e.g. re-flattening a growing buffer on every
 * read) fails the bench run (exit code 1) instead of hiding in a table.
 */
export const checkLinear = (rows: ReadonlyArray<Record<string, string | number>>, key = "cpu MB/s best"): void => {
  const byMode = new Map<string, Array<{ mb: number; rate: number }>>()
  for (const r of rows) {
    const rate = Number(r[key])
    if (!Number.isFinite(rate) || r[key] === "") continue
    const list = byMode.get(String(r.mode)) ?? []
    list.push({ mb: Number(r.MB), rate })
    byMode.set(String(r.mode), list)
  }
  for (const [mode, list] of byMode) {
    if (list.length < 2) continue
    const sorted = [...list].sort((a, b) => a.mb - b.mb)
    const small = sorted[0]!
    const large = sorted[sorted.length - 1]!
    if (large.rate < small.rate / 2) {
      console.log(`NOT LINEAR: ${mode}: ${small.rate} MB/s at ${small.mb} MB but ${large.rate} MB/s at ${large.mb} MB`)
      process.exitCode = 1
    }
  }
}
