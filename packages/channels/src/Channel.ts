/**
 * What every chat channel adapter is: capabilities (limits, chunk mode, line cap, markdown dialect,
 * drafts, edits, pacing), a `send` of one already-fitted message, optional Telegram-style drafts,
 * and a stream of inbound messages. Inbound messages are keyed into conversations by channel,
 * account, chat and thread: `telegram:<account>:<chatId>[:<threadId>]`.
 *
 * @since 0.1.0
 */
import { Schema, type Effect, type Stream } from "effect"
import type { Dialect } from "./Markdown.js"
import type { WebhookRequest, WebhookResult } from "./Webhook.js"

export const ChannelId = Schema.Literal("telegram", "discord", "slack", "whatsapp", "signal")
export type ChannelId = typeof ChannelId.Type

export interface Capabilities {
  readonly channel: ChannelId
  /** Max UTF-16 units per message we send (the channel's `textChunkLimit` default). */
  readonly textChunkLimit: number
  /** Max UTF-8 bytes per message as well, where the platform counts bytes (Signal). */
  readonly maxBytes?: number | undefined
  readonly chunkMode: "length" | "newline"
  /** Soft line cap per message (Discord 17). */
  readonly maxLinesPerMessage?: number | undefined
  readonly dialect: Dialect
  /** Native draft streaming (Telegram `sendMessageDraft`, private chats). */
  readonly draftStreaming: boolean
  /** The API can edit a sent message. */
  readonly edits: boolean
  /** Minimum spacing of sends to one chat (Telegram ~1/s per chat, Slack ~1/s per channel). */
  readonly minIntervalMs: number
  /** Minimum spacing of preview edits (default 1 s; Telegram groups allow ~20 messages a minute: 3 s). */
  readonly editIntervalMs?: number | undefined
  /** Block streaming unless configured: on for Telegram, off elsewhere (`channels.<id>.blockStreaming`). */
  readonly blockStreamingDefault: boolean
}

export const capabilities: Readonly<Record<ChannelId, Capabilities>> = {
  telegram: {
    channel: "telegram",
    textChunkLimit: 4000,
    chunkMode: "length",
    dialect: "telegram-html",
    draftStreaming: true,
    edits: true,
    minIntervalMs: 1000,
    editIntervalMs: 3000,
    blockStreamingDefault: true
  },
  discord: {
    channel: "discord",
    textChunkLimit: 2000,
    chunkMode: "length",
    maxLinesPerMessage: 17,
    dialect: "discord",
    draftStreaming: false,
    edits: true,
    minIntervalMs: 0, // paced by the X-RateLimit headers
    blockStreamingDefault: false
  },
  slack: {
    channel: "slack",
    textChunkLimit: 4000,
    chunkMode: "length",
    dialect: "slack",
    draftStreaming: false,
    edits: true,
    minIntervalMs: 1000,
    blockStreamingDefault: false
  },
  whatsapp: {
    channel: "whatsapp",
    textChunkLimit: 4000,
    chunkMode: "length",
    dialect: "whatsapp",
    draftStreaming: false,
    edits: false,
    minIntervalMs: 0,
    blockStreamingDefault: false
  },
  signal: {
    channel: "signal",
    textChunkLimit: 2000, // clients inline at most 2 KiB of body; the rest becomes an attachment
    maxBytes: 2048,
    chunkMode: "length",
    dialect: "plain",
    draftStreaming: false,
    edits: true,
    minIntervalMs: 0,
    blockStreamingDefault: false
  }
}

/** Where a reply goes. */
export interface ChatTarget {
  readonly chatId: string
  readonly threadId?: string | undefined
  /** A private (1:1) chat: Telegram drafts only work there. */
  readonly isPrivate?: boolean | undefined
  /** The platform id of the message being answered, its author and the author's workspace (Slack
   * native streams are replies in its thread, to that recipient). */
  readonly replyTo?: string | undefined
  readonly recipientId?: string | undefined
  readonly teamId?: string | undefined
}

export interface InboundMessage extends ChatTarget {
  readonly channel: ChannelId
  readonly accountId: string
  readonly messageId: string
  readonly senderId: string
  readonly text: string
  /** Not a message: the user pressed the stop button of this draft (Telegram `stopped_message_generation`). */
  readonly stopDraft?: number | undefined
}

/** `telegram:<account>:<chatId>[:<threadId>]` — each chat (and topic/thread) is its own conversation. */
export const conversationId = (m: { readonly channel: ChannelId; readonly accountId: string } & ChatTarget): string =>
  [m.channel, m.accountId, m.chatId, ...(m.threadId !== undefined && m.threadId !== "" ? [m.threadId] : [])].join(":")

/** The conversation owner for an account: `telegram:<account>`. */
export const ownerOf = (channel: ChannelId, accountId: string): string => `${channel}:${accountId}`

/** One message to send: the dialect rendering, and plain text for a formatting fallback. */
export interface OutboundText {
  readonly formatted: string
  readonly plain: string
}

export interface Sent {
  readonly messageId: string
}

/** The API refused or failed a call (after rate-limit retries). */
export class ChannelError extends Schema.TaggedError<ChannelError>()("ChannelError", {
  channel: Schema.String,
  method: Schema.String,
  status: Schema.Number,
  description: Schema.String
}) {}

/** One concise line for a log: `telegram sendMessage unreachable: …` or `slack chat.postMessage HTTP 400: …`
 * (the description is already scrubbed of the account's secrets). */
export const describeError = (e: unknown): string => {
  if (e instanceof ChannelError) return `${e.channel} ${e.method} ${e.status === 0 ? "unreachable" : `HTTP ${e.status}`}: ${e.description}`
  if (e instanceof RateLimited) return `${e.channel} rate limited (retry after ${e.retryAfterMs} ms)`
  if (e instanceof Error) return `${e.name}: ${e.message}`
  return String(e)
}

/** A 429: wait `retryAfterMs` and try again (the RateLimiter does). */
export class RateLimited extends Schema.TaggedError<RateLimited>()("RateLimited", {
  channel: Schema.String,
  retryAfterMs: Schema.Number
}) {}

/**
 * A platform's own streaming message (Slack `chat.startStream` / `chat.appendStream` /
 * `chat.stopStream`): markdown appended to one message as it is written.
 */
export interface NativeStreaming {
  /** Most characters of markdown one call may carry (Slack 12,000). */
  readonly maxChars: number
  /** A stream is rotated (stopped, a new one started) this long after it started: the platform ends
   * streams on its own (Slack after about 5 minutes). */
  readonly rotateAfterMs: number
  /** Minimum spacing of appends (Slack's Tier 4: 100+ a minute). */
  readonly intervalMs: number
  /** Opens a stream in `target`'s thread (`threadId`) with its first text; the stream's id. */
  readonly start: (target: ChatTarget, markdown: string) => Effect.Effect<string, ChannelError>
  readonly append: (target: ChatTarget, streamId: string, markdown: string) => Effect.Effect<void, ChannelError>
  readonly stop: (target: ChatTarget, streamId: string) => Effect.Effect<void, ChannelError>
  /** The platform already ended this stream (Slack `message_not_in_streaming_state`): start a new one. */
  readonly isEnded: (e: ChannelError) => boolean
}

export interface Adapter {
  readonly channel: ChannelId
  readonly accountId: string
  readonly capabilities: Capabilities
  /** Sends one message that already fits the channel; rate limits and 429 retries are handled inside. */
  readonly send: (target: ChatTarget, text: OutboundText) => Effect.Effect<Sent, ChannelError>
  /** Replaces the text of a message this adapter sent (preview streaming by edit: Slack `chat.update`). */
  readonly edit?: ((target: ChatTarget, messageId: string, text: OutboundText) => Effect.Effect<void, ChannelError>) | undefined
  /** Telegram draft streaming: show `text` in the chat's draft bubble `draftId`. */
  readonly sendDraft?: ((target: ChatTarget, draftId: number, text: OutboundText) => Effect.Effect<void, ChannelError>) | undefined
  /** Native streaming (`streamMode: "native"`), where the platform has it. */
  readonly nativeStream?: NativeStreaming | undefined
  /** Inbound messages pulled by the adapter (long polling, gateway WebSocket, SSE); empty for webhook-only. */
  readonly inbound: Stream.Stream<InboundMessage, ChannelError>
  /** Pure verification + parsing of this account's webhook calls (Telegram, Slack, WhatsApp). */
  readonly webhook?: ((request: WebhookRequest) => WebhookResult) | undefined
}
