/**
 * The errors of the conversation runtime and its store, as a leaf module: drivers (the SQLite
 * store, a cluster host) and clients import them without loading any driver.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/** The conversation's mailbox is full; nothing was queued. */
export class MailboxFull extends Schema.TaggedError<MailboxFull>()("MailboxFull", {
  conversationId: Schema.String,
  capacity: Schema.Int
}) {}

/** The store failed; for a `send`, the message was not accepted (nothing was queued). */
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

/**
 * A run is going or messages are queued: an edit or a regenerate would change history under it.
 * Stop the run (or wait for it) and try again.
 */
export class ConversationBusy extends Schema.TaggedError<ConversationBusy>()("ConversationBusy", {
  conversationId: Schema.String
}) {}

/** No such message to edit, or nothing to regenerate (`reason` says which). */
export class MessageNotFound extends Schema.TaggedError<MessageNotFound>()("MessageNotFound", {
  conversationId: Schema.String,
  messageId: Schema.optional(Schema.String),
  reason: Schema.String
}) {}

export class ConversationNotFound extends Schema.TaggedError<ConversationNotFound>()("ConversationNotFound", {
  conversationId: Schema.String
}) {}

/**
 * Another process holds the data directory (one owner per data directory: two writers would
 * hand out the same seqs). Stop it, or talk to it (`sluice … --remote <url>`).
 */
export class DataDirLocked extends Schema.TaggedError<DataDirLocked>()("DataDirLocked", {
  dataDir: Schema.String,
  pid: Schema.Int,
  message: Schema.String
}) {}

/** A subscriber fell too far behind and was closed; resume from its last seq. */
export class SubscriberTooSlow extends Schema.TaggedError<SubscriberTooSlow>()("SubscriberTooSlow", {
  conversationId: Schema.String,
  /** The last seq the subscriber was given. */
  lastSeq: Schema.Int,
  limit: Schema.Int
}) {}
