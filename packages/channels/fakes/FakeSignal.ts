/**
 * A loopback fake of a signal-cli daemon in HTTP mode: JSON-RPC 2.0 on `POST /api/v1/rpc` (`send`
 * with `recipient[]` or `groupId` + `message`; result `{ timestamp, results }`), incoming messages on
 * the `GET /api/v1/events` SSE stream (`event: receive`, data = the receive notification's params),
 * and a rate-limit failure knob.
 */
import type { ServerResponse } from "node:http"
import { listen, type Running } from "./fakeHttp.js"

export interface Sent {
  readonly recipient?: string | undefined
  readonly groupId?: string | undefined
  readonly message: string
  readonly timestamp: number
}

export class FakeSignal {
  readonly sent: Array<Sent> = []
  readonly calls: Array<string> = []
  private subscribers: Array<ServerResponse> = []
  private limited: Array<number> = []
  private ts = 1_700_000_000_000
  private running: Running | undefined

  constructor(readonly account: string) {}

  get url(): string {
    return this.running!.url
  }

  get subscriberCount(): number {
    return this.subscribers.length
  }

  async start(): Promise<this> {
    this.running = await listen((req, res) => {
      if (req.method === "GET" && req.path === "/api/v1/events") {
        res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" })
        res.write(":\n\n")
        this.subscribers.push(res)
        res.on("close", () => (this.subscribers = this.subscribers.filter((s) => s !== res)))
        return undefined
      }
      if (req.method === "POST" && req.path === "/api/v1/rpc") {
        const r = req.json as { id?: unknown; method?: string; params?: Record<string, unknown> } | undefined
        if (r === undefined || r.method === undefined) return { status: 200, body: { jsonrpc: "2.0", error: { code: -32700, message: "Parse error" }, id: null } }
        this.calls.push(r.method)
        if (r.method !== "send") return { status: 200, body: { jsonrpc: "2.0", error: { code: -32601, message: "Method not implemented" }, id: r.id } }
        const after = this.limited.shift()
        if (after !== undefined) {
          return {
            status: 200,
            body: {
              jsonrpc: "2.0",
              error: {
                code: -5,
                message: "Failed to send message due to rate limiting",
                data: { response: { timestamp: this.ts, results: [{ type: "RATE_LIMIT_FAILURE", retryAfterSeconds: after }] } }
              },
              id: r.id
            }
          }
        }
        const p: Record<string, unknown> = r.params ?? {}
        const message = typeof p.message === "string" ? p.message : ""
        if (message === "") return { status: 200, body: { jsonrpc: "2.0", error: { code: -32602, message: "Invalid params: message" }, id: r.id } }
        const timestamp = ++this.ts
        this.sent.push({ recipient: Array.isArray(p.recipient) ? String(p.recipient[0]) : undefined, groupId: p.groupId as string | undefined, message, timestamp })
        return { status: 200, body: { jsonrpc: "2.0", result: { timestamp, results: [{ type: "SUCCESS" }] }, id: r.id } }
      }
      return { status: 404, body: "not found" }
    })
    return this
  }

  async close(): Promise<void> {
    for (const s of this.subscribers) s.end()
    await this.running?.close()
  }

  rateLimitNext(n: number, retryAfterSeconds: number): void {
    for (let i = 0; i < n; i++) this.limited.push(retryAfterSeconds)
  }

  /** A person (or a group member) writes to the account. */
  receive(from: string, message: string, groupId?: string): void {
    const ts = ++this.ts
    const params = {
      envelope: {
        source: from,
        sourceNumber: from,
        sourceUuid: "uuid-" + from,
        sourceName: "User",
        sourceDevice: 1,
        timestamp: ts,
        dataMessage: { timestamp: ts, message, expiresInSeconds: 0, viewOnce: false, ...(groupId ? { groupInfo: { groupId, type: "DELIVER" } } : {}) }
      },
      account: this.account
    }
    for (const s of this.subscribers) s.write(`event: receive\ndata: ${JSON.stringify(params)}\n\n`)
  }
}
