/**
 * Generated webhook calls (fast-check, 10,000 per channel) against the pure verification and parsing
 * of each adapter: a valid payload, the same with one field replaced by any JSON, any JSON value or
 * garbage, each sent signed right, signed wrong, unsigned, or with another method. Whatever comes:
 * no throw, a documented status with a body, messages only from a correctly authenticated POST, and
 * a correctly signed untouched payload gives exactly its message.
 */
import { describe, expect, it } from "@effect/vitest"
import fc from "fast-check"
import * as Slack from "../src/SlackChannel.js"
import * as Telegram from "../src/TelegramChannel.js"
import * as Webhook from "../src/Webhook.js"
import * as WhatsApp from "../src/WhatsAppChannel.js"

const NOW = 1_800_000_000_000
const STATUSES = new Set([200, 400, 401, 403, 405])

type Auth = "right" | "wrong" | "none"
interface Case {
  readonly method: string
  readonly auth: Auth
  readonly body: string
  /** The body is the untouched valid payload. */
  readonly pristine: boolean
}

/** A valid payload, one field of it replaced by anything, any JSON, or garbage. */
const bodies = (valid: Record<string, unknown>) => {
  const paths: Array<ReadonlyArray<string | number>> = []
  const walk = (v: unknown, at: ReadonlyArray<string | number>) => {
    if (at.length > 0) paths.push(at)
    if (Array.isArray(v)) {
      for (const [i, x] of v.entries()) walk(x, [...at, i])
    } else if (typeof v === "object" && v !== null) for (const [k, x] of Object.entries(v)) walk(x, [...at, k])
  }
  walk(valid, [])
  const setAt = (root: unknown, at: ReadonlyArray<string | number>, value: unknown): unknown => {
    if (at.length === 0) return value
    const [k, ...rest] = at
    const copy = (Array.isArray(root) ? [...root] : { ...(root as object) }) as Record<string | number, unknown>
    copy[k!] = setAt(copy[k!], rest, value)
    return copy
  }
  return fc.oneof(
    { weight: 2, arbitrary: fc.constant({ body: JSON.stringify(valid), pristine: true }) },
    {
      weight: 5,
      arbitrary: fc.tuple(fc.constantFrom(...paths), fc.jsonValue({ maxDepth: 2 })).map(([at, v]) => ({ body: JSON.stringify(setAt(valid, at, v)), pristine: false }))
    },
    { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => ({ body: JSON.stringify(v) ?? "null", pristine: false })) },
    { weight: 1, arbitrary: fc.string({ maxLength: 80 }).map((s) => ({ body: s, pristine: false })) }
  )
}
const cases = (valid: Record<string, unknown>): fc.Arbitrary<Case> =>
  fc
    .record({
      method: fc.oneof({ weight: 9, arbitrary: fc.constant("POST") }, { weight: 1, arbitrary: fc.constantFrom("GET", "PUT", "DELETE", "HEAD") }),
      auth: fc.constantFrom<Auth>("right", "right", "wrong", "none"),
      b: bodies(valid)
    })
    .map(({ method, auth, b }) => ({ method, auth, ...b }))

const request = (c: Case, headers: Record<string, string>): Webhook.WebhookRequest => ({
  method: c.method,
  headers,
  query: new URLSearchParams(),
  body: c.body,
  now: NOW
})

/** The properties every channel's webhook keeps. */
const check = (c: Case, result: Webhook.WebhookResult, expectedText: string) => {
  expect(STATUSES.has(result.status), `status ${result.status}`).toBe(true)
  expect(typeof result.body).toBe("string")
  expect(result.body.length).toBeGreaterThan(0)
  if (result.messages.length > 0) {
    expect(c.method).toBe("POST")
    expect(c.auth).toBe("right")
    expect(result.status).toBe(200)
  }
  if (c.auth !== "right" && c.method === "POST") expect([401, 403]).toContain(result.status)
  for (const m of result.messages) {
    expect(typeof m.text).toBe("string")
    expect(m.chatId.length).toBeGreaterThan(0)
  }
  if (c.pristine && c.auth === "right" && c.method === "POST") {
    expect(result.status).toBe(200)
    expect(result.messages.map((m) => m.text)).toEqual([expectedText])
  }
}

const runs = { numRuns: 10_000, seed: 2026 }

describe("webhooks on generated calls (property, 10,000 each)", () => {
  it("Telegram: the secret token header decides, an update gives at most its message", () => {
    const secret = "tg-secret"
    const valid = {
      update_id: 7,
      message: { message_id: 3, from: { id: 42, is_bot: false, first_name: "A" }, chat: { id: 42, type: "private" }, date: 1, text: "hello there" }
    }
    fc.assert(
      fc.property(cases(valid), (c) => {
        const headers: Record<string, string> =
          c.auth === "right" ? { "x-telegram-bot-api-secret-token": secret } : c.auth === "wrong" ? { "x-telegram-bot-api-secret-token": `${secret}x` } : {}
        check(c, Telegram.handleWebhook("default", secret, request(c, headers)), "hello there")
      }),
      runs
    )
  })

  it("Slack: the v0 signature over timestamp and body decides", () => {
    const secret = "slack-signing-secret"
    const valid = {
      type: "event_callback",
      team_id: "T1",
      event: { type: "message", channel: "C1", channel_type: "im", user: "U1", text: "hello there", ts: "1.2" }
    }
    fc.assert(
      fc.property(cases(valid), (c) => {
        const ts = String(NOW / 1000)
        const sig = `v0=${Webhook.hmacSha256Hex(secret, `v0:${ts}:${c.body}`)}`
        const headers: Record<string, string> =
          c.auth === "right"
            ? { "x-slack-request-timestamp": ts, "x-slack-signature": sig }
            : c.auth === "wrong"
              ? { "x-slack-request-timestamp": ts, "x-slack-signature": `${sig.slice(0, -1)}0` === sig ? `${sig.slice(0, -1)}1` : `${sig.slice(0, -1)}0` }
              : {}
        // A fresh replay set per call, so the pristine event is always new.
        check(c, Slack.handleWebhook("default", secret, request(c, headers), new Set()), "hello there")
      }),
      runs
    )
  })

  it("WhatsApp: X-Hub-Signature-256 over the body decides; only text messages to this number are taken", () => {
    const secret = "wa-app-secret"
    const valid = {
      object: "whatsapp_business_account",
      entry: [{ id: "E", changes: [{ field: "messages", value: { metadata: { phone_number_id: "PN1" }, messages: [{ from: "15551234", id: "wamid.1", type: "text", text: { body: "hello there" } }] } }] }]
    }
    fc.assert(
      fc.property(cases(valid), (c) => {
        const sig = `sha256=${Webhook.hmacSha256Hex(secret, c.body)}`
        const headers: Record<string, string> =
          c.auth === "right" ? { "x-hub-signature-256": sig } : c.auth === "wrong" ? { "x-hub-signature-256": `sha256=${Webhook.hmacSha256Hex(`${secret}x`, c.body)}` } : {}
        const result = WhatsApp.handleWebhook({ accountId: "default", phoneNumberId: "PN1", appSecret: secret, verifyToken: "vt" }, request(c, headers))
        // GET is the verification challenge: without the verify token, a 403.
        if (c.method === "GET") expect(result.status).toBe(403)
        check(c, result, "hello there")
      }),
      runs
    )
  })
})
