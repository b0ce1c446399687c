/**
 * The Conversations service: one actor per conversation id.
 *
 * An actor is a plain state object with a bounded mailbox; a worker fiber exists only while it
 * has turns to run (at most one run at a time), so an idle actor costs no fiber. Idle actors are
 * passivated after `idleTimeToLive` and come back from the `ConversationStore` on demand.
 *
 * Layers: `layer(options)` needs `Model | ConversationStore`; `layerSqlite({ dataDir, … })` and
 * `layerMemory(options)` also build the store (and expose it).
 *
 * @since 0.1.0
 */
import type * as Reasoning from "./Reasoning.js"
import { Context, Effect, Layer, Schema, type Duration, type Stream } from "effect"
import * as ConversationStore from "./ConversationStore.js"
import * as runtime from "./internal/conversationRuntime.js"
import type { Model } from "./Model.js"
import type { ReplyEvent } from "./ReplyEvent.js"
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
}

export interface Accepted {
  readonly conversationId: string
  readonly messageId: string
  /** Seq of the `UserMessage` event that recorded the message. */
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
  at: Schema.Number
})
export type HistoryMessage = typeof HistoryMessage.Type

export const ConversationSummary = Schema.Struct({
  conversationId: Schema.String,
  owner: Schema.optional(Schema.String),
  title: Schema.String,
  lastSeq: Schema.Int,
  updatedAt: Schema.Number,
  running: Schema.Boolean
})
export type ConversationSummary = typeof ConversationSummary.Type

export class MailboxFull extends Schema.TaggedError<MailboxFull>()("MailboxFull", {
  conversationId: Schema.String,
  capacity: Schema.Int
}) {}

export class StoreError extends Schema.TaggedError<StoreError>()("StoreError", {
  message: Schema.String
}) {}

/**
 * A resume asked for events the log no longer keeps (retention, see `ConversationStore`).
 * Recover by loading `history` and subscribing again from `oldestSeq - 1`.
 */
export class EventsExpired extends Schema.TaggedError<EventsExpired>()("EventsExpired", {
  conversationId: Schema.String,
  fromSeq: Schema.Int,
  /** The oldest seq still in the log; events below it are gone. */
  oldestSeq: Schema.Int
}) {}

export class ConversationNotFound extends Schema.TaggedError<ConversationNotFound>()("ConversationNotFound", {
  conversationId: Schema.String
}) {}

export interface ConversationsService {
  readonly send: (
    conversationId: string,
    message: string,
    options?: SendOptions
  ) => Effect.Effect<Accepted, MailboxFull | StoreError>
  /** Stops the current run (or the given one). Succeeds with whether a run was stopped. */
  readonly stop: (conversationId: string, runId?: string) => Effect.Effect<boolean, StoreError>
  /**
   * Every event after `fromSeq` (0 = from the start), then live, with no gap and no duplicate
   * (Draft events of runs that had ended when they were read are compacted away, see
   * `ConversationStore`). Fails with `EventsExpired` if retention already deleted events after `fromSeq`.
   * An event arrives only once it is committed: nothing a subscriber saw can be lost to a crash.
   */
  readonly subscribe: (
    conversationId: string,
    options?: { readonly fromSeq?: number | undefined }
  ) => Stream.Stream<ReplyEvent, StoreError | EventsExpired>
  /**
   * The same events as `subscribe`, pushed to a callback instead of pulled from a Stream: no fiber
   * or queue per subscriber (for servers holding thousands). `onEvents` is called synchronously,
   * first with the replay after `fromSeq` (if any), then with each live event as it gets its seq:
   * in seq order, no gap, no duplicate. A callback that throws is removed. Succeeds, once the
   * replay is delivered, with the function that stops listening (idempotent); until it is called
   * the conversation stays active.
   */
  readonly listen: (
    conversationId: string,
    options: { readonly fromSeq?: number | undefined } | undefined,
    onEvents: (events: ReadonlyArray<ReplyEvent>) => void
  ) => Effect.Effect<() => void, StoreError | EventsExpired>
  readonly history: (conversationId: string) => Effect.Effect<ReadonlyArray<HistoryMessage>, StoreError>
  readonly list: (options?: { readonly owner?: string | undefined }) => Effect.Effect<ReadonlyArray<ConversationSummary>, StoreError>
  /** The owner recorded for a conversation, if it exists. */
  readonly owner: (conversationId: string) => Effect.Effect<string | undefined, StoreError>
}

export class Conversations extends Context.Tag("@sluice/core/Conversations")<Conversations, ConversationsService>() {}

export interface Options {
  /** Queued user messages per conversation before `send` fails with `MailboxFull` (default 32). */
  readonly mailboxCapacity?: number | undefined
  /** Passivate an actor with no run, no queue and no subscriber after this long (default 5 minutes). */
  readonly idleTimeToLive?: Duration.DurationInput | undefined
  /** How often idle actors are looked for (default idleTimeToLive / 4, clamped to 1–30 s). */
  readonly sweepInterval?: Duration.DurationInput | undefined
  /** System prompt sent with every model request. */
  readonly system?: string | undefined
  /** Reasoning planner options (levels, keywords, a level pinned for every run); `SendOptions.level` wins. */
  readonly reasoning?: Reasoning.PlanOptions | undefined
}

/**
 * The runtime on a given model and store. Closing the layer interrupts running runs; they end
 * with `RunEnded{interrupted}` and their partial reply is kept.
 * @category layers
 */
export const layer = (options: Options = {}): Layer.Layer<Conversations, never, Model | ConversationStore.ConversationStore> =>
  Layer.scoped(
    Conversations,
    Effect.map(runtime.make(options), (rt) => rt.service)
  )

/**
 * The runtime with its SQLite store under `dataDir` (created if missing). Also provides the store.
 * @category layers
 */
export const layerSqlite = (
  options: Options & ConversationStore.SqliteOptions
): Layer.Layer<Conversations | ConversationStore.ConversationStore, StoreError, Model> =>
  layer(options).pipe(Layer.provideMerge(ConversationStore.layerSqlite(options)))

/**
 * The runtime with an in-memory store (tests, demos). Also provides the store.
 * @category layers
 */
export const layerMemory = (
  options: Options & ConversationStore.RetentionOptions = {}
): Layer.Layer<Conversations | ConversationStore.ConversationStore, StoreError, Model> =>
  layer(options).pipe(Layer.provideMerge(ConversationStore.layerMemory(options)))
