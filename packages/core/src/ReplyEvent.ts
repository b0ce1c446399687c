/**
 * What a conversation publishes: seq-numbered reply events. The same events go to WebSocket,
 * SSE and CLI clients, to channel delivery, and into the event log that resume reads.
 *
 * `Payload` is an event without its envelope (what the pipeline produces); the Conversations
 * actor adds `seq`, `conversationId`, `runId` and `at`.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { Usage } from "./ModelEvent.js"

const Envelope = {
  /** Per conversation, strictly increasing by 1 from 1. */
  seq: Schema.Int,
  conversationId: Schema.String,
  runId: Schema.String,
  /** Epoch milliseconds (from the Effect `Clock`). */
  at: Schema.Number
}

export const RunEndReason = Schema.Literal("completed", "stopped", "failed", "interrupted")
export type RunEndReason = typeof RunEndReason.Type

export const ErrorInfo = Schema.Struct({
  tag: Schema.String,
  message: Schema.String,
  retryable: Schema.optional(Schema.Boolean)
})
export type ErrorInfo = typeof ErrorInfo.Type

export const ToolCallInfo = Schema.Struct({ id: Schema.String, name: Schema.String, arguments: Schema.String })
export type ToolCallInfo = typeof ToolCallInfo.Type

const fields = {
  /** The user message that starts (or joins) a run was accepted. */
  UserMessage: { messageId: Schema.String, text: Schema.String },
  RunStarted: {
    /** Reasoning level 1–4 chosen for the run, and the model it maps to. */
    level: Schema.optional(Schema.Int),
    model: Schema.optional(Schema.String)
  },
  /** Reasoning progress, derived from what is observable (see `Reasoning`). */
  ReasoningUpdate: {
    step: Schema.Int,
    total: Schema.Int,
    status: Schema.Literal("planning", "reasoning", "answering", "completed", "error"),
    progress: Schema.Number
  },
  /** Thinking text, separate from the visible reply. */
  ReasoningDelta: { text: Schema.String },
  /** A readable block of the visible reply (block streaming). */
  Block: { index: Schema.Int, text: Schema.String },
  /**
   * The visible reply grew (for live previews: Telegram drafts, OpenAI-style deltas): `text` is
   * appended at `offset`, the visible reply's length before it. Incremental, so a long reply costs
   * O(n) to publish and store, not O(n²); see `applyDraft`. After a Rollback, offsets restart at 0.
   */
  Draft: { offset: Schema.Int, text: Schema.String },
  /**
   * The model began a call of a tool the request offered (`SendOptions.request.tools`): `index`
   * counts the attempt's calls from 0. Its arguments follow as `ToolCallDelta`s, and the Final
   * lists every call whole. Only requests that offer tools get these.
   */
  ToolCall: { index: Schema.Int, id: Schema.String, name: Schema.String },
  /** The next piece of a tool call's arguments (JSON text, as the model writes it). */
  ToolCallDelta: { index: Schema.Int, arguments: Schema.String },
  /** The whole visible reply, once. `interrupted` when the run was stopped part-way. */
  Final: {
    text: Schema.String,
    interrupted: Schema.optional(Schema.Boolean),
    /** The model that wrote the reply, as its stream said (absent when none answered). */
    model: Schema.optional(Schema.String),
    /** Tokens the reply's attempt used, and why the model stopped (`end_turn`, `max_tokens`, `stop_sequence`). */
    usage: Schema.optional(Usage),
    stopReason: Schema.optional(Schema.String),
    /** The tool calls of the reply, whole (`arguments` is JSON text); `stopReason` is then `tool_use`. */
    toolCalls: Schema.optional(Schema.Array(ToolCallInfo))
  },
  /**
   * Output already published is void: every Block, Draft, ToolCall, ToolCallDelta and ReasoningDelta of this run with
   * `seq >= discardFromSeq` must be discarded by the subscriber (the model is retrying).
   */
  Rollback: { discardFromSeq: Schema.Int, attempt: Schema.Int, reason: Schema.String },
  Error: { error: ErrorInfo },
  RunEnded: { reason: RunEndReason },
  /**
   * The user edited a message or asked for another reply: every message created by an event with
   * `seq >= fromSeq` (its `UserMessage`, a run's `RunStarted`) is superseded. A client removes them
   * from view; they stay in the log, and no longer count as history (nor go to the model).
   */
  Rewound: { fromSeq: Schema.Int }
} as const

export const UserMessage = Schema.TaggedStruct("UserMessage", { ...Envelope, ...fields.UserMessage })
export const RunStarted = Schema.TaggedStruct("RunStarted", { ...Envelope, ...fields.RunStarted })
export const ReasoningUpdate = Schema.TaggedStruct("ReasoningUpdate", { ...Envelope, ...fields.ReasoningUpdate })
export const ReasoningDelta = Schema.TaggedStruct("ReasoningDelta", { ...Envelope, ...fields.ReasoningDelta })
export const Block = Schema.TaggedStruct("Block", { ...Envelope, ...fields.Block })
export const Draft = Schema.TaggedStruct("Draft", { ...Envelope, ...fields.Draft })
export const ToolCall = Schema.TaggedStruct("ToolCall", { ...Envelope, ...fields.ToolCall })
export const ToolCallDelta = Schema.TaggedStruct("ToolCallDelta", { ...Envelope, ...fields.ToolCallDelta })
export const Final = Schema.TaggedStruct("Final", { ...Envelope, ...fields.Final })
export const Rollback = Schema.TaggedStruct("Rollback", { ...Envelope, ...fields.Rollback })
export const Error = Schema.TaggedStruct("Error", { ...Envelope, ...fields.Error })
export const RunEnded = Schema.TaggedStruct("RunEnded", { ...Envelope, ...fields.RunEnded })
export const Rewound = Schema.TaggedStruct("Rewound", { ...Envelope, ...fields.Rewound })

export const ReplyEvent = Schema.Union(
  UserMessage,
  RunStarted,
  ReasoningUpdate,
  ReasoningDelta,
  Block,
  Draft,
  ToolCall,
  ToolCallDelta,
  Final,
  Rollback,
  Error,
  RunEnded,
  Rewound
)
export type ReplyEvent = typeof ReplyEvent.Type

/** Pipeline output: reply events without their envelope. */
export const Payload = Schema.Union(
  Schema.TaggedStruct("ReasoningUpdate", fields.ReasoningUpdate),
  Schema.TaggedStruct("ReasoningDelta", fields.ReasoningDelta),
  Schema.TaggedStruct("Block", fields.Block),
  Schema.TaggedStruct("Draft", fields.Draft),
  Schema.TaggedStruct("ToolCall", fields.ToolCall),
  Schema.TaggedStruct("ToolCallDelta", fields.ToolCallDelta),
  Schema.TaggedStruct("Final", fields.Final),
  /** Pipeline-level rollback: everything this pipeline emitted since the attempt began is void. */
  Schema.TaggedStruct("Rollback", { attempt: Schema.Int, reason: Schema.String })
)
export type Payload = typeof Payload.Type

export type Tag = ReplyEvent["_tag"]

/**
 * The visible reply after a Draft: `current` up to the Draft's offset, then its text. Applying a
 * Draft twice changes nothing, and one that starts past the end of `current` (a Draft was missed)
 * leaves `current` as it is: wait for the next Final, which carries the whole reply.
 */
export const applyDraft = (current: string, draft: { readonly offset: number; readonly text: string }): string => {
  if (draft.offset === current.length) return current + draft.text
  if (draft.offset > current.length) return current
  const end = draft.offset + draft.text.length
  return end <= current.length && current.startsWith(draft.text, draft.offset)
    ? current
    : current.slice(0, draft.offset) + draft.text
}
