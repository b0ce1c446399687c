/**
 * `ConversationStore` on PostgreSQL (`@effect/sql-pg`), for several gateway processes sharing one
 * database (the cluster). Same tables and semantics as the SQLite store, with two differences a
 * shared store needs:
 *
 * - Crash recovery is per conversation (`recover`), run by the process that takes the
 *   conversation over, never at open: at open, another live process may be running any of them.
 * - The conversation's row is locked (`FOR UPDATE`) by recovery, and every event insert is checked
 *   by the unique (conversation_id, seq) index, so two writers of one conversation (which the
 *   cluster's shard locks exclude) could at worst fail a commit, never interleave seqs.
 *
 * @internal
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import * as PgClient from "@effect/sql-pg/PgClient"
import type * as SqlClient from "@effect/sql/SqlClient"
import type * as Statement from "@effect/sql/Statement"
import { Clock, Effect, Layer, type Redacted } from "effect"
import { EventsExpired, StoreError } from "../../ConversationError.js"
import type * as Store from "../../ConversationStore.js"
import { ConversationStore } from "../../ConversationStore.js"
import {
  type ConversationRow,
  conversationOf,
  conversationOrder,
  historyOf,
  type MessageRow,
  messageOf,
  type RunRow,
  runOf,
  toStoreError
} from "../../internal/storeRows.js"
import type { ReplyEvent } from "../../ReplyEvent.js"
import { migrate } from "./migrations.js"

export interface PgOptions extends Store.RetentionOptions {
  /** `postgres://user:password@host:port/database`. */
  readonly url: Redacted.Redacted<string>
  /** Connections in the store's pool (default 10). */
  readonly maxConnections?: number | undefined
}

const INT8 = 20

export const make = (sql: SqlClient.SqlClient, options: Store.RetentionOptions) =>
  Effect.gen(function* () {
    const retainRuns = Math.max(1, options.retainRuns ?? 100)
    yield* Effect.mapError(migrate(sql), toStoreError)

    // One statement per table per group commit (a multi-row upsert), not one per row: a commit of
    // many conversations' deltas costs a handful of round trips. Rows of one id keep the last
    // version (PostgreSQL refuses to upsert one row twice in a statement); order within the
    // transaction does not matter for them, and events are all appended.
    const conversationRow = (c: Store.ConversationRecord) => ({
      id: c.id,
      owner: c.owner ?? null,
      title: c.title,
      next_seq: c.nextSeq,
      queue_mode: c.queueMode,
      settings: c.settings === undefined ? null : JSON.stringify(c.settings),
      created_at: c.createdAt,
      updated_at: c.updatedAt,
      pruned_before: 1,
      system: c.system ?? null,
      model: c.model ?? null
    })
    const messageRow = (m: Store.MessageRecord) => ({
      id: m.id,
      conversation_id: m.conversationId,
      seq: m.seq,
      role: m.role,
      text: m.text,
      run_id: m.runId ?? null,
      status: m.status,
      interrupted: m.interrupted ? 1 : 0,
      at: m.at,
      client_message_id: m.clientMessageId ?? null,
      superseded: m.superseded === true ? 1 : 0,
      error: m.error === undefined ? null : JSON.stringify({ tag: m.error.tag, message: m.error.message }),
      caller_bound: m.callerBound === true ? 1 : 0
    })
    const runRow = (r: Store.RunRecord) => ({
      id: r.id,
      conversation_id: r.conversationId,
      first_seq: r.firstSeq,
      status: r.status,
      started_at: r.startedAt,
      ended_at: r.endedAt ?? null
    })
    // Each table's write, defined once: alone (batched, in a transaction) or as a CTE of the one
    // statement a usual group commit is.
    type Rows<F extends (...a: never) => unknown> = ReadonlyArray<ReturnType<F>>
    const upsertConversationsSql = (rows: Rows<typeof conversationRow>) =>
      sql`INSERT INTO sluice_conversations ${sql.insert(rows)}
        ON CONFLICT (id) DO UPDATE SET owner = excluded.owner, title = excluded.title, next_seq = excluded.next_seq,
          queue_mode = excluded.queue_mode, settings = excluded.settings, updated_at = excluded.updated_at,
          system = excluded.system, model = excluded.model`
    const upsertMessagesSql = (rows: Rows<typeof messageRow>) =>
      sql`INSERT INTO sluice_messages ${sql.insert(rows)}
        ON CONFLICT (id) DO UPDATE SET text = excluded.text, status = excluded.status, interrupted = excluded.interrupted,
          superseded = excluded.superseded, error = excluded.error`
    const upsertRunsSql = (rows: Rows<typeof runRow>) =>
      sql`INSERT INTO sluice_runs ${sql.insert(rows)} ON CONFLICT (id) DO UPDATE SET status = excluded.status, ended_at = excluded.ended_at`
    const insertEventsSql = (rows: Rows<typeof eventRow>) => sql`INSERT INTO sluice_events ${sql.insert(rows)}`
    const eventRow = (conversationId: string, e: ReplyEvent) => ({
      conversation_id: conversationId,
      seq: e.seq,
      run_id: e.runId,
      tag: e._tag,
      body: JSON.stringify(e)
    })
    const upsertRun = (r: Store.RunRecord) => upsertRunsSql([runRow(r)])
    const insertEvents = (conversationId: string, evs: ReadonlyArray<ReplyEvent>) =>
      evs.length === 0 ? Effect.void : insertEventsSql(evs.map((e) => eventRow(conversationId, e)))

    /** Retention when a run ended: the events of runs past `retainRuns` go (the UserMessages of the oldest kept run stay). */
    const onRunsEnded = (conversationId: string) =>
      Effect.gen(function* () {
        const [cut] = yield* sql<{ first_seq: number }>`SELECT first_seq FROM sluice_runs WHERE conversation_id = ${conversationId}
          ORDER BY first_seq DESC LIMIT 1 OFFSET ${retainRuns - 1}`
        if (cut === undefined) return
        const [firstUser] = yield* sql<{ seq: number | null }>`SELECT MIN(seq) AS seq FROM sluice_events
          WHERE conversation_id = ${conversationId} AND run_id IN
          (SELECT id FROM sluice_runs WHERE conversation_id = ${conversationId} AND first_seq >= ${cut.first_seq})`
        const from = Math.min(cut.first_seq, firstUser?.seq ?? cut.first_seq)
        yield* sql`DELETE FROM sluice_events WHERE conversation_id = ${conversationId} AND seq < ${from}`
        yield* sql`UPDATE sluice_conversations SET pruned_before = GREATEST(pruned_before, ${from}) WHERE id = ${conversationId}`
      })

    const writeMany = (cs: ReadonlyArray<Store.Commit>) =>
      Effect.gen(function* () {
        const conversations = new Map<string, ReturnType<typeof conversationRow>>()
        const messages = new Map<string, ReturnType<typeof messageRow>>()
        const runsById = new Map<string, ReturnType<typeof runRow>>()
        const events: Array<ReturnType<typeof eventRow>> = []
        const ended = new Set<string>()
        for (const c of cs) {
          const id = c.conversation.id
          if (c.conversationChanged !== false) conversations.set(id, conversationRow(c.conversation))
          for (const e of c.events) events.push(eventRow(id, e))
          for (const m of c.messages) messages.set(m.id, messageRow(m))
          for (const r of c.runs) {
            runsById.set(r.id, runRow(r))
            if (r.status !== "running") ended.add(id)
          }
        }
        /** One table's rows and its write, whole or a slice. */
        const table = <R>(name: string, params: number, rows: ReadonlyArray<R>, write: (rows: ReadonlyArray<R>) => Statement.Statement<unknown>) => ({
          name,
          params,
          count: rows.length,
          write: (from = 0, to = rows.length) => write(rows.slice(from, to))
        })
        const writes = [
          table("c", 11, [...conversations.values()], upsertConversationsSql),
          table("e", 5, events, insertEventsSql),
          table("m", 13, [...messages.values()], upsertMessagesSql),
          table("r", 6, [...runsById.values()], upsertRunsSql)
        ].filter((w) => w.count > 0)
        const params = writes.reduce((n, w) => n + w.count * w.params, 0)
        if (ended.size === 0 && params <= 30_000) {
          // The usual group commit (deltas, checkpoints): ONE statement, one round trip. Its
          // data-modifying CTEs are one atomic statement, so it needs no BEGIN/COMMIT around it.
          if (writes.length > 0) yield* sql`WITH ${sql.csv(writes.map((w) => sql`${sql.literal(w.name)} AS (${w.write()})`))} SELECT 1`
          return
        }
        // Large commits go in statements under PostgreSQL's 65,535 parameters each; a run that
        // ended brings its retention work: both in one transaction.
        yield* sql.withTransaction(
          Effect.gen(function* () {
            for (const w of writes) {
              const size = Math.floor(30_000 / w.params)
              for (let k = 0; k < w.count; k += size) yield* w.write(k, k + size)
            }
            for (const id of ended) yield* onRunsEnded(id)
          })
        )
      })

    const commitMany = (cs: ReadonlyArray<Store.Commit>): Effect.Effect<void, StoreError> =>
      cs.length === 0 ? Effect.void : Effect.mapError(writeMany(cs), toStoreError)
    const commit = (c: Store.Commit) => commitMany([c])

    /** The row with the log's last seq: a Drafts-only commit leaves next_seq behind (Commit.conversationChanged), the log has the truth. */
    const withLastSeq = sql.literal("c.*, (SELECT MAX(seq) FROM sluice_events e WHERE e.conversation_id = c.id) AS last_seq")
    const nextSeqOf = (row: ConversationRow & { readonly last_seq: number | null }) => Math.max(row.next_seq, (row.last_seq ?? 0) + 1)

    const load = (id: string) =>
      sql<ConversationRow & { last_seq: number | null }>`SELECT ${withLastSeq} FROM sluice_conversations c WHERE c.id = ${id}`.pipe(
        Effect.map(([row]) => (row === undefined ? undefined : conversationOf({ ...row, next_seq: nextSeqOf(row) }))),
        Effect.mapError(toStoreError)
      )

    const events = (id: string, afterSeq: number) =>
      Effect.gen(function* () {
        const rows = yield* sql<{ body: string }>`SELECT body FROM sluice_events WHERE conversation_id = ${id} AND seq > ${afterSeq}
          ORDER BY seq`
        // Read after the events: pruning only moves it up, so a prune that the read may have missed shows here.
        const [c] = yield* sql<{ pruned_before: number }>`SELECT pruned_before FROM sluice_conversations WHERE id = ${id}`
        const prunedBefore = c?.pruned_before ?? 1
        return { rows, prunedBefore }
      }).pipe(
        Effect.mapError(toStoreError),
        Effect.flatMap(({ rows, prunedBefore }): Effect.Effect<ReadonlyArray<ReplyEvent>, EventsExpired> =>
          afterSeq + 1 < prunedBefore
            ? Effect.fail(new EventsExpired({ conversationId: id, fromSeq: afterSeq, oldestSeq: prunedBefore }))
            : Effect.succeed(rows.map((r) => JSON.parse(r.body) as ReplyEvent))
        )
      )

    const messages = (id: string) =>
      sql<MessageRow>`SELECT * FROM sluice_messages WHERE conversation_id = ${id} ORDER BY seq`.pipe(
        Effect.map((rows) => conversationOrder(rows.map(messageOf))),
        Effect.mapError(toStoreError)
      )
    const history = (id: string) => Effect.map(messages(id), historyOf)

    const findClientMessage = (id: string, clientMessageId: string) =>
      sql<{ id: string; seq: number }>`SELECT id, seq FROM sluice_messages
        WHERE conversation_id = ${id} AND client_message_id = ${clientMessageId}`.pipe(
        Effect.map(([row]) => (row === undefined ? undefined : { messageId: row.id, seq: row.seq })),
        Effect.mapError(toStoreError)
      )

    const unanswered = (conversationId?: string) =>
      (conversationId === undefined
        ? sql<{ conversation_id: string; run_id: string; id: string; text: string }>`SELECT m.conversation_id, m.run_id, m.id, m.text
            FROM sluice_messages m WHERE m.role = 'user' AND m.superseded = 0 AND m.caller_bound = 0 AND m.run_id IS NOT NULL
            AND NOT EXISTS (SELECT 1 FROM sluice_runs r WHERE r.id = m.run_id) ORDER BY m.conversation_id, m.seq`
        : sql<{ conversation_id: string; run_id: string; id: string; text: string }>`SELECT m.conversation_id, m.run_id, m.id, m.text
            FROM sluice_messages m WHERE m.conversation_id = ${conversationId} AND m.role = 'user' AND m.superseded = 0
            AND m.caller_bound = 0 AND m.run_id IS NOT NULL
            AND NOT EXISTS (SELECT 1 FROM sluice_runs r WHERE r.id = m.run_id) ORDER BY m.seq`
      ).pipe(
        Effect.map((rows) => {
          const turns: Array<{ conversationId: string; runId: string; messages: Array<{ messageId: string; text: string }> }> = []
          for (const r of rows) {
            const last = turns.at(-1)
            if (last !== undefined && last.runId === r.run_id) last.messages.push({ messageId: r.id, text: r.text })
            else turns.push({ conversationId: r.conversation_id, runId: r.run_id, messages: [{ messageId: r.id, text: r.text }] })
          }
          return turns
        }),
        Effect.mapError(toStoreError)
      )

    const runs = (id: string) =>
      sql<RunRow>`SELECT * FROM sluice_runs WHERE conversation_id = ${id} ORDER BY first_seq`.pipe(
        Effect.map((rows) => rows.map(runOf)),
        Effect.mapError(toStoreError)
      )

    const listColumns = sql.literal(`EXISTS(SELECT 1 FROM sluice_runs r WHERE r.conversation_id = c.id AND r.status = 'running') AS running,
      (SELECT MAX(seq) FROM sluice_events e WHERE e.conversation_id = c.id) AS last_seq`)
    const list = (opts?: { readonly owner?: string | undefined }) =>
      (opts?.owner === undefined
        ? sql<ConversationRow & { running: boolean; last_seq: number | null }>`SELECT c.*, ${listColumns}
            FROM sluice_conversations c ORDER BY c.updated_at DESC, c.id`
        : sql<ConversationRow & { running: boolean; last_seq: number | null }>`SELECT c.*, ${listColumns}
            FROM sluice_conversations c WHERE c.owner = ${opts.owner} ORDER BY c.updated_at DESC, c.id`
      ).pipe(
        Effect.map((rows) =>
          rows.map((r) => ({
            conversationId: r.id,
            ...(r.owner === null ? {} : { owner: r.owner }),
            title: r.title,
            // The row's next seq may be a reservation ahead of a running reply; the log is not.
            lastSeq: r.last_seq ?? r.next_seq - 1,
            updatedAt: r.updated_at,
            running: r.running,
            ...(r.system === null ? {} : { system: r.system }),
            ...(r.model === null ? {} : { model: r.model })
          }))
        ),
        Effect.mapError(toStoreError)
      )

    const remove = (id: string) =>
      sql
        .withTransaction(
          Effect.gen(function* () {
            yield* sql`DELETE FROM sluice_events WHERE conversation_id = ${id}`
            yield* sql`DELETE FROM sluice_messages WHERE conversation_id = ${id}`
            yield* sql`DELETE FROM sluice_runs WHERE conversation_id = ${id}`
            yield* sql`DELETE FROM sluice_conversations WHERE id = ${id}`
          })
        )
        .pipe(Effect.mapError(toStoreError))

    /**
     * Closes the runs a dead owner left `running` (Final{interrupted} + RunEnded{interrupted} past
     * the row's next seq, which covers every Draft it published), under the row's lock.
     */
    const recover = (id: string) =>
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        yield* sql.withTransaction(
          Effect.gen(function* () {
            const [conv] = yield* sql<ConversationRow & { last_seq: number | null }>`SELECT ${withLastSeq} FROM sluice_conversations c
              WHERE c.id = ${id} FOR UPDATE`
            if (conv === undefined) return
            const stale = yield* sql<RunRow>`SELECT * FROM sluice_runs WHERE conversation_id = ${id} AND status = 'running'
              ORDER BY first_seq`
            if (stale.length === 0) return
            let seq = nextSeqOf(conv)
            for (const run of stale) {
              const [msg] = yield* sql<MessageRow>`SELECT * FROM sluice_messages WHERE run_id = ${run.id} AND role = 'assistant'`
              const text = msg?.text ?? ""
              const base = { conversationId: id, runId: run.id, at: now }
              yield* insertEvents(id, [
                { _tag: "Final", ...base, seq: seq++, text, interrupted: true },
                { _tag: "RunEnded", ...base, seq: seq++, reason: "interrupted" }
              ])
              if (msg !== undefined) yield* sql`UPDATE sluice_messages SET status = 'interrupted', interrupted = 1 WHERE id = ${msg.id}`
              yield* upsertRun({ ...runOf(run), status: "interrupted", endedAt: now })
            }
            yield* sql`UPDATE sluice_conversations SET next_seq = ${seq}, updated_at = ${now} WHERE id = ${id}`
            yield* onRunsEnded(id)
          })
        )
      }).pipe(Effect.mapError(toStoreError))

    return ConversationStore.of({ load, commit, commitMany, events, history, messages, findClientMessage, runs, list, remove, unanswered, recover })
  })

/** Its own pool: BIGINT columns read as numbers (seqs and millisecond times fit), unlike the cluster's snowflake ids. */
export const client = (options: PgOptions) =>
  Effect.gen(function* () {
    const pg = yield* Effect.promise(() => import("pg"))
    const types = pg.default.types
    return yield* PgClient.make({
      url: options.url,
      maxConnections: options.maxConnections ?? 10,
      applicationName: "sluice",
      types: { getTypeParser: ((oid: number, format?: "text" | "binary") => (oid === INT8 ? Number : types.getTypeParser(oid, format))) as never }
    })
  })

export const layer = (options: PgOptions): Layer.Layer<ConversationStore, StoreError> =>
  Layer.scoped(
    ConversationStore,
    Effect.flatMap(Effect.mapError(client(options), (e) => new StoreError({ message: `PostgreSQL: ${e.message}` })), (sql) =>
      make(sql, options)
    )
  ).pipe(Layer.provide(Reactivity.layer))
