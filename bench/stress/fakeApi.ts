/**
 * The frame of the storms' fake platform APIs, each in its own process: a loopback HTTP server
 * whose handler gets each request's path and JSON body and answers JSON, `{"url":…}` printed once
 * listening, one `{"stats":…}` line for every "stats" line on stdin, and a SIGTERM that stops it.
 */
import { createServer, type IncomingMessage } from "node:http"
import { createInterface } from "node:readline"

export type Answer = (status: number, value: unknown, headers?: Record<string, string>) => void

export const serve = (
  // biome-ignore lint/suspicious/noExplicitAny: a request body of the platform's API
  handle: (req: IncomingMessage, path: string, body: any, answer: Answer) => void,
  stats: () => unknown
): void => {
  const server = createServer((req, res) => {
    let raw = ""
    req.setEncoding("utf8")
    req.on("data", (d) => (raw += d))
    req.on("end", () => {
      const answer: Answer = (status, value, headers = {}) => {
        res.writeHead(status, { "content-type": "application/json", ...headers })
        res.end(JSON.stringify(value))
      }
      let body: unknown
      try {
        body = raw === "" ? {} : JSON.parse(raw)
      } catch {
        return answer(400, { ok: false, error: "invalid_json" })
      }
      handle(req, (req.url ?? "").split("?")[0]!, body, answer)
    })
  })
  server.listen(0, "127.0.0.1", () => {
    const address = server.address()
    console.log(JSON.stringify({ url: `http://127.0.0.1:${typeof address === "object" && address !== null ? address.port : 0}` }))
  })
  createInterface({ input: process.stdin }).on("line", (l) => {
    if (l.trim() === "stats") console.log(JSON.stringify({ stats: stats() }))
  })
  process.once("SIGTERM", () => {
    server.closeAllConnections()
    server.close(() => process.exit(0))
  })
}
