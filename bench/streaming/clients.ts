/**
 * Load clients for the streaming benchmark, in their own process: STREAMS WebSocket connections to
 * TARGET (`floor` or `gateway`) at URL (or spread over a comma-separated list of them), each asks for one reply and reads it to the end. Every
 * text delta carries the fake server's write time (`⟦ms⟧`); a delta counts as delivered (once) when it
 * first arrives, in whatever event, before the deadline (the fake's SECONDS + GRACE_MS). Prints `started` when every request
 * is out, then one JSON line with delivered, expected and the latencies' p50/p99/max.
 */
import WebSocket from "ws"

const target = process.env.TARGET as "floor" | "gateway"
/** One URL, or several comma-separated (cluster runners): stream i goes to the i-th, round robin. */
const urls = process.env.URL!.split(",")
const streams = Number(process.env.STREAMS ?? 10)
const seconds = Number(process.env.SECONDS ?? 10)
const rate = Number(process.env.DELTAS_PER_SECOND ?? 20)
const graceMs = Number(process.env.GRACE_MS ?? 2000)
const tag = process.env.RUN_TAG ?? String(Date.now())
const marker = /⟦(\d+)⟧/g

const latencies: Array<number> = []
let delivered = 0
let deadline = Number.POSITIVE_INFINITY

/** Counts each marker once per stream, whichever event carries it first (Draft, Block or Final). */
const count = (seen: Set<string>, text: string) => {
  const now = Date.now()
  if (now > deadline) return
  for (const m of text.matchAll(marker)) {
    if (seen.has(m[1]!)) continue
    seen.add(m[1]!)
    delivered++
    latencies.push(now - Number(m[1]))
  }
}

const one = (i: number) =>
  new Promise<void>((resolve) => {
    const ws = new WebSocket(urls[i % urls.length]!)
    const seen = new Set<string>()
    const done = () => {
      ws.close()
      resolve()
    }
    ws.on("error", done)
    ws.on("close", () => resolve())
    if (target === "floor") {
      ws.on("open", () => ws.send(JSON.stringify({ text: `stream please seconds=${seconds}` })))
      ws.on("message", (data) => {
        const f = JSON.parse(String(data)) as { text?: string; end?: boolean; error?: string }
        if (f.text !== undefined) count(seen, f.text)
        if (f.end || f.error) done()
      })
      return
    }
    const conversationId = `bench-${tag}-${i}`
    ws.on("open", () => ws.send(JSON.stringify({ type: "hello", protocol: 1, encoding: "json" })))
    ws.on("message", (data) => {
      const f = JSON.parse(String(data)) as Frame
      if (f.type === "welcome") ws.send(JSON.stringify({ type: "send", id: 1, conversationId, text: `stream please seconds=${seconds}` }))
      else if (f.type === "res" && f.id === 1) {
        if (!f.ok) return done()
        ws.send(JSON.stringify({ type: "subscribe", id: 2, conversationId, fromSeq: f.result!.seq - 1 }))
      } else if (f.type === "event" || f.type === "batch") {
        for (const e of f.type === "event" ? [f.event!] : f.events!) {
          // The last words can come in the closing Block/Final rather than a Draft.
          if (e._tag === "Draft" || e._tag === "Block" || e._tag === "Final") count(seen, e.text)
          else if (e._tag === "RunEnded") return done()
        }
      }
    })
  })

/** The gateway frames the clients read (docs/protocol.md). */
interface Frame {
  readonly type: string
  readonly id?: number
  readonly ok?: boolean
  readonly result?: { readonly seq: number }
  readonly event?: BenchEvent
  readonly events?: ReadonlyArray<BenchEvent>
}
interface BenchEvent {
  readonly _tag: string
  readonly text: string
}

const pct = (xs: Array<number>, p: number) => (xs.length === 0 ? 0 : xs[Math.min(xs.length - 1, Math.floor(p * xs.length))]!)

const main = async () => {
  const all = Array.from({ length: streams }, (_, i) => one(i))
  deadline = Date.now() + seconds * 1000 + graceMs
  process.stdout.write("started\n")
  await Promise.race([Promise.all(all), new Promise((r) => setTimeout(r, seconds * 1000 + graceMs + 3000))])
  latencies.sort((a, b) => a - b)
  const result = { delivered, expected: streams * Math.round(rate * seconds), p50: pct(latencies, 0.5), p99: pct(latencies, 0.99), max: latencies.at(-1) ?? 0 }
  process.stdout.write(`${JSON.stringify(result)}\n`)
  process.exit(0)
}
void main()
