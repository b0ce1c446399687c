/**
 * What a conversation is made of, as a leaf module (schemas and records, no runtime, no driver):
 * the queue modes, history messages, summaries, acceptances and the records a store keeps.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import type { Part, Tool, ToolChoice } from "./Model.js"
import type { RunEndReason } from "./ReplyEvent.js"
import type { StreamingSettings } from "./StreamingSettings.js"

export const QueueMode = Schema.Literal("followup", "collect", "interrupt")
export type QueueMode = typeof QueueMode.Type

export interface SendOptions {
  /** Who owns the conversation (a gateway principal, a channel account). Set on first send. */
  readonly owner?: string | undefined
  readonly agentId?: string | undefined
  readonly queueMode?: QueueMode | undefined
  /** Pin the reasoning level (1–4) instead of letting the planner choose. */
  readonly level?: number | undefined
  /** The delivery target's effective streaming settings; remembered for the conversation. */
  readonly settings?: StreamingSettings | undefined
  /**
   * The client's idempotency key (at most 200 characters). A send with a key the conversation
   * already accepted returns that first acceptance (same `messageId` and `seq`) and queues
   * nothing. Keys are remembered for the conversation's lifetime.
   */
  readonly clientMessageId?: string | undefined
  /**
   * This turn's model request, for clients that send the whole exchange each time (the
   * OpenAI-compatible endpoint): `context` turns come before the conversation's own messages,
   * `system` replaces the conversation's prompt, the rest are passed to the model. Such a turn is
   * never collected into another one.
   */
  readonly request?: TurnRequest | undefined
}

export interface TurnRequest {
  readonly system?: string | undefined
  /** Turns before the conversation's own; `parts` (images, tool calls and results) replace `content` for the model. */
  readonly context?:
    | ReadonlyArray<{ readonly role: "user" | "assistant"; readonly content: string; readonly parts?: ReadonlyArray<Part> | undefined }>
    | undefined
  /** The sent message as content blocks (images, tool results); its text is what history keeps. */
  readonly parts?: ReadonlyArray<Part> | undefined
  /** Tools the model may call; the reply's calls arrive as `ToolCall` / `ToolCallDelta` and in its Final. */
  readonly tools?: ReadonlyArray<Tool> | undefined
  readonly toolChoice?: ToolChoice | undefined
  readonly model?: string | undefined
  readonly maxTokens?: number | undefined
  readonly temperature?: number | undefined
  readonly topP?: number | undefined
  readonly stopSequences?: ReadonlyArray<string> | undefined
}

export interface Accepted {
  readonly conversationId: string
  readonly messageId: string
  /** Seq of the `UserMessage` event that recorded the message. */
  readonly seq: number
  /** True when this is the acceptance of an earlier send with the same `clientMessageId`. */
  readonly duplicate?: boolean | undefined
}

/** A regenerate was accepted: run `runId` will answer the last user message(s) again. */
export interface Regenerated {
  readonly conversationId: string
  readonly runId: string
  /** The last seq before the new run's events (its `Rewound`, when a reply was superseded). */
  readonly seq: number
}

export const MessageStatus = Schema.Literal("complete", "streaming", "interrupted", "failed")
export type MessageStatus = typeof MessageStatus.Type

export const HistoryMessage = Schema.Struct({
  messageId: Schema.String,
  role: Schema.Literal("user", "assistant"),
  text: Schema.String,
  runId: Schema.optional(Schema.String),
  status: MessageStatus,
  interrupted: Schema.Boolean,
  at: Schema.Number,
  /** A failed reply: why it failed. */
  error: Schema.optional(Schema.Struct({ tag: Schema.String, message: Schema.String }))
})
export type HistoryMessage = typeof HistoryMessage.Type

export const ConversationSummary = Schema.Struct({
  conversationId: Schema.String,
  owner: Schema.optional(Schema.String),
  title: Schema.String,
  lastSeq: Schema.Int,
  updatedAt: Schema.Number,
  running: Schema.Boolean,
  /** The conversation's own system prompt (see `ConversationPatch`). */
  system: Schema.optional(Schema.String),
  /** The model every run of the conversation uses (see `ConversationPatch`). */
  model: Schema.optional(Schema.String)
})
export type ConversationSummary = typeof ConversationSummary.Type

/**
 * What `Conversations.update` changes; a field left out stays as it is. `system` replaces the
 * runtime's system prompt for this conversation and `model` pins the model of every later run
 * (instead of the reasoning level's); an empty string clears either back to the default.
 */
export interface ConversationPatch {
  readonly title?: string | undefined
  readonly system?: string | undefined
  readonly model?: string | undefined
}

/** @category records */
export interface ConversationRecord {
  readonly id: string
  readonly owner?: string | undefined
  readonly title: string
  /** The seq the next event gets. */
  readonly nextSeq: number
  readonly queueMode: QueueMode
  readonly settings?: StreamingSettings | undefined
  readonly createdAt: number
  readonly updatedAt: number
  /** Events with a seq below this were deleted by retention (1 = nothing deleted). Store-managed. */
  readonly prunedBefore: number
  readonly system?: string | undefined
  readonly model?: string | undefined
}

/** @category records */
export interface MessageRecord {
  readonly id: string
  readonly conversationId: string
  /** Seq of the event that created the message (UserMessage, or the run's RunStarted). */
  readonly seq: number
  readonly role: "user" | "assistant"
  readonly text: string
  readonly runId?: string | undefined
  readonly status: MessageStatus
  readonly interrupted: boolean
  readonly at: number
  /** The client's idempotency key of a user message, when it sent one. */
  readonly clientMessageId?: string | undefined
  /** Replaced by an edit or a regenerated reply (see `ReplyEvent.Rewound`): not history any more. */
  readonly superseded?: boolean | undefined
  /** A failed reply: why (the run's `Error` event), kept with the message. */
  readonly error?: { readonly tag: string; readonly message: string } | undefined
  /**
   * A user message sent with a turn request (`SendOptions.request`): its caller waits on that one
   * run, so a restart that finds it unanswered does not run it again.
   */
  readonly callerBound?: boolean | undefined
}

/** A turn accepted but never started (its process stopped first): the messages its run answers. */
export interface UnansweredTurn {
  readonly conversationId: string
  readonly runId: string
  readonly messages: ReadonlyArray<{ readonly messageId: string; readonly text: string }>
}

export type RunStatus = "running" | RunEndReason

/** @category records */
export interface RunRecord {
  readonly id: string
  readonly conversationId: string
  /** Seq of the run's RunStarted event. */
  readonly firstSeq: number
  readonly status: RunStatus
  readonly startedAt: number
  readonly endedAt?: number | undefined
}

const graphemes = new Intl.Segmenter(undefined, { granularity: "grapheme" })

/**
 * The title shown in lists: the first user message, on one line, at most 80 characters, cut on
 * a grapheme boundary (never inside an emoji or a surrogate pair).
 */
export const titleOf = (text: string): string => {
  const line = text.replace(/\s+/g, " ").trim()
  if (line.length <= 80) return line
  let end = 0
  for (const { segment } of graphemes.segment(line)) {
    if (end + segment.length > 79) break
    end += segment.length
  }
  return `${line.slice(0, end)}…`
}
