/**
 * Slack adapter: `chat.postMessage` (mrkdwn, replies in the user's thread), `chat.update` (preview
 * streaming by edit, `streamMode` partial | block) and native streaming (`streamMode: "native"`:
 * `chat.startStream` / `chat.appendStream` / `chat.stopStream`, markdown, 12,000 characters a call),
 * 429 `Retry-After` honoured, ~1 call/s per channel. Inbound through the Events API webhook: signing-secret
 * verification (`v0=` HMAC-SHA256 of `v0:{timestamp}:{raw body}`, 5-minute replay window),
 * `url_verification` challenge, `event_callback` message events (bots and edits ignored, Slack's
 * own retries deduplicated by `event_id`).
 *
 * @since 0.1.0
 */
import type { HttpClient } from "@effect/platform"
import { Effect, Option, Redacted, Stream } from "effect"
import { type Adapter, capabilities, ChannelError, type InboundMessage, RateLimited } from "./Channel.js"
import { field, fieldText, postJson, redacted, reveal, type Secret } from "./internal/http.js"
import * as RateLimiter from "./RateLimiter.js"
import * as Webhook from "./Webhook.js"

export interface Options {
  readonly accountId: string
  /** Bot token `xoxb-…`; kept Redacted until the Authorization header is built. */
  readonly token: string | Redacted.Redacted<string>
  /** Signing secret of the Slack app; Redacted from the config, revealed only as the HMAC key. */
  readonly signingSecret?: Secret | undefined
  /** Default https://slack.com */
  readonly baseUrl?: string | undefined
  readonly minIntervalMs?: number | undefined
  /** Replay window for signed requests (default 300 s). */
  readonly replayWindowSeconds?: number | undefined
  /** Native streams (`streamMode: "native"`) are rotated this long after they start (default 4 min;
   * Slack ends a stream about 5 minutes after its start). */
  readonly nativeRotateAfterMs?: number | undefined
  /** Minimum spacing of `chat.appendStream` calls (default 1 s; Tier 4 allows 100+ a minute). */
  readonly nativeIntervalMs?: number | undefined
}

const CHANNEL = "slack"
/** `markdown_text` of chat.startStream / appendStream: at most 12,000 characters a call. */
export const NATIVE_MAX_CHARS = 12_000

export type Verification = { readonly ok: true } | { readonly ok: false; readonly status: 401; readonly reason: string }

/** Slack request signing: v0 HMAC-SHA256 over `v0:{ts}:{body}`, timestamp within the window. */
export const verifySignature = (
  signingSecret: Secret,
  headers: Readonly<Record<string, string | undefined>>,
  body: string,
  nowMs: number,
  windowSeconds = 300
): Verification => {
  const ts = headers["x-slack-request-timestamp"]
  const sig = headers["x-slack-signature"]
  if (ts === undefined || sig === undefined || !/^\d+$/.test(ts)) return { ok: false, status: 401, reason: "missing signature" }
  if (Math.abs(nowMs / 1000 - Number(ts)) > windowSeconds) return { ok: false, status: 401, reason: "stale timestamp" }
  const expected = "v0=" + Webhook.hmacSha256Hex(reveal(signingSecret), `v0:${ts}:${body}`)
  return Webhook.safeEqual(sig, expected) ? { ok: true } : { ok: false, status: 401, reason: "bad signature" }
}

/** An Events API `event_callback` → the message a conversation gets (user messages only). */
export const parseEvent = (accountId: string, payload: unknown): Option.Option<InboundMessage> => {
  const ev = field(payload, "event")
  if (field(ev, "type") !== "message" || field(ev, "subtype") !== undefined || field(ev, "bot_id") !== undefined) return Option.none()
  const text = field(ev, "text")
  const channel = field(ev, "channel")
  if (typeof text !== "string" || typeof channel !== "string" || channel === "") return Option.none()
  const threadTs = field(ev, "thread_ts")
  const team = field(ev, "team") ?? field(payload, "team_id")
  return Option.some({
    channel: CHANNEL,
    accountId,
    chatId: channel,
    threadId: typeof threadTs === "string" ? threadTs : undefined,
    isPrivate: field(ev, "channel_type") === "im",
    messageId: fieldText(ev, "ts"),
    senderId: fieldText(ev, "user"),
    teamId: typeof team === "string" ? team : undefined,
    text
  })
}

export const handleWebhook = (
  accountId: string,
  signingSecret: Secret | undefined,
  req: Webhook.WebhookRequest,
  seen: Set<string> = new Set(),
  windowSeconds = 300
): Webhook.WebhookResult => {
  if (req.method !== "POST") return Webhook.reject(405, "method not allowed")
  if (signingSecret === undefined) return Webhook.reject(401, "no signing secret configured")
  const v = verifySignature(signingSecret, req.headers, req.body, req.now, windowSeconds)
  if (!v.ok) return Webhook.reject(v.status, v.reason)
  const payload = Webhook.parseJson(req.body)
  const type = field(payload, "type")
  if (payload === undefined || typeof type !== "string") return Webhook.reject(400, "malformed body")
  if (type === "url_verification") {
    const challenge = field(payload, "challenge")
    if (typeof challenge !== "string") return Webhook.reject(400, "missing challenge")
    return { status: 200, body: JSON.stringify({ challenge }), contentType: "application/json", messages: [] }
  }
  if (type !== "event_callback") return Webhook.ok([])
  const eventId = field(payload, "event_id")
  if (typeof eventId === "string") {
    if (seen.has(eventId)) return Webhook.ok([]) // Slack retried a delivery we already took
    seen.add(eventId)
    if (seen.size > 5000) seen.delete(seen.values().next().value as string)
  }
  return Webhook.ok(Option.toArray(parseEvent(accountId, payload)))
}

export const make = (options: Options): Effect.Effect<Adapter, never, HttpClient.HttpClient> =>
  Effect.gen(function* () {
    const http = yield* Effect.context<HttpClient.HttpClient>()
    const base = (options.baseUrl ?? "https://slack.com").replace(/\/$/, "")
    const caps = { ...capabilities.slack, minIntervalMs: options.minIntervalMs ?? capabilities.slack.minIntervalMs }
    const limiter = yield* RateLimiter.make({ minIntervalMs: caps.minIntervalMs })
    const token = redacted(options.token)
    const call = (method: string, body: Record<string, unknown>) =>
      Effect.suspend(() => postJson(CHANNEL, method, `${base}/api/${method}`, body, { authorization: `Bearer ${Redacted.value(token)}` }, [token])).pipe(
        Effect.flatMap((res): Effect.Effect<unknown, ChannelError | RateLimited> => {
          if (res.status === 429) {
            const after = Number(res.headers["retry-after"] ?? "1")
            return Effect.fail(new RateLimited({ channel: CHANNEL, retryAfterMs: (Number.isFinite(after) ? after : 1) * 1000 }))
          }
          if (field(res.json, "ok") === true) return Effect.succeed(res.json)
          return Effect.fail(new ChannelError({ channel: CHANNEL, method, status: res.status, description: (fieldText(res.json, "error") || res.text) }))
        }),
        Effect.provide(http)
      )
    const seen = new Set<string>()
    return {
      channel: CHANNEL,
      accountId: options.accountId,
      capabilities: caps,
      send: (target, text) =>
        limiter
          .run(
            target.chatId,
            call("chat.postMessage", {
              channel: target.chatId,
              text: text.formatted,
              mrkdwn: true,
              ...(target.threadId !== undefined ? { thread_ts: target.threadId } : {})
            })
          )
          .pipe(Effect.map((r) => ({ messageId: fieldText(r, "ts") }))),
      edit: (target, ts, text) =>
        limiter.run(target.chatId, call("chat.update", { channel: target.chatId, ts, text: text.formatted, mrkdwn: true })).pipe(Effect.asVoid),
      nativeStream: {
        maxChars: NATIVE_MAX_CHARS,
        rotateAfterMs: options.nativeRotateAfterMs ?? 240_000,
        intervalMs: options.nativeIntervalMs ?? 1000,
        // A streamed message is a reply in a thread (the delivery puts the answered message's thread in
        // `threadId`); in a channel (not a DM) Slack needs the recipient user and team.
        start: (target, markdown) =>
          limiter.run(target.chatId, call("chat.startStream", {
            channel: target.chatId,
            ...(target.threadId !== undefined ? { thread_ts: target.threadId } : {}),
            ...(target.isPrivate !== true && target.recipientId !== undefined && target.recipientId !== ""
              ? { recipient_user_id: target.recipientId, ...(target.teamId !== undefined ? { recipient_team_id: target.teamId } : {}) }
              : {}),
            ...(markdown === "" ? {} : { markdown_text: markdown })
          })).pipe(Effect.map((r) => fieldText(r, "ts"))),
        append: (target, ts, markdown) =>
          limiter.run(target.chatId, call("chat.appendStream", { channel: target.chatId, ts, markdown_text: markdown })).pipe(Effect.asVoid),
        stop: (target, ts) => limiter.run(target.chatId, call("chat.stopStream", { channel: target.chatId, ts })).pipe(Effect.asVoid),
        isEnded: (e) => e.description === "message_not_in_streaming_state"
      },
      inbound: Stream.empty,
      webhook: (req) => handleWebhook(options.accountId, options.signingSecret, req, seen, options.replayWindowSeconds)
    } satisfies Adapter
  })
