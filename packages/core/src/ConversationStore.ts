/**
 * Durable state of conversations: the conversation rows, their messages, their runs and the
 * event log that `Conversations.subscribe({ fromSeq })` replays.
 *
 * The default store is embedded SQLite (`@sluice/core/sqlite/SqliteStore`: `layer({ dataDir })`, WAL, `synchronous=NORMAL`:
 * a committed transaction survives a killed process). `SqliteStore.layerMemory` is the same code on an
 * in-memory SQLite database, for tests.
 *
 * Writes go through `commit`: everything in one `Commit` is one transaction, so a crash never
 * leaves half of it behind; `commitMany` writes several commits as one transaction (the runtime
 * groups the commits of concurrent conversations that way). Opening a store recovers from a crash: every run still marked
 * `running` is marked `interrupted`, its partial assistant message too, and the log gets the
 * run's closing `Final{interrupted}` + `RunEnded{interrupted}` events, with seqs past the
 * conversation's row `next_seq` (which the runtime keeps ahead of any Draft it published).
 * Turns accepted and never started are left as they are; `unanswered` lists them and the runtime
 * queues them again when it starts.
 *
 * Log retention (see `RetentionOptions`): the events of the last `retainRuns` runs (default 100)
 * of each conversation are kept, everything older is deleted when a run ends; a resume from
 * before the retained part fails with `EventsExpired` (never a silent skip).
 *
 * `Draft` events are not in the log: they are previews, published at once and kept in memory
 * while their run lives (the runtime's DraftLog), and a run's Final carries the same text whole.
 * A replay therefore has seq holes exactly where Drafts were. During a run the reply's message
 * row is rewritten per Block, at the end, and from the preview as it grows (a checkpoint), not
 * per Draft; crash recovery keeps that row's text as the interrupted reply. (`compactDrafts`
 * still deletes the Drafts of an ended run from logs written before Drafts left the log.)
 *
 * @since 0.1.0
 */
import { Context, type Effect } from "effect"
import type { ConversationRecord, ConversationSummary, HistoryMessage, MessageRecord, RunRecord, UnansweredTurn } from "./Conversation.js"
import type { EventsExpired, StoreError } from "./ConversationError.js"
import type { ReplyEvent } from "./ReplyEvent.js"

export { type ConversationRecord, type MessageRecord, type RunRecord, type RunStatus, titleOf, type UnansweredTurn } from "./Conversation.js"

/** What belongs together: one transaction. Rows are upserts; events are appended. */
export interface Commit {
  readonly conversation: ConversationRecord
  /**
   * `false` when the conversation's row holds nothing new but its next seq and update time (a
   * commit of Drafts only): a store may leave the row as it is. Its next seq is then derived from
   * the log (as crash recovery does); the commit that ends a run always rewrites it. Default true.
   */
  readonly conversationChanged?: boolean
  readonly messages: ReadonlyArray<MessageRecord>
  readonly runs: ReadonlyArray<RunRecord>
  /** In seq order, contiguous with what is already stored. */
  readonly events: ReadonlyArray<ReplyEvent>
}

export interface RetentionOptions {
  /** Keep the events of this many most recent runs per conversation (default 100). */
  readonly retainRuns?: number | undefined
  /** Delete a run's Draft events when it ends, from logs that still hold some (written before Drafts left the log; default true). */
  readonly compactDrafts?: boolean | undefined
}

export interface SqliteOptions extends RetentionOptions {
  /** Directory for the database file; created if missing. */
  readonly dataDir: string
  /** File name inside `dataDir` (default `sluice.db`). */
  readonly filename?: string | undefined
}

/** @category models */
export interface ConversationStoreService {
  readonly load: (conversationId: string) => Effect.Effect<ConversationRecord | undefined, StoreError>
  readonly commit: (commit: Commit) => Effect.Effect<void, StoreError>
  /**
   * Several commits (of any conversations) as ONE transaction: all of them or none (group commit;
   * each conversation's commits must be in seq order).
   */
  readonly commitMany: (commits: ReadonlyArray<Commit>) => Effect.Effect<void, StoreError>
  /** Every retained event with seq > afterSeq, in order. */
  readonly events: (conversationId: string, afterSeq: number) => Effect.Effect<ReadonlyArray<ReplyEvent>, StoreError | EventsExpired>
  readonly history: (conversationId: string) => Effect.Effect<ReadonlyArray<HistoryMessage>, StoreError>
  readonly messages: (conversationId: string) => Effect.Effect<ReadonlyArray<MessageRecord>, StoreError>
  /** The message stored with this client idempotency key (`SendOptions.clientMessageId`), if any. */
  readonly findClientMessage: (
    conversationId: string,
    clientMessageId: string
  ) => Effect.Effect<{ readonly messageId: string; readonly seq: number } | undefined, StoreError>
  readonly runs: (conversationId: string) => Effect.Effect<ReadonlyArray<RunRecord>, StoreError>
  readonly list: (options?: { readonly owner?: string | undefined }) => Effect.Effect<ReadonlyArray<ConversationSummary>, StoreError>
  /** Deletes the conversation with its messages, runs and log, as one transaction. */
  readonly remove: (conversationId: string) => Effect.Effect<void, StoreError>
  /**
   * Turns accepted and never started, because the process that accepted them stopped first (a
   * crash, or a shutdown with messages still queued), in seq order per conversation; messages sent
   * with a turn request (`callerBound`) are left out. The runtime queues them again when it starts.
   */
  readonly unanswered: (conversationId?: string) => Effect.Effect<ReadonlyArray<UnansweredTurn>, StoreError>
  /**
   * Crash recovery of ONE conversation, for a store several processes share (PostgreSQL under a
   * cluster): the process that takes the conversation over closes the runs a dead owner left
   * `running`, as a store that one process owns does for all of them when it opens. Absent:
   * the store recovers when it opens.
   */
  readonly recover?: (conversationId: string) => Effect.Effect<void, StoreError>
}

/** @category tags */
export class ConversationStore extends Context.Tag("@sluice/core/ConversationStore")<ConversationStore, ConversationStoreService>() {}
