/**
 * The floor for held connections: what a user could write by hand. A plain `ws` server that
 * answers `hello` with `welcome` and `ping` with its `res`, and holds every connection until it
 * closes. Prints `{"port":…}` once listening.
 */
import { WebSocketServer } from "ws"

const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 })
wss.on("connection", (ws) => {
  ws.on("message", (data) => {
    const f = JSON.parse(String(data)) as { type?: string; id?: unknown }
    if (f.type === "hello") ws.send(JSON.stringify({ type: "welcome", protocol: 1 }))
    else if (f.type === "ping") ws.send(JSON.stringify({ type: "res", id: f.id, ok: true, result: { now: Date.now() } }))
  })
})
wss.on("listening", () => {
  const addr = wss.address()
  process.stdout.write(`${JSON.stringify({ port: typeof addr === "object" && addr ? addr.port : 0 })}\n`)
})
process.on("SIGTERM", () => process.exit(0))
