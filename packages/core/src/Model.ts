/**
 * The model service: one request in, a stream of `ModelEvent`s out.
 *
 * Layers here: `layerScripted(options?)` — the offline demo model (no network, Clock-paced,
 * deterministic). Claude lives in its own driver module, `@sluice/core/anthropic/AnthropicModel`
 * (`layer`, `layerConfig`, `layerFromEnv`), so importing this module never loads the SDK. What
 * follows documents that driver's behaviour, the contract every `Model` should keep.
 *
 * ## Retries and rollback (Anthropic)
 * The SDK's own retries are off (`maxRetries: 0`); there is one policy, ours: up to
 * `retry.maxAttempts` (default 5) attempts, exponential backoff `baseDelayMs · 2^(n-1)` (default
 * 1 s, capped at 30 s) jittered ×0.8–1.2 through `Random`, and a server's `retry-after` /
 * `retry-after-ms` sets the minimum wait (capped at `maxRetryAfterMs`, default 30 s). Retried:
 * `RateLimited` (429), `Overloaded` (529 *and* an in-stream `overloaded_error` after the 200),
 * `Internal` (5xx, 408, 409, an in-stream `api_error`, a frame with invalid JSON) and `Network`
 * (connection refused/reset, undici `TypeError: terminated`, a body that ends without
 * `message_stop`). Never retried: `Auth` (401/402/403), `BadRequest` (400/404/413/422, and the
 * 429 spend cap `enforced_spend_limit_reached`), `Timeout` (a stalled model is not retried: it
 * would double the wait).
 *
 * A retry is **invisible** while nothing of the failed attempt was emitted downstream. The
 * adapter holds each attempt's `MessageStart` back until the attempt's first content event, so an
 * attempt that fails right after `message_start` (the common overload case) is retried silently.
 * Once an attempt has emitted anything, a failure emits `Rollback { attempt: n + 1, reason }`
 * *immediately* (before the backoff wait) and then retries; the new attempt begins with its own
 * `MessageStart`. So: text is never delivered twice without a Rollback between the two copies, and
 * a subscriber that discards everything since the latest `MessageStart` on `Rollback` shows exactly
 * the final attempt's output.
 *
 * ## Timeouts (Anthropic; all on the Effect Clock)
 * - `connectMs` (default 10 s, at most `firstTokenMs`): request sent → response headers. An
 *   upstream that does not answer at all (a host that drops packets, a hung proxy) fails the run
 *   with `Timeout { which: "connect" }` naming the URL, instead of a minute of silence. A refused
 *   or unresolvable host fails at once with `Network` (the URL and the system's code).
 * - `firstTokenMs` (default 60 s): request sent → first stream event. `message_start` comes before
 *   the model generates anything, so a minute without it means the request is stuck (the SDK's own
 *   header timeout is 10 min, far too long for a chat).
 * - `idleMs` (default 120 s): the longest gap between two stream events; OpenClaw's idle watchdog
 *   for cloud models (`openclaw-behaviour.md` §6). Long thinking can pause; pings are hidden by the
 *   SDK, so they do not reset this timer. Covers the stall after `message_start` that the SDK's
 *   timeout does not.
 * - `totalMs` (default 15 min): the whole run, all attempts and backoffs included (a 32k-token
 *   answer at ~50 tokens/s takes ~11 min).
 * Each fails the stream with `Timeout { which: "connect" | "firstToken" | "idle" | "total" }`. One watchdog
 * fiber per attempt enforces them and aborts the request. Idle time counts only while the adapter
 * is waiting on the SDK: a slow consumer (backpressure) is not a stalled model. A retry whose
 * backoff would end past the total deadline is not attempted; the run fails with the error that
 * caused it.
 *
 * Interrupting the consuming fiber closes the stream's scope, which aborts the HTTP request.
 *
 * @since 0.1.0
 */
import { Chunk, Context, Effect, Layer, Schema, Stream } from "effect"
import type { RetryOptions as RetryOptions_ } from "./internal/retry.js"
import * as scripted from "./internal/scripted.js"
import type { ModelError } from "./ModelError.js"
import type { ModelEvent } from "./ModelEvent.js"

export const Role = Schema.Literal("user", "assistant")

/** An image, inline (base64) or by URL (the model's provider fetches it). */
export const ImagePart = Schema.TaggedStruct("Image", {
  source: Schema.Union(
    Schema.Struct({ type: Schema.Literal("base64"), mediaType: Schema.String, data: Schema.String }),
    Schema.Struct({ type: Schema.Literal("url"), url: Schema.String })
  )
})
/** A tool call the assistant made (`input` is the parsed arguments object). */
export const ToolUsePart = Schema.TaggedStruct("ToolUse", { id: Schema.String, name: Schema.String, input: Schema.Unknown })
/** The result of a tool call, in the user turn after it. */
export const ToolResultPart = Schema.TaggedStruct("ToolResult", {
  toolUseId: Schema.String,
  content: Schema.String,
  isError: Schema.optional(Schema.Boolean)
})
export const TextPart = Schema.TaggedStruct("Text", { text: Schema.String })
export const Part = Schema.Union(TextPart, ImagePart, ToolUsePart, ToolResultPart)
export type Part = typeof Part.Type

export const ChatMessage = Schema.Struct({
  role: Role,
  /** The turn as text (history, planning); what the model gets unless `parts` is set. */
  content: Schema.String,
  /** The turn as content blocks (images, tool calls and results), sent instead of `content`. */
  parts: Schema.optional(Schema.Array(Part))
})
export type ChatMessage = typeof ChatMessage.Type

/** A tool the model may call: its name, what it does, and a JSON Schema of its input object. */
export const Tool = Schema.Struct({
  name: Schema.String,
  description: Schema.optional(Schema.String),
  inputSchema: Schema.Record({ key: Schema.String, value: Schema.Unknown })
})
export type Tool = typeof Tool.Type

/** Whether and which tool the model must call (Anthropic `tool_choice`). */
export const ToolChoice = Schema.Union(
  Schema.TaggedStruct("Auto", { disableParallel: Schema.optional(Schema.Boolean) }),
  Schema.TaggedStruct("Any", { disableParallel: Schema.optional(Schema.Boolean) }),
  Schema.TaggedStruct("Tool", { name: Schema.String, disableParallel: Schema.optional(Schema.Boolean) }),
  Schema.TaggedStruct("None", {})
)
export type ToolChoice = typeof ToolChoice.Type

/** How much the model may think. */
export const Thinking = Schema.Union(
  Schema.TaggedStruct("Disabled", {}),
  Schema.TaggedStruct("Budget", { budgetTokens: Schema.Int }),
  Schema.TaggedStruct("Adaptive", { effort: Schema.Literal("low", "medium", "high", "xhigh", "max") })
)
export type Thinking = typeof Thinking.Type

export const ModelRequest = Schema.Struct({
  messages: Schema.Array(ChatMessage),
  system: Schema.optional(Schema.String),
  /** Model id; the implementation's configured default when absent. */
  model: Schema.optional(Schema.String),
  maxTokens: Schema.optional(Schema.Int),
  thinking: Schema.optional(Thinking),
  /** Sampling, passed to the model as given (Anthropic `temperature`, `top_p`). */
  temperature: Schema.optional(Schema.Number),
  topP: Schema.optional(Schema.Number),
  /** Text that ends the reply when the model writes it (Anthropic `stop_sequences`). */
  stopSequences: Schema.optional(Schema.Array(Schema.String)),
  /** Tools the model may call; its calls arrive as `ToolUseStart` / `ToolInputDelta` / `ToolUseEnd`. */
  tools: Schema.optional(Schema.Array(Tool)),
  toolChoice: Schema.optional(ToolChoice)
})
export type ModelRequest = typeof ModelRequest.Type

/**
 * A consumer of model events, called synchronously with each chunk (never empty), in order. It may
 * return an effect to wait on before the next chunk is read (backpressure), or undefined to go on.
 */
export type OnEvents<E> = (events: ReadonlyArray<ModelEvent>) => Effect.Effect<void, E> | undefined

export interface ModelService {
  /** A short name shown to users ("claude-sonnet-5-5", "offline demo model"). */
  readonly name: string
  readonly stream: (request: ModelRequest) => Stream.Stream<ModelEvent, ModelError>
  /**
   * Optional push form of `stream`, for hot paths: the same events in the same chunks, handed to
   * `onEvents` without a Stream stage per chunk; the effect ends when the reply has. Interrupting
   * it closes the request as interrupting a `stream` consumer does. `Model.consume` falls back to
   * `stream` for a service without it.
   */
  readonly consume?: <E>(request: ModelRequest, onEvents: OnEvents<E>) => Effect.Effect<void, ModelError | E>
}

/** Runs `request` on `service`, handing each chunk to `onEvents` (its `consume`, else its `stream`). */
export const consume = <E>(service: ModelService, request: ModelRequest, onEvents: OnEvents<E>): Effect.Effect<void, ModelError | E> =>
  service.consume !== undefined
    ? service.consume(request, onEvents)
    : Stream.runForEachChunk(service.stream(request), (c) => onEvents(Chunk.toReadonlyArray(c)) ?? Effect.void)

/**
 * The `stream` of a push-form model: `run` feeds the stream, which holds at most `bufferSize`
 * chunks (default 16) before `run` waits for the reader. Ending the stream early interrupts `run`.
 */
export const streamOf = <E>(
  run: (onEvents: OnEvents<never>) => Effect.Effect<void, E>,
  bufferSize = 16
): Stream.Stream<ModelEvent, E> =>
  Stream.asyncScoped<ModelEvent, E>(
    (emit) =>
      Effect.forkScoped(
        run((events) => Effect.promise(() => emit.chunk(Chunk.unsafeFromArray(events as Array<ModelEvent>)))).pipe(
          Effect.matchCauseEffect({
            onSuccess: () => Effect.promise(() => emit.end()),
            onFailure: (cause) => Effect.promise(() => emit.halt(cause))
          })
        )
      ),
    bufferSize
  )

export class Model extends Context.Tag("@sluice/core/Model")<Model, ModelService>() {}

export type RetryOptions = RetryOptions_
export type ScriptedOptions = scripted.ScriptedOptions

/** The offline demo model service (no layer). */
export const makeScripted = (options: ScriptedOptions = {}): ModelService => scripted.make(options)

/** What the offline demo model says first in every answer. */
export const offlineBanner = scripted.BANNER

export const layerScripted = (options: ScriptedOptions = {}): Layer.Layer<Model> =>
  Layer.succeed(Model, scripted.make(options))
