/**
 * A protocol-faithful fake of Anthropic's streaming Messages API for the streaming benchmark:
 * every `POST /v1/messages` with `stream: true` gets `message_start`, one text block whose
 * `content_block_delta`s come every `1000 / DELTAS_PER_SECOND` ms for `SECONDS`, then
 * `content_block_stop`, `message_delta`, `message_stop` (the SSE framing of protocols.md §1). A
 * request whose text says `seconds=N` gets N seconds instead (the benchmark's warm-up).
 * Each delta's text carries the time it was written (`⟦<epoch ms>⟧ `), so a client on the same
 * machine measures the latency a user sees. Runs as its own process: `node --import tsx fake.ts`;
 * prints `{"port":…}` once listening; a SIGTERM stops it.
 */
import { createServer } from "node:http"

const rate = Number(process.env.DELTAS_PER_SECOND ?? 20)
const seconds = Number(process.env.SECONDS ?? 10)
let next = 0

/** A prompt may ask for its own length (`seconds=N`, e.g. a warm-up run); else SECONDS. */
const deltasFor = (body: string): number => {
  const asked = /seconds=(\d+(?:\.\d+)?)/.exec(body)
  return Math.max(1, Math.round(rate * (asked === null ? seconds : Number(asked[1]))))
}

const sse = (event: string, data: unknown) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`

const server = createServer((req, res) => {
  if (req.method !== "POST" || !req.url?.startsWith("/v1/messages")) {
    res.writeHead(404, { "content-type": "application/json" })
    res.end(JSON.stringify({ type: "error", error: { type: "not_found_error", message: "not found" } }))
    return
  }
  let body = ""
  req.setEncoding("utf8")
  req.on("data", (c) => (body += c))
  req.on("end", () => {
    const request = JSON.parse(body) as { model?: string }
    const deltas = deltasFor(body)
    const id = `msg_bench_${++next}`
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", "request-id": `req_${next}` })
    res.write(
      sse("message_start", {
        type: "message_start",
        message: { id, type: "message", role: "assistant", model: request.model ?? "claude-bench", content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 10, output_tokens: 1 } }
      }) + sse("content_block_start", { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } })
    )
    let sent = 0
    const timer = setInterval(() => {
      if (res.destroyed) return clearInterval(timer)
      sent++
      res.write(sse("content_block_delta", { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: `⟦${Date.now()}⟧ ` } }))
      if (sent >= deltas) {
        clearInterval(timer)
        res.end(
          sse("content_block_stop", { type: "content_block_stop", index: 0 }) +
            sse("message_delta", { type: "message_delta", delta: { stop_reason: "end_turn", stop_sequence: null }, usage: { output_tokens: deltas } }) +
            sse("message_stop", { type: "message_stop" })
        )
      }
    }, 1000 / rate)
    res.on("close", () => clearInterval(timer))
  })
})
server.keepAliveTimeout = 60_000
server.listen(0, "127.0.0.1", () => {
  const addr = server.address()
  process.stdout.write(`${JSON.stringify({ port: typeof addr === "object" && addr ? addr.port : 0 })}\n`)
})
process.on("SIGTERM", () => process.exit(0))
