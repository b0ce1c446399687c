/**
 * Telegram Bot API adapter: `sendMessage` (HTML or MarkdownV2, with a plain-text resend when the
 * API answers 400 "can't parse entities"), `sendMessageDraft` for draft streaming in private chats,
 * inbound by long polling `getUpdates` (default) or by webhook with the
 * `X-Telegram-Bot-Api-Secret-Token` header checked. 429s wait `parameters.retry_after`.
 *
 * The token stays `Redacted` until each request's URL is built (`…/bot<token>/<method>`), and any
 * error text that could quote that URL is scrubbed of it. A failing `getUpdates` backs off
 * exponentially with jitter ({@link pollDelayMs}) and logs one line per failure.
 *
 * @since 0.1.0
 */
import type { HttpClient } from "@effect/platform"
import { Effect, Option, Random, Redacted, Stream } from "effect"
import { type Adapter, capabilities, ChannelError, type ChatTarget, type InboundMessage, type OutboundText, RateLimited } from "./Channel.js"
import { delayMs } from "./internal/backoff.js"
import { field, fieldNumber, fieldText, type JsonResponse, postJson, redacted, reveal, type Secret } from "./internal/http.js"
import * as RateLimiter from "./RateLimiter.js"
import * as Webhook from "./Webhook.js"

export interface Options {
  readonly accountId: string
  readonly token: string | Redacted.Redacted<string>
  /** Default https://api.telegram.org */
  readonly baseUrl?: string | undefined
  readonly parseMode?: "HTML" | "MarkdownV2" | undefined
  /** `polling` (default) runs getUpdates; `webhook` expects the gateway to mount the webhook. */
  readonly receive?: "polling" | "webhook" | undefined
  readonly pollTimeoutSeconds?: number | undefined
  /** `secret_token` given to setWebhook; required for the webhook. */
  readonly webhookSecret?: Secret | undefined
  /** Per-chat spacing (default 1000 ms). */
  readonly minIntervalMs?: number | undefined
  /** Show the draft's stop button (`can_stop`, default true); a press stops the reply, and the text
   * so far is kept (`keep_on_stop`) and sent as the final message. */
  readonly stopButton?: boolean | undefined
  /** Groups: preview the reply in one message edited as it grows (`sendMessage` + `editMessageText`,
   * at most one edit per 3 s for the group flood limit), the final replacing it. Off by default. */
  readonly groupPreviews?: boolean | undefined
  /** Backoff of a failing getUpdates: first delay and ceiling (default 1 s, 60 s). */
  readonly pollBackoff?: { readonly initialMs: number; readonly maxMs: number } | undefined
}

/** Delay before poll retry `attempt` (0-based): exponential from `initialMs` to `maxMs`, jittered. */
export const pollDelayMs = delayMs

const CHANNEL = "telegram"

/** A Bot API response → the result, a RateLimited, or a ChannelError (description as the API gave it). */
export const interpret = (method: string, res: JsonResponse): Effect.Effect<unknown, ChannelError | RateLimited> => {
  if (field(res.json, "ok") === true) return Effect.succeed(field(res.json, "result"))
  const code = (fieldNumber(res.json, "error_code") ?? res.status)
  const retryAfter = field(res.json, "parameters", "retry_after")
  if (code === 429) return Effect.fail(new RateLimited({ channel: CHANNEL, retryAfterMs: Number(retryAfter ?? 1) * 1000 }))
  return Effect.fail(new ChannelError({ channel: CHANNEL, method, status: code, description: (fieldText(res.json, "description") || res.text) }))
}

export const isEntityError = (e: ChannelError): boolean => e.status === 400 && /can't parse entities/i.test(e.description)

/** An Update → the message a conversation gets: text messages, and a press of a draft's stop button
 * (`stopped_message_generation`, Bot API 10.3) as a message with `stopDraft`. */
export const parseUpdate = (accountId: string, update: unknown): Option.Option<InboundMessage> => {
  const stopped = field(update, "stopped_message_generation")
  if (stopped !== undefined) {
    const chatId = field(stopped, "chat", "id")
    const draftId = field(stopped, "draft_id")
    if ((typeof chatId !== "number" && (typeof chatId !== "string" || chatId === "")) || typeof draftId !== "number") return Option.none()
    const thread = field(stopped, "message_thread_id")
    return Option.some({
      channel: CHANNEL,
      accountId,
      chatId: String(chatId),
      threadId: thread !== undefined ? String(thread) : undefined,
      isPrivate: true,
      messageId: "",
      senderId: String(chatId),
      text: "",
      stopDraft: draftId
    })
  }
  const msg = field(update, "message")
  const text = field(msg, "text")
  const chatId = field(msg, "chat", "id")
  // A chat id is a number, or a non-empty @username: anything else is not a message to answer.
  if (typeof text !== "string" || (typeof chatId !== "number" && (typeof chatId !== "string" || chatId === ""))) return Option.none()
  const thread = field(msg, "message_thread_id")
  const isTopic = field(msg, "is_topic_message") === true || field(msg, "chat", "type") === "private"
  return Option.some({
    channel: CHANNEL,
    accountId,
    chatId: String(chatId),
    threadId: thread !== undefined && isTopic ? String(thread) : undefined,
    isPrivate: field(msg, "chat", "type") === "private",
    messageId: fieldText(msg, "message_id"),
    senderId: fieldText(msg, "from", "id"),
    text
  })
}

/** Webhook: secret header first (401), then a JSON Update (400). */
export const handleWebhook = (accountId: string, secret: Secret | undefined, req: Webhook.WebhookRequest): Webhook.WebhookResult => {
  if (req.method !== "POST") return Webhook.reject(405, "method not allowed")
  const given = req.headers["x-telegram-bot-api-secret-token"]
  if (secret === undefined || given === undefined || !Webhook.safeEqual(given, reveal(secret))) return Webhook.reject(401, "bad secret token")
  const update = Webhook.parseJson(req.body)
  if (update === undefined || typeof field(update, "update_id") !== "number") return Webhook.reject(400, "malformed update")
  return Webhook.ok(Option.toArray(parseUpdate(accountId, update)))
}

export const make = (options: Options): Effect.Effect<Adapter, never, HttpClient.HttpClient> =>
  Effect.gen(function* () {
    const http = yield* Effect.context<HttpClient.HttpClient>()
    const api = (options.baseUrl ?? "https://api.telegram.org").replace(/\/$/, "")
    const token = redacted(options.token)
    const parseMode = options.parseMode ?? "HTML"
    const caps = {
      ...capabilities.telegram,
      dialect: parseMode === "MarkdownV2" ? ("telegram-markdownv2" as const) : ("telegram-html" as const),
      minIntervalMs: options.minIntervalMs ?? capabilities.telegram.minIntervalMs
    }
    const limiter = yield* RateLimiter.make({ minIntervalMs: caps.minIntervalMs })
    const call = (method: string, body: Record<string, unknown>) =>
      Effect.suspend(() => postJson(CHANNEL, method, `${api}/bot${Redacted.value(token)}/${method}`, body, {}, [token])).pipe(
        Effect.flatMap((res) => interpret(method, res)),
        Effect.provide(http)
      )
    const where = (t: ChatTarget) => ({
      chat_id: /^-?\d+$/.test(t.chatId) ? Number(t.chatId) : t.chatId,
      ...(t.threadId !== undefined ? { message_thread_id: Number(t.threadId) } : {})
    })
    const chatKey = (t: ChatTarget) => `${t.chatId}:${t.threadId ?? ""}`

    /** `method` with the formatted text and the parse mode; on "can't parse entities", once more as plain text. */
    const callFormatted = (method: string, params: Record<string, unknown>, text: OutboundText) =>
      call(method, { ...params, text: text.formatted, parse_mode: parseMode }).pipe(
        Effect.catchIf(
          (e): e is ChannelError => e instanceof ChannelError && isEntityError(e),
          () => call(method, { ...params, text: text.plain })
        )
      )

    const send: Adapter["send"] = (target, text) =>
      limiter.run(chatKey(target), callFormatted("sendMessage", where(target), text)).pipe(
        Effect.map((r) => ({ messageId: fieldText(r, "message_id") }))
      )

    // A draft is rendered like the final message (same parse mode, same plain fallback).
    const stopButton = options.stopButton ?? true
    const sendDraft: NonNullable<Adapter["sendDraft"]> = (target, draftId, text) =>
      limiter
        .run(
          chatKey(target),
          callFormatted("sendMessageDraft", { ...where(target), draft_id: draftId, ...(stopButton ? { can_stop: true, keep_on_stop: true } : {}) }, text)
        )
        .pipe(Effect.asVoid)

    // Group previews: one message edited as the reply grows. An edit that changes nothing is not an error.
    const edit: Adapter["edit"] = (target, messageId, text) =>
      limiter
        .run(chatKey(target), callFormatted("editMessageText", { ...where(target), message_id: Number(messageId) }, text))
        .pipe(
          Effect.asVoid,
          Effect.catchIf(
            (e): e is ChannelError => e instanceof ChannelError && /message is not modified/i.test(e.description),
            () => Effect.void
          )
        )

    const pollTimeout = options.pollTimeoutSeconds ?? 25
    const inbound: Adapter["inbound"] =
      options.receive === "webhook"
        ? Stream.empty
        : Stream.suspend(() => {
            let offset = 0
            let failures = 0
            const retryLater = (e: ChannelError) =>
              Effect.flatMap(Random.next, (jitter) => {
                const ms = pollDelayMs(failures++, jitter, options.pollBackoff)
                return Effect.zipRight(
                  Effect.logWarning(
                    `telegram:${options.accountId} getUpdates failed (${e.status === 0 ? "unreachable" : `HTTP ${e.status}`}: ${e.description}); retrying in ${ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`}`
                  ),
                  Effect.sleep(ms)
                )
              })
            const poll = Effect.suspend(() => call("getUpdates", { offset, timeout: pollTimeout, allowed_updates: ["message", "stopped_message_generation"] })).pipe(
              Effect.map((result) => {
                failures = 0
                const updates = Array.isArray(result) ? result : []
                for (const u of updates) {
                  const id = fieldNumber(u, "update_id")
                  if (id !== undefined) offset = Math.max(offset, id + 1)
                }
                return updates.flatMap((u) => Option.toArray(parseUpdate(options.accountId, u)))
              }),
              Effect.catchAll((e) =>
                e instanceof RateLimited
                  ? Effect.as(Effect.sleep(e.retryAfterMs), [] as Array<InboundMessage>)
                  : e.status === 401 || e.status === 409
                    ? Effect.fail(e) // wrong token, or a webhook is set: polling cannot work
                    : Effect.as(retryLater(e), [] as Array<InboundMessage>)
              )
            )
            return Stream.repeatEffect(poll).pipe(Stream.flattenIterables)
          })

    return {
      channel: CHANNEL,
      accountId: options.accountId,
      capabilities: caps,
      send,
      sendDraft,
      ...(options.groupPreviews === true ? { edit } : {}),
      inbound,
      webhook: (req) => handleWebhook(options.accountId, options.webhookSecret, req)
    } satisfies Adapter
  })
