/**
 * The shape of an inbound webhook call as the channels see it (the gateway builds it from the HTTP
 * request), what an adapter's pure verification/parsing returns, and the HMAC helpers they share.
 * A request that fails verification yields a 4xx result and no messages.
 *
 * @since 0.1.0
 */
import { createHmac, timingSafeEqual } from "node:crypto"
import type { InboundMessage } from "./Channel.js"

export interface WebhookRequest {
  readonly method: string
  /** Lower-case header names. */
  readonly headers: Readonly<Record<string, string | undefined>>
  readonly query: URLSearchParams
  /** The raw body, exactly as received (signatures cover these bytes). */
  readonly body: string
  /** Epoch milliseconds (from the Effect Clock), for replay windows. */
  readonly now: number
}

export interface WebhookResult {
  readonly status: number
  readonly body: string
  readonly contentType?: string | undefined
  /** Messages to hand to conversations: empty unless the request verified. */
  readonly messages: ReadonlyArray<InboundMessage>
}

export const ok = (messages: ReadonlyArray<InboundMessage>, body = "ok"): WebhookResult => ({ status: 200, body, messages })
export const reject = (status: 400 | 401 | 403 | 404 | 405, body: string): WebhookResult => ({ status, body, messages: [] })

export const hmacSha256Hex = (secret: string, data: string): string => createHmac("sha256", secret).update(data, "utf8").digest("hex")

/** Constant-time string comparison (false on length mismatch). */
export const safeEqual = (a: string, b: string): boolean => {
  const x = Buffer.from(a, "utf8")
  const y = Buffer.from(b, "utf8")
  return x.length === y.length && timingSafeEqual(x, y)
}

export const parseJson = (body: string): unknown => {
  try {
    return JSON.parse(body)
  } catch {
    return undefined
  }
}
