/**
 * The Conversations service: one actor per conversation id.
 *
 * An actor is a plain state object with a bounded mailbox; a worker fiber exists only while it
 * has turns to run (at most one run at a time), so an idle actor costs no fiber. Idle actors are
 * passivated `idleTimeToLive` after their last lease (send, subscriber, worker) and come back from
 * the `ConversationStore` on demand.
 *
 * The interface is streams and effects only, so a conversation hosted elsewhere (a cluster entity)
 * can implement it; in-process callback subscribers are the separate `ConversationFeed`.
 *
 * `send` means what it says: the message is accepted only once it is committed (a failure means
 * it was not queued), and a `clientMessageId` makes a retried send return the first acceptance
 * (`duplicate: true`) instead of running twice.
 *
 * Layers: `layer(options)` needs `Model | ConversationStore`; `@sluice/core/sqlite/SqliteStore`'s
 * `layerConversations({ dataDir, … })` and `layerConversationsMemory(options)` also build the store.
 *
 * @since 0.1.0
 */
import type * as Reasoning from "./Reasoning.js"
import { Context, Effect, Layer, type Duration, type Stream } from "effect"
import type { Accepted, ConversationPatch, ConversationSummary, HistoryMessage, Regenerated, SendOptions } from "./Conversation.js"
import type {
  ConversationBusy,
  ConversationNotFound,
  EventsExpired,
  MailboxFull,
  MessageNotFound,
  StoreError
} from "./ConversationError.js"
import type * as ConversationStore from "./ConversationStore.js"
import { ConversationFeed } from "./ConversationFeed.js"
import * as runtime from "./internal/conversations/runtime.js"
import type { Model } from "./Model.js"
import type { ReplyEvent } from "./ReplyEvent.js"

export {
  type Accepted,
  type ConversationPatch,
  ConversationSummary,
  HistoryMessage,
  MessageStatus,
  QueueMode,
  type Regenerated,
  type SendOptions,
  type TurnRequest
} from "./Conversation.js"
export {
  ConversationBusy,
  ConversationNotFound,
  DataDirLocked,
  EventsExpired,
  MailboxFull,
  MessageNotFound,
  StoreError,
  SubscriberTooSlow
} from "./ConversationError.js"

export interface ConversationsService {
  readonly send: (
    conversationId: string,
    message: string,
    options?: SendOptions
  ) => Effect.Effect<Accepted, MailboxFull | StoreError>
  /** Stops the current run (or the given one). Succeeds with whether a run was stopped. */
  readonly stop: (conversationId: string, runId?: string) => Effect.Effect<boolean, StoreError>
  /**
   * Every event after `fromSeq` (0 = from the start), then live, with no gap and no duplicate.
   * Drafts are previews: they are sent at once, never stored, and replayed from memory while
   * their run lives; the Drafts of a run that had ended when they would be replayed are not (its
   * Final has the text), and past 64 held Drafts the oldest arrive folded into one Draft (offset
   * 0) carrying the same preview. Fails with `EventsExpired` if retention already deleted events
   * after `fromSeq`. Every other event arrives only once it is committed: nothing but a preview a
   * subscriber saw can be lost to a crash, and no seq it saw is ever given to another event.
   * Memory per subscriber is bounded (`Options.outboxCapacity`): a reader that falls further behind
   * catches up from the log (and the held Drafts), so a stalled reader costs nothing while it
   * stalls and misses nothing but Drafts of runs that ended meanwhile.
   */
  readonly subscribe: (
    conversationId: string,
    options?: { readonly fromSeq?: number | undefined }
  ) => Stream.Stream<ReplyEvent, StoreError | EventsExpired>
  readonly history: (conversationId: string) => Effect.Effect<ReadonlyArray<HistoryMessage>, StoreError>
  readonly list: (options?: { readonly owner?: string | undefined }) => Effect.Effect<ReadonlyArray<ConversationSummary>, StoreError>
  /** The owner recorded for a conversation, if it exists. */
  readonly owner: (conversationId: string) => Effect.Effect<string | undefined, StoreError>
  /** Renames it, or sets its own system prompt or model (see `ConversationPatch`). */
  readonly update: (
    conversationId: string,
    patch: ConversationPatch
  ) => Effect.Effect<void, ConversationNotFound | StoreError>
  /**
   * Deletes it with everything it holds (one transaction); a running run is stopped first and its
   * subscribers' streams end. Succeeds with whether it existed. The id can be used again.
   */
  readonly remove: (conversationId: string) => Effect.Effect<boolean, StoreError>
  /**
   * Answers the last user message(s) again: the last reply is superseded (a `Rewound` event) and a
   * new run starts. Refused while a run is going or messages are queued (`ConversationBusy`).
   */
  readonly regenerate: (
    conversationId: string,
    options?: SendOptions
  ) => Effect.Effect<Regenerated, ConversationBusy | ConversationNotFound | MessageNotFound | StoreError>
  /**
   * Replaces a user message: it and everything after it are superseded (a `Rewound` event), then
   * `text` is sent as a new message, in one commit. Refused while busy, as `regenerate`.
   */
  readonly edit: (
    conversationId: string,
    messageId: string,
    text: string,
    options?: SendOptions
  ) => Effect.Effect<Accepted, ConversationBusy | ConversationNotFound | MessageNotFound | MailboxFull | StoreError>
}

export class Conversations extends Context.Tag("@sluice/core/Conversations")<Conversations, ConversationsService>() {}

export interface Options {
  /** Queued user messages per conversation before `send` fails with `MailboxFull` (default 32). */
  readonly mailboxCapacity?: number | undefined
  /** Passivate an actor with no run, no queue and no subscriber after this long (default 5 minutes). */
  readonly idleTimeToLive?: Duration.DurationInput | undefined
  /** Ignored (each actor now passivates exactly `idleTimeToLive` after its last lease); kept for old configs. */
  readonly sweepInterval?: Duration.DurationInput | undefined
  /** Events buffered per `subscribe` reader before it reads on from the log instead (default 1,024). */
  readonly outboxCapacity?: number | undefined
  /** System prompt sent with every model request. */
  readonly system?: string | undefined
  /** Reasoning planner options (levels, keywords, a level pinned for every run); `SendOptions.level` wins. */
  readonly reasoning?: Reasoning.PlanOptions | undefined
}

/**
 * The runtime on a given model and store, with its local `ConversationFeed`. Closing the layer
 * interrupts running runs; they end with `RunEnded{interrupted}` and their partial reply is kept.
 * Messages accepted and still queued then (or when the process was killed) are answered when the
 * layer is next built on the same store, in order, each once (`ConversationStore.unanswered`);
 * those sent with a turn request are not, as their caller is gone.
 * @category layers
 */
export const layer = (
  options: Options = {}
): Layer.Layer<Conversations | ConversationFeed, never, Model | ConversationStore.ConversationStore> =>
  Layer.scopedContext(
    Effect.map(runtime.make(options), (rt) => Context.make(Conversations, rt.service).pipe(Context.add(ConversationFeed, rt.feed)))
  )
