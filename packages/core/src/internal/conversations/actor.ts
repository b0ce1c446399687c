/**
 * The state of one active conversation: a plain object, no fiber while idle.
 *
 * A worker fiber exists only while the mailbox has turns (it drains them one at a time and
 * exits); an idle actor is this object and its fan-out. Who owns which field:
 * - the registry (`registry.ts`) creates and passivates it;
 * - `send` (under `sendLock`) and the run loop (`runLoop.ts`) change the conversation state and
 *   append events to `pending`;
 * - the event log (`eventLog.ts`) moves `pending`/`dirty*` into commits and, once committed, hands
 *   the events to `fanout`.
 *
 * @internal
 */
import { Effect, type Deferred, type Fiber } from "effect"
import type { ConversationRecord, MessageRecord, QueueMode, RunRecord, TurnRequest } from "../../Conversation.js"
import type { Usage } from "../../ModelEvent.js"
import type { ReplyEvent, RunEndReason } from "../../ReplyEvent.js"
import type { StreamingSettings } from "../../StreamingSettings.js"
import { Fanout } from "./fanout.js"

/** A turn waiting in the mailbox: the user message(s) that the next run answers. */
export interface Turn {
  readonly runId: string
  readonly messages: Array<{ readonly messageId: string; readonly text: string }>
  level: number | undefined
  /** The actor's `epoch` when the turn was queued: a turn from before a delete never runs. */
  readonly epoch: number
  /** The sender's own request options (context, system, sampling), if any. */
  readonly request?: TurnRequest | undefined
}

export interface Run {
  readonly runId: string
  fiber: Fiber.RuntimeFiber<void, unknown> | undefined
  /** Why the run is being ended from outside (stop → stopped, interrupt mode → interrupted). */
  stopReason: RunEndReason | undefined
  readonly ended: Deferred.Deferred<void>
  record: RunRecord
  message: MessageRecord
  /** Seq of the first output event of the current attempt (for Rollback.discardFromSeq). */
  attemptFirstSeq: number | undefined
  blocks: Array<string>
  draft: string | undefined
  /** Length of the preview when the reply's row was last rewritten from it. */
  checkpoint: number
  final: string | undefined
  /** Raw model text of the current attempt (what the model said, shown or not yet). */
  raw: string
  /** The model the current attempt's stream says it is (its MessageStart). */
  model: string | undefined
  /** The current attempt's token usage (MessageStart, then MessageDelta) and why it stopped. */
  usage?: Usage | undefined
  modelStopReason?: string | undefined
  /** The current attempt's tool calls, as their arguments arrive (for the Final). */
  toolCalls?: Array<{ id: string; name: string; arguments: string }> | undefined
}

export interface Actor {
  readonly id: string
  exists: boolean
  owner: string | undefined
  title: string
  nextSeq: number
  queueMode: QueueMode
  settings: StreamingSettings | undefined
  /** The conversation's own system prompt and model (`Conversations.update`). */
  system: string | undefined
  model: string | undefined
  /** Counts deletes (`Conversations.remove`); the actor is reset in place, see `reset`. */
  epoch: number
  createdAt: number
  updatedAt: number
  prunedBefore: number
  /** Turns waiting to run (not the running one). */
  queue: Array<Turn> | undefined
  /** Messages waiting in `queue` (what the mailbox capacity limits). */
  queued: number
  /**
   * Turns of sends between their UserMessage and their place in `queue` (while they commit): a run
   * that reads the history then must not take their messages as its own. At most one per send in
   * flight, and sends are serialised by `sendLock`, so at most one.
   */
  accepting: string | undefined
  run: Run | undefined
  worker: boolean
  /** Serialises sends (check key → commit → enqueue) with the worker taking the next turn. */
  readonly sendLock: Effect.Semaphore
  /** Subscribers: each gets an event once it is committed. */
  readonly fanout: Fanout
  /**
   * Events not yet committed (so not yet published), in seq order; `inFlight` is being committed.
   * A Draft is here only when it came behind an event still uncommitted (it is published after
   * that, in order, and never stored).
   */
  pending: Array<ReplyEvent>
  inFlight: ReadonlyArray<ReplyEvent>
  dirtyMessages: Map<string, MessageRecord> | undefined
  dirtyRuns: Map<string, RunRecord> | undefined
  dirtyConversation: boolean
  /**
   * The running reply's row needs its text rebuilt (a Block, Final or Rollback arrived). Rebuilt
   * once per commit, not per payload: joining a long reply per block is O(n²).
   */
  replyDirty: boolean
  /**
   * Every seq below this may be published before it is committed (a Draft): the conversation's
   * row holds at least this as its next seq, so after a crash no event ever gets a seq a reader
   * may hold. `reserving` is the bound asked for (raised ahead of `nextSeq`, written by the next
   * commit); `reserved` what is committed.
   */
  reserved: number
  reserving: number
}

export const EMPTY: ReadonlyArray<ReplyEvent> = []

export const fromRecord = (id: string, record: ConversationRecord | undefined, now: number): Actor => ({
  sendLock: Effect.unsafeMakeSemaphore(1),
  fanout: new Fanout((record?.nextSeq ?? 1) - 1),
  id,
  exists: record !== undefined,
  owner: record?.owner,
  title: record?.title ?? "",
  nextSeq: record?.nextSeq ?? 1,
  queueMode: record?.queueMode ?? "followup",
  settings: record?.settings,
  system: record?.system,
  model: record?.model,
  epoch: 0,
  createdAt: record?.createdAt ?? now,
  updatedAt: record?.updatedAt ?? now,
  prunedBefore: record?.prunedBefore ?? 1,
  queue: undefined,
  queued: 0,
  accepting: undefined,
  run: undefined,
  worker: false,
  pending: [],
  inFlight: EMPTY,
  dirtyMessages: undefined,
  dirtyRuns: undefined,
  dirtyConversation: false,
  replyDirty: false,
  reserved: record?.nextSeq ?? 1,
  reserving: record?.nextSeq ?? 1
})

export const toRecord = (a: Actor): ConversationRecord => ({
  id: a.id,
  owner: a.owner,
  title: a.title,
  nextSeq: Math.max(a.nextSeq, a.reserving),
  queueMode: a.queueMode,
  settings: a.settings,
  createdAt: a.createdAt,
  updatedAt: a.updatedAt,
  prunedBefore: a.prunedBefore,
  system: a.system,
  model: a.model
})

/**
 * After a delete: the actor is a new, empty conversation again, in place (leases held on it stay
 * valid). Its seqs go on from where they were, so no resume cursor of the old conversation ever
 * sees a seq again; an actor loaded later with no row starts at 1 as any new one.
 */
export const reset = (a: Actor, now: number): void => {
  Object.assign(a, {
    ...fromRecord(a.id, undefined, now),
    sendLock: a.sendLock,
    fanout: a.fanout,
    nextSeq: a.nextSeq,
    epoch: a.epoch + 1,
    worker: a.worker
  })
}

export const markMessage = (a: Actor, m: MessageRecord): void => {
  a.dirtyMessages ??= new Map()
  a.dirtyMessages.set(m.id, m)
}

export const markRun = (a: Actor, r: RunRecord): void => {
  a.dirtyRuns ??= new Map()
  a.dirtyRuns.set(r.id, r)
}

/** The visible reply of the current attempt: the latest Draft, or the Blocks so far. */
export const visibleText = (run: Run): string => {
  const blocks = run.blocks.join("\n\n")
  return run.draft !== undefined && run.draft.length >= blocks.length ? run.draft : blocks
}
