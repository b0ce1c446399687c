/** A tiny loopback HTTP server base for the channel fakes (node:http, port 0, closes every socket). */
import * as http from "node:http"
import type { AddressInfo } from "node:net"

export interface FakeRequest {
  readonly method: string
  readonly path: string
  readonly query: URLSearchParams
  readonly headers: http.IncomingHttpHeaders
  readonly body: string
  readonly json: unknown
}
export interface FakeResponse {
  readonly status: number
  readonly body: unknown
  readonly headers?: Record<string, string>
}
export type Handler = (req: FakeRequest, res: http.ServerResponse) => Promise<FakeResponse | undefined> | FakeResponse | undefined

export interface Running {
  readonly url: string
  readonly port: number
  readonly server: http.Server
  readonly close: () => Promise<void>
}

export const listen = (handler: Handler): Promise<Running> =>
  new Promise((resolve) => {
    const server = http.createServer((req, res) => {
      const chunks: Array<Buffer> = []
      req.on("data", (c: Buffer) => chunks.push(c))
      req.on("end", () => {
        const body = Buffer.concat(chunks).toString("utf8")
        const url = new URL(req.url ?? "/", "http://x")
        let json: unknown
        try {
          json = body === "" ? undefined : JSON.parse(body)
        } catch {
          json = undefined
        }
        Promise.resolve(handler({ method: req.method ?? "GET", path: url.pathname, query: url.searchParams, headers: req.headers, body, json }, res))
          .then((out) => {
            if (out === undefined || res.headersSent) return
            const text = typeof out.body === "string" ? out.body : JSON.stringify(out.body)
            res.writeHead(out.status, { "content-type": typeof out.body === "string" ? "text/plain" : "application/json", ...out.headers })
            res.end(text)
          })
          .catch((e) => {
            res.writeHead(500)
            res.end(String(e))
          })
      })
    })
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as AddressInfo).port
      resolve({
        url: `http://127.0.0.1:${port}`,
        port,
        server,
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections()
            server.close(() => done())
          })
      })
    })
  })
