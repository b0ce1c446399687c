/**
 * A loopback fake of the WhatsApp Cloud API: `POST /{version}/{phone-number-id}/messages` with
 * bearer auth (190 OAuthException), text body ≤ 4096 (100 invalid parameter), throughput limit as
 * HTTP 400 + `{"error":{"code":130429,…}}`. Builds signed webhook payloads for tests.
 */
import { createHmac } from "node:crypto"
import { listen, type Running } from "./fakeHttp.js"

export interface Sent {
  readonly to: string
  readonly body: string
  readonly id: string
}

const graphError = (status: number, code: number, message: string, type = "OAuthException") => ({
  status,
  body: { error: { message, type, code, fbtrace_id: "AbCdEf" } }
})

export class FakeWhatsApp {
  readonly sent: Array<Sent> = []
  readonly calls: Array<string> = []
  private limited = 0
  private seq = 0
  private running: Running | undefined

  constructor(
    readonly token: string,
    readonly phoneNumberId: string
  ) {}

  get url(): string {
    return this.running!.url
  }

  async start(): Promise<this> {
    this.running = await listen((req) => {
      const m = /^\/(v\d+\.\d+)\/([^/]+)\/messages$/.exec(req.path)
      if (m === null || req.method !== "POST") return graphError(400, 100, "Unsupported post request.", "GraphMethodException")
      this.calls.push("messages")
      if (req.headers.authorization !== `Bearer ${this.token}`) return graphError(401, 190, "Invalid OAuth access token.")
      if (m[2] !== this.phoneNumberId) return graphError(400, 100, "Invalid parameter", "GraphMethodException")
      if (this.limited > 0) {
        this.limited--
        return graphError(400, 130429, "(#130429) Rate limit hit", "OAuthException")
      }
      const p = (req.json ?? {}) as { messaging_product?: unknown; type?: unknown; to?: unknown; text?: { body?: unknown } }
      if (p.messaging_product !== "whatsapp" || p.type !== "text" || typeof p.to !== "string") return graphError(400, 100, "Invalid parameter")
      const body = p.text?.body
      if (typeof body !== "string" || body === "" || body.length > 4096) return graphError(400, 100, "Param text['body'] is invalid")
      const id = `wamid.${++this.seq}`
      this.sent.push({ to: p.to, body, id })
      return { status: 200, body: { messaging_product: "whatsapp", contacts: [{ input: p.to, wa_id: p.to }], messages: [{ id }] } }
    })
    return this
  }

  async close(): Promise<void> {
    await this.running?.close()
  }

  rateLimitNext(n: number): void {
    this.limited += n
  }

  payload(from: string, text: string): string {
    return JSON.stringify({
      object: "whatsapp_business_account",
      entry: [
        {
          id: "WABA_ID",
          changes: [
            {
              field: "messages",
              value: {
                messaging_product: "whatsapp",
                metadata: { display_phone_number: "15550001111", phone_number_id: this.phoneNumberId },
                contacts: [{ profile: { name: "User" }, wa_id: from }],
                messages: [{ from, id: `wamid.in.${++this.seq}`, timestamp: String(Math.floor(Date.now() / 1000)), type: "text", text: { body: text } }]
              }
            }
          ]
        }
      ]
    })
  }

  static sign(appSecret: string, body: string): Record<string, string> {
    return { "x-hub-signature-256": "sha256=" + createHmac("sha256", appSecret).update(body).digest("hex"), "content-type": "application/json" }
  }
}
