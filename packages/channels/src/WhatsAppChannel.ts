/**
 * WhatsApp Cloud API adapter: text messages through `POST /{version}/{phone-number-id}/messages`
 * (bearer token), throughput errors (HTTP 429, or error codes 4 / 80007 / 130429 / 131056) waited
 * out and retried. Inbound through the webhook: `GET` verification challenge (`hub.mode=subscribe`,
 * `hub.verify_token`, echo `hub.challenge`), `POST` with `X-Hub-Signature-256: sha256=<HMAC of the
 * raw body with the app secret>`.
 *
 * @since 0.1.0
 */
import type { HttpClient } from "@effect/platform"
import { Effect, Redacted, Stream } from "effect"
import { type Adapter, capabilities, ChannelError, type InboundMessage, RateLimited } from "./Channel.js"
import { field, fieldNumber, fieldText, postJson, redacted, reveal, type Secret } from "./internal/http.js"
import * as RateLimiter from "./RateLimiter.js"
import * as Webhook from "./Webhook.js"

export interface Options {
  readonly accountId: string
  readonly phoneNumberId: string
  /** Access token; kept Redacted until the Authorization header is built. */
  readonly token: string | Redacted.Redacted<string>
  /** App secret (the webhook's HMAC key) and the verify token; Redacted from the config. */
  readonly appSecret?: Secret | undefined
  readonly verifyToken?: Secret | undefined
  /** Default https://graph.facebook.com */
  readonly baseUrl?: string | undefined
  /** Graph API version (default v21.0). */
  readonly version?: string | undefined
  /** Wait after a throughput error that names no time (default 1000 ms). */
  readonly rateLimitBackoffMs?: number | undefined
  readonly minIntervalMs?: number | undefined
}

const CHANNEL = "whatsapp"
const RATE_CODES = new Set([4, 80007, 130429, 131056])

/** `X-Hub-Signature-256` check. */
export const verifySignature = (appSecret: Secret, header: string | undefined, body: string): boolean =>
  header !== undefined && Webhook.safeEqual(header, "sha256=" + Webhook.hmacSha256Hex(reveal(appSecret), body))

/** A webhook payload → text messages sent to this phone number. Undefined when it is not a WhatsApp payload. */
export const parsePayload = (accountId: string, phoneNumberId: string, payload: unknown): ReadonlyArray<InboundMessage> | undefined => {
  const entries = field(payload, "entry")
  if (field(payload, "object") !== "whatsapp_business_account" || !Array.isArray(entries)) return undefined
  const out: Array<InboundMessage> = []
  for (const entry of entries) {
    const changes = field(entry, "changes")
    if (!Array.isArray(changes)) continue
    for (const change of changes) {
      const value = field(change, "value")
      if (fieldText(value, "metadata", "phone_number_id") !== phoneNumberId) continue
      const messages = field(value, "messages")
      if (!Array.isArray(messages)) continue
      for (const m of messages) {
        const body = field(m, "text", "body")
        const from = field(m, "from")
        if (field(m, "type") !== "text" || typeof body !== "string" || typeof from !== "string" || from === "") continue
        out.push({ channel: CHANNEL, accountId, chatId: from, isPrivate: true, messageId: fieldText(m, "id"), senderId: from, text: body })
      }
    }
  }
  return out
}

export const handleWebhook = (
  options: Pick<Options, "accountId" | "phoneNumberId" | "appSecret" | "verifyToken">,
  req: Webhook.WebhookRequest
): Webhook.WebhookResult => {
  if (req.method === "GET") {
    const mode = req.query.get("hub.mode")
    const token = req.query.get("hub.verify_token")
    const challenge = req.query.get("hub.challenge")
    if (mode === "subscribe" && options.verifyToken !== undefined && token !== null && Webhook.safeEqual(token, reveal(options.verifyToken)) && challenge !== null) {
      return { status: 200, body: challenge, messages: [] }
    }
    return Webhook.reject(403, "verification failed")
  }
  if (req.method !== "POST") return Webhook.reject(405, "method not allowed")
  if (options.appSecret === undefined || !verifySignature(options.appSecret, req.headers["x-hub-signature-256"], req.body)) {
    return Webhook.reject(401, "bad signature")
  }
  const messages = parsePayload(options.accountId, options.phoneNumberId, Webhook.parseJson(req.body))
  if (messages === undefined) return Webhook.reject(400, "malformed payload")
  return Webhook.ok(messages, "EVENT_RECEIVED")
}

export const make = (options: Options): Effect.Effect<Adapter, never, HttpClient.HttpClient> =>
  Effect.gen(function* () {
    const http = yield* Effect.context<HttpClient.HttpClient>()
    const token = redacted(options.token)
    const url = `${(options.baseUrl ?? "https://graph.facebook.com").replace(/\/$/, "")}/${options.version ?? "v21.0"}/${options.phoneNumberId}/messages`
    const caps = { ...capabilities.whatsapp, minIntervalMs: options.minIntervalMs ?? capabilities.whatsapp.minIntervalMs }
    const limiter = yield* RateLimiter.make({ minIntervalMs: caps.minIntervalMs })
    const backoff = options.rateLimitBackoffMs ?? 1000
    return {
      channel: CHANNEL,
      accountId: options.accountId,
      capabilities: caps,
      send: (target, text) =>
        limiter
          .run(
            target.chatId,
            postJson(
              CHANNEL,
              "messages",
              url,
              { messaging_product: "whatsapp", recipient_type: "individual", to: target.chatId, type: "text", text: { preview_url: false, body: text.formatted } },
              { authorization: `Bearer ${Redacted.value(token)}` },
              [token]
            ).pipe(
              Effect.flatMap((res): Effect.Effect<unknown, ChannelError | RateLimited> => {
                const code = (fieldNumber(res.json, "error", "code") ?? 0)
                if (res.status === 429 || RATE_CODES.has(code)) {
                  const after = Number(res.headers["retry-after"])
                  return Effect.fail(new RateLimited({ channel: CHANNEL, retryAfterMs: Number.isFinite(after) ? after * 1000 : backoff }))
                }
                if (res.status >= 200 && res.status < 300) return Effect.succeed(res.json)
                return Effect.fail(
                  new ChannelError({ channel: CHANNEL, method: "messages", status: res.status, description: (fieldText(res.json, "error", "message") || res.text) })
                )
              }),
              Effect.provide(http)
            )
          )
          .pipe(Effect.map((r) => ({ messageId: fieldText(r, "messages", "0", "id") }))),
      inbound: Stream.empty,
      webhook: (req) => handleWebhook(options, req)
    } satisfies Adapter
  })
