/**
 * Holds N WebSocket connections to URL (each: connect, `hello`, `welcome`), at most 200 connecting
 * at once. Prints `{"held":n,"connectMs":{p50,p99,max}}` once all are welcomed; then on each "ping"
 * line on stdin sends one `ping` on every connection, spread over one second, and prints
 * `{"ping":{answered,p50,p99,max}}` (round trip, ms). Runs as its own process.
 */
import { createInterface } from "node:readline"
import WebSocket from "ws"

const url = process.env.URL!
const n = Number(process.env.N ?? 100)
const conns: Array<WebSocket> = []
const waiting = new Map<string, (at: number) => void>()

const pct = (xs: Array<number>, p: number) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length === 0 ? Number.NaN : s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!
}

const open = () =>
  new Promise<number>((resolve, reject) => {
    const t0 = performance.now()
    const ws = new WebSocket(url)
    const timer = setTimeout(() => reject(new Error("no welcome in 30 s")), 30_000)
    ws.on("error", reject)
    ws.on("open", () => ws.send(JSON.stringify({ type: "hello", protocol: 1, encoding: "json" })))
    ws.on("message", (data) => {
      const f = JSON.parse(String(data)) as { type: string; id?: string }
      if (f.type === "welcome") {
        clearTimeout(timer)
        conns.push(ws)
        resolve(performance.now() - t0)
      } else if (f.type === "res" && typeof f.id === "string") {
        waiting.get(f.id)?.(performance.now())
        waiting.delete(f.id)
      }
    })
  })

const main = async () => {
  const times: Array<number> = []
  let next = 0
  await Promise.all(
    Array.from({ length: Math.min(200, n) }, async () => {
      while (next < n) {
        next++
        times.push(await open())
      }
    })
  )
  console.log(JSON.stringify({ held: conns.length, connectMs: { p50: pct(times, 50), p99: pct(times, 99), max: Math.max(...times) } }))
  let round = 0
  createInterface({ input: process.stdin }).on("line", async (l) => {
    if (l.trim() !== "ping") return
    round++
    const rtts: Array<number> = []
    await Promise.all(
      conns.map(
        (ws, i) =>
          new Promise<void>((resolve) => {
            setTimeout(() => {
              const id = `${round}-${i}`
              const t0 = performance.now()
              const give = setTimeout(() => {
                waiting.delete(id)
                resolve()
              }, 10_000)
              waiting.set(id, (at) => {
                clearTimeout(give)
                rtts.push(at - t0)
                resolve()
              })
              ws.send(JSON.stringify({ type: "ping", id }))
            }, (i / conns.length) * 1000)
          })
      )
    )
    console.log(JSON.stringify({ ping: { answered: rtts.length, p50: pct(rtts, 50), p99: pct(rtts, 99), max: Math.max(...rtts) } }))
  })
}
main().catch((e) => {
  console.error(e)
  process.exit(1)
})
process.on("SIGTERM", () => process.exit(0))
