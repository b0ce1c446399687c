/**
 * The row shapes both SQL stores share (SQLite and PostgreSQL keep the same columns), their
 * mapping to records, and the order messages are read back in.
 *
 * @internal
 */
import type * as SqlError from "@effect/sql/SqlError"
import type { HistoryMessage } from "../Conversation.js"
import type * as Store from "../ConversationStore.js"
import { StoreError } from "../ConversationError.js"

export interface ConversationRow {
  readonly id: string
  readonly owner: string | null
  readonly title: string
  readonly next_seq: number
  readonly queue_mode: string
  readonly settings: string | null
  readonly created_at: number
  readonly updated_at: number
  readonly pruned_before: number
  readonly system: string | null
  readonly model: string | null
}
export interface MessageRow {
  readonly id: string
  readonly conversation_id: string
  readonly seq: number
  readonly role: string
  readonly text: string
  readonly run_id: string | null
  readonly status: string
  readonly interrupted: number
  readonly at: number
  readonly client_message_id?: string | null
  readonly superseded: number
  readonly error?: string | null
  readonly caller_bound?: number
}
export interface RunRow {
  readonly id: string
  readonly conversation_id: string
  readonly first_seq: number
  readonly status: string
  readonly started_at: number
  readonly ended_at: number | null
}

export const toStoreError = (e: SqlError.SqlError | unknown) =>
  new StoreError({ message: e instanceof Error ? `${e.message}${e.cause instanceof Error ? `: ${e.cause.message}` : ""}` : String(e) })

export const conversationOf = (r: ConversationRow): Store.ConversationRecord => ({
  id: r.id,
  owner: r.owner ?? undefined,
  title: r.title,
  nextSeq: r.next_seq,
  queueMode: r.queue_mode as Store.ConversationRecord["queueMode"],
  settings: r.settings === null ? undefined : JSON.parse(r.settings),
  createdAt: r.created_at,
  updatedAt: r.updated_at,
  prunedBefore: r.pruned_before,
  ...(r.system === null ? {} : { system: r.system }),
  ...(r.model === null ? {} : { model: r.model })
})
export const messageOf = (r: MessageRow): Store.MessageRecord => ({
  ...(r.client_message_id == null ? {} : { clientMessageId: r.client_message_id }),
  id: r.id,
  conversationId: r.conversation_id,
  seq: r.seq,
  role: r.role as "user" | "assistant",
  text: r.text,
  runId: r.run_id ?? undefined,
  status: r.status as Store.MessageRecord["status"],
  interrupted: r.interrupted === 1,
  at: r.at,
  ...(r.superseded === 1 ? { superseded: true } : {}),
  ...(r.error == null ? {} : { error: JSON.parse(r.error) as { tag: string; message: string } }),
  ...(r.caller_bound === 1 ? { callerBound: true } : {})
})
export const runOf = (r: RunRow): Store.RunRecord => ({
  id: r.id,
  conversationId: r.conversation_id,
  firstSeq: r.first_seq,
  status: r.status as Store.RunStatus,
  startedAt: r.started_at,
  endedAt: r.ended_at ?? undefined
})

/**
 * Messages in conversation order: runs in the order their first message arrived, each run's user
 * messages then its reply. (By seq alone, a message queued during a run would come before the
 * reply it did not see.)
 */
export const conversationOrder = (ms: ReadonlyArray<Store.MessageRecord>): ReadonlyArray<Store.MessageRecord> => {
  const groups = new Map<string, Array<Store.MessageRecord>>()
  const out: Array<Array<Store.MessageRecord>> = []
  for (const m of ms) {
    const key = m.runId ?? `message:${m.id}`
    let g = groups.get(key)
    if (g === undefined) {
      g = []
      groups.set(key, g)
      out.push(g)
    }
    if (m.role === "user") {
      const firstReply = g.findIndex((x) => x.role === "assistant")
      if (firstReply >= 0) g.splice(firstReply, 0, m)
      else g.push(m)
    } else g.push(m)
  }
  return out.flat()
}


/** What `history` shows of the stored messages: the ones not superseded, without store-only fields. */
export const historyOf = (ms: ReadonlyArray<Store.MessageRecord>): ReadonlyArray<HistoryMessage> =>
  ms
    .filter((m) => m.superseded !== true)
    .map((m) => ({
      messageId: m.id,
      role: m.role,
      text: m.text,
      ...(m.runId === undefined ? {} : { runId: m.runId }),
      status: m.status,
      interrupted: m.interrupted,
      at: m.at,
      ...(m.error === undefined ? {} : { error: m.error })
    }))
