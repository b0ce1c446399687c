/**
 * The floor: what a user could write by hand instead of Sluice. A plain `ws` server; each client
 * message `{ "text": … }` starts the official SDK's `messages.stream` against ANTHROPIC_BASE_URL
 * and forwards every text delta to that WebSocket as one JSON frame with a seq. No pipeline, no
 * persistence, no resume. Prints `{"port":…}` once listening.
 */
import Anthropic from "@anthropic-ai/sdk"
import { WebSocketServer } from "ws"

const client = new Anthropic({ apiKey: process.env.ANTHROPIC_API_KEY ?? "bench", baseURL: process.env.ANTHROPIC_BASE_URL, maxRetries: 0 })
const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 })
wss.on("connection", (ws) => {
  ws.on("message", (data) => {
    const { text } = JSON.parse(String(data)) as { text: string }
    let seq = 0
    const stream = client.messages.stream({ model: "claude-bench", max_tokens: 1024, messages: [{ role: "user", content: text }] })
    stream.on("text", (delta) => ws.send(JSON.stringify({ seq: ++seq, text: delta })))
    stream.on("end", () => ws.send(JSON.stringify({ seq: ++seq, end: true })))
    stream.on("error", (e) => ws.send(JSON.stringify({ seq: ++seq, error: String(e) })))
    ws.on("close", () => stream.abort())
  })
})
wss.on("listening", () => {
  const addr = wss.address()
  process.stdout.write(`${JSON.stringify({ port: typeof addr === "object" && addr ? addr.port : 0 })}\n`)
})
process.on("SIGTERM", () => process.exit(0))
