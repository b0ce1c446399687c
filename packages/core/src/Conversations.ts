/**
 * The Conversations service: one actor per conversation id.
 *
 * An actor is a plain state object with a bounded mailbox; a worker fiber exists only while it
 * has turns to run (at most one run at a time), so an idle actor costs no fiber. Idle actors are
 * passivated after `idleTimeToLive` and come back from the `ConversationStore` on demand.
 *
 * Layers: `layer(options)` needs `Model | ConversationStore`; `@sluice/core/sqlite/SqliteStore`'s
 * `layerConversations({ dataDir, … })` and `layerConversationsMemory(options)` also build the store.
 *
 * @since 0.1.0
 */
import type * as Reasoning from "./Reasoning.js"
import { Context, Effect, Layer, type Duration, type Stream } from "effect"
import type { Accepted, ConversationSummary, HistoryMessage, SendOptions } from "./Conversation.js"
import type { EventsExpired, MailboxFull, StoreError } from "./ConversationError.js"
import type * as ConversationStore from "./ConversationStore.js"
import * as runtime from "./internal/conversationRuntime.js"
import type { Model } from "./Model.js"
import type { ReplyEvent } from "./ReplyEvent.js"

export {
  type Accepted,
  ConversationSummary,
  HistoryMessage,
  MessageStatus,
  QueueMode,
  type SendOptions
} from "./Conversation.js"
export { ConversationNotFound, DataDirLocked, EventsExpired, MailboxFull, StoreError, SubscriberTooSlow } from "./ConversationError.js"

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
