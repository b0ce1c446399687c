/**
 * What a model emits while it answers: the Anthropic Messages stream, reduced to the events
 * the rest of Sluice needs. Both model implementations (Anthropic, scripted) speak this.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/** Token usage; in `MessageDelta` it is cumulative for the message, as on the wire. */
export const Usage = Schema.Struct({
  inputTokens: Schema.Int,
  outputTokens: Schema.Int,
  thinkingTokens: Schema.optional(Schema.Int)
})
export type Usage = typeof Usage.Type

export const MessageStart = Schema.TaggedStruct("MessageStart", {
  messageId: Schema.String,
  model: Schema.String,
  usage: Usage
})
export const TextDelta = Schema.TaggedStruct("TextDelta", { index: Schema.Int, text: Schema.String })
export const TextEnd = Schema.TaggedStruct("TextEnd", { index: Schema.Int })
export const ThinkingDelta = Schema.TaggedStruct("ThinkingDelta", { index: Schema.Int, text: Schema.String })
export const ThinkingEnd = Schema.TaggedStruct("ThinkingEnd", {
  index: Schema.Int,
  signature: Schema.optional(Schema.String),
  redacted: Schema.optional(Schema.Boolean)
})
export const ToolUseStart = Schema.TaggedStruct("ToolUseStart", {
  index: Schema.Int,
  id: Schema.String,
  name: Schema.String
})
export const ToolInputDelta = Schema.TaggedStruct("ToolInputDelta", { index: Schema.Int, partialJson: Schema.String })
export const ToolUseEnd = Schema.TaggedStruct("ToolUseEnd", { index: Schema.Int, input: Schema.Unknown })
export const MessageDelta = Schema.TaggedStruct("MessageDelta", {
  stopReason: Schema.NullOr(Schema.String),
  usage: Usage
})
export const MessageEnd = Schema.TaggedStruct("MessageEnd", {})
/**
 * The model layer is about to retry after output of the current attempt was already emitted.
 * Every event since the latest `MessageStart` is void; a new attempt (a new `MessageStart`) follows.
 */
export const Rollback = Schema.TaggedStruct("Rollback", { attempt: Schema.Int, reason: Schema.String })

export const ModelEvent = Schema.Union(
  MessageStart,
  TextDelta,
  TextEnd,
  ThinkingDelta,
  ThinkingEnd,
  ToolUseStart,
  ToolInputDelta,
  ToolUseEnd,
  MessageDelta,
  MessageEnd,
  Rollback
)
export type ModelEvent = typeof ModelEvent.Type

export type MessageStart = typeof MessageStart.Type
export type TextDelta = typeof TextDelta.Type
export type TextEnd = typeof TextEnd.Type
export type ThinkingDelta = typeof ThinkingDelta.Type
export type ThinkingEnd = typeof ThinkingEnd.Type
export type ToolUseStart = typeof ToolUseStart.Type
export type ToolInputDelta = typeof ToolInputDelta.Type
export type ToolUseEnd = typeof ToolUseEnd.Type
export type MessageDelta = typeof MessageDelta.Type
export type MessageEnd = typeof MessageEnd.Type
export type Rollback = typeof Rollback.Type
