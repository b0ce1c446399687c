import { mkdirSync } from "node:fs"
import { join } from "node:path"
import * as SqlClient from "@effect/sql/SqlClient"
import { Clock, Effect, Layer } from "effect"
import type * as Store from "../../ConversationStore.js"
import { ConversationStore } from "../../ConversationStore.js"
import { type DataDirLocked, EventsExpired, StoreError } from "../../ConversationError.js"
import * as Lock from "./lock.js"
import { applyDraft, type ReplyEvent } from "../../ReplyEvent.js"
import { migrate } from "./migrations.js"
import { type ConversationRow, conversationOf, conversationOrder, historyOf, type MessageRow, messageOf, type RunRow, runOf, toStoreError } from "../../internal/storeRows.js"
import { open, type SqliteDb } from "./db.js"

const make = (handle: SqliteDb, options: Store.RetentionOptions) =>
  Effect.gen(function* () {
    const { sql, prepare, db } = handle
    const retainRuns = Math.max(1, options.retainRuns ?? 100)
    const compactDrafts = options.compactDrafts ?? true
    yield* migrate.pipe(Effect.provideService(SqlClient.SqlClient, sql), Effect.mapError(toStoreError))

    // ---- raw statements (hot paths; see internal/sqliteDb.ts) --------------------------------
    // Prepared once, run synchronously: no per-call compile, span or fiber step.
    const upsertConversationStmt = prepare(`INSERT INTO conversations
      (id, owner, title, next_seq, queue_mode, settings, created_at, updated_at, pruned_before, system, model)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)
      ON CONFLICT(id) DO UPDATE SET owner = excluded.owner, title = excluded.title, next_seq = excluded.next_seq,
        queue_mode = excluded.queue_mode, settings = excluded.settings, updated_at = excluded.updated_at,
        system = excluded.system, model = excluded.model`)
    const upsertMessageStmt = prepare(`INSERT INTO messages
      (id, conversation_id, seq, role, text, run_id, status, interrupted, at, client_message_id, superseded, error, caller_bound)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT(id) DO UPDATE SET text = excluded.text, status = excluded.status, interrupted = excluded.interrupted,
        superseded = excluded.superseded, error = excluded.error`)
    const upsertRunStmt = prepare(`INSERT INTO runs (id, conversation_id, first_seq, status, started_at, ended_at)
      VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET status = excluded.status, ended_at = excluded.ended_at`)
    const insertEventStmt = prepare("INSERT INTO events (conversation_id, seq, run_id, tag, body) VALUES (?, ?, ?, ?, ?)")
    const deleteDraftsStmt = prepare("DELETE FROM events WHERE conversation_id = ? AND seq >= ? AND run_id = ? AND tag = 'Draft'")
    const cutStmt = prepare("SELECT first_seq FROM runs WHERE conversation_id = ? ORDER BY first_seq DESC LIMIT 1 OFFSET ?")
    const firstUserStmt = prepare(`SELECT MIN(seq) AS seq FROM events WHERE conversation_id = ? AND run_id IN
      (SELECT id FROM runs WHERE conversation_id = ? AND first_seq >= ?)`)
    const pruneStmt = prepare("DELETE FROM events WHERE conversation_id = ? AND seq < ?")
    const prunedBeforeStmt = prepare("UPDATE conversations SET pruned_before = MAX(pruned_before, ?) WHERE id = ?")
    const loadStmt = prepare("SELECT * FROM conversations WHERE id = ?")
    const lastSeqStmt = prepare("SELECT MAX(seq) AS seq FROM events WHERE conversation_id = ?")
    const prunedOfStmt = prepare("SELECT pruned_before FROM conversations WHERE id = ?")
    const eventsStmt = prepare("SELECT body FROM events WHERE conversation_id = ? AND seq > ? ORDER BY seq").pluck(true)
    const messagesStmt = prepare("SELECT * FROM messages WHERE conversation_id = ? ORDER BY seq")
    const clientMessageStmt = prepare("SELECT id, seq FROM messages WHERE conversation_id = ? AND client_message_id = ?")

    const upsertConversation = (c: Store.ConversationRecord) =>
      upsertConversationStmt.run(
        c.id,
        c.owner ?? null,
        c.title,
        c.nextSeq,
        c.queueMode,
        c.settings === undefined ? null : JSON.stringify(c.settings),
        c.createdAt,
        c.updatedAt,
        c.system ?? null,
        c.model ?? null
      )
    const upsertMessage = (m: Store.MessageRecord) =>
      upsertMessageStmt.run(
        m.id,
        m.conversationId,
        m.seq,
        m.role,
        m.text,
        m.runId ?? null,
        m.status,
        m.interrupted ? 1 : 0,
        m.at,
        m.clientMessageId ?? null,
        m.superseded === true ? 1 : 0,
        m.error === undefined ? null : JSON.stringify({ tag: m.error.tag, message: m.error.message }),
        m.callerBound === true ? 1 : 0
      )
    const upsertRun = (r: Store.RunRecord) =>
      upsertRunStmt.run(r.id, r.conversationId, r.firstSeq, r.status, r.startedAt, r.endedAt ?? null)
    const insertEvents = (conversationId: string, evs: ReadonlyArray<ReplyEvent>) => {
      for (const e of evs) insertEventStmt.run(conversationId, e.seq, e.runId, e._tag, JSON.stringify(e))
    }

    /** Retention work when a run ended: drop its Drafts, drop the events of runs past `retainRuns`. */
    const onRunsEnded = (conversationId: string, ended: ReadonlyArray<Store.RunRecord>) => {
      if (compactDrafts) for (const r of ended) deleteDraftsStmt.run(conversationId, r.firstSeq, r.id)
      const cut = cutStmt.get(conversationId, retainRuns - 1) as { first_seq: number } | undefined
      const keepFrom = cut?.first_seq
      if (keepFrom === undefined) return
      // Keep the UserMessage events that started the oldest retained run, too.
      const firstUser = firstUserStmt.get(conversationId, conversationId, keepFrom) as { seq: number | null } | undefined
      const from = Math.min(keepFrom, firstUser?.seq ?? keepFrom)
      pruneStmt.run(conversationId, from)
      prunedBeforeStmt.run(from, conversationId)
    }

    const writeOne = (c: Store.Commit) => {
      if (c.conversationChanged !== false) upsertConversation(c.conversation)
      insertEvents(c.conversation.id, c.events)
      for (const m of c.messages) upsertMessage(m)
      for (const r of c.runs) upsertRun(r)
      const ended = c.runs.filter((r) => r.status !== "running")
      if (ended.length > 0) onRunsEnded(c.conversation.id, ended)
    }
    const writeMany = db.transaction((cs: ReadonlyArray<Store.Commit>) => {
      for (const c of cs) writeOne(c)
    })

    const commitMany = (cs: ReadonlyArray<Store.Commit>): Effect.Effect<void, StoreError> =>
      cs.length === 0 ? Effect.void : Effect.try({ try: () => writeMany.immediate(cs), catch: toStoreError })
    const commit = (c: Store.Commit) => commitMany([c])

    const load = (id: string) =>
      Effect.try({
        try: () => {
          const row = loadStmt.get(id) as ConversationRow | undefined
          if (row === undefined) return undefined
          // A Drafts-only commit leaves next_seq behind (Commit.conversationChanged): the log has the truth.
          const last = (lastSeqStmt.get(id) as { seq: number | null } | undefined)?.seq ?? 0
          return conversationOf(last >= row.next_seq ? { ...row, next_seq: last + 1 } : row)
        },
        catch: toStoreError
      })

    const events = (id: string, afterSeq: number) =>
      Effect.flatMap(
        Effect.try({
          try: () => {
            // Synchronous: no write can land between the two reads.
            const prunedBefore = (prunedOfStmt.get(id) as { pruned_before: number } | undefined)?.pruned_before ?? 1
            if (afterSeq + 1 < prunedBefore) return prunedBefore
            return (eventsStmt.all(id, afterSeq) as Array<string>).map((body) => JSON.parse(body) as ReplyEvent)
          },
          catch: toStoreError
        }),
        (r): Effect.Effect<ReadonlyArray<ReplyEvent>, EventsExpired> =>
          typeof r === "number" ? Effect.fail(new EventsExpired({ conversationId: id, fromSeq: afterSeq, oldestSeq: r })) : Effect.succeed(r)
      )

    const messages = (id: string) =>
      Effect.try({
        try: () => conversationOrder((messagesStmt.all(id) as Array<MessageRow>).map(messageOf)),
        catch: toStoreError
      })
    const history = (id: string) => Effect.map(messages(id), historyOf)

    const findClientMessage = (id: string, clientMessageId: string) =>
      Effect.try({
        try: () => {
          const row = clientMessageStmt.get(id, clientMessageId) as { id: string; seq: number } | undefined
          return row === undefined ? undefined : { messageId: row.id, seq: row.seq }
        },
        catch: toStoreError
      })

    /** User messages whose run never started (no runs row), grouped by run, in seq order. */
    const unansweredStmt = prepare(`SELECT m.conversation_id, m.run_id, m.id, m.text FROM messages m
      WHERE m.role = 'user' AND m.superseded = 0 AND m.caller_bound = 0 AND m.run_id IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM runs r WHERE r.id = m.run_id)
      ORDER BY m.conversation_id, m.seq`)
    const unanswered = (conversationId?: string) =>
      Effect.try({
        try: () => {
          const turns: Array<{ conversationId: string; runId: string; messages: Array<{ messageId: string; text: string }> }> = []
          const rows = unansweredStmt.all() as Array<{ conversation_id: string; run_id: string; id: string; text: string }>
          for (const r of rows) {
            if (conversationId !== undefined && r.conversation_id !== conversationId) continue
            const last = turns.at(-1)
            if (last !== undefined && last.runId === r.run_id) last.messages.push({ messageId: r.id, text: r.text })
            else turns.push({ conversationId: r.conversation_id, runId: r.run_id, messages: [{ messageId: r.id, text: r.text }] })
          }
          return turns
        },
        catch: toStoreError
      })

    const runs = (id: string) =>
      sql<RunRow>`SELECT * FROM runs WHERE conversation_id = ${id} ORDER BY first_seq`.pipe(
        Effect.map((rows) => rows.map(runOf)),
        Effect.mapError(toStoreError)
      )

    const list = (opts?: { readonly owner?: string | undefined }) =>
      (opts?.owner === undefined
        ? sql<ConversationRow & { running: number }>`SELECT c.*, EXISTS(SELECT 1 FROM runs r WHERE r.conversation_id = c.id
            AND r.status = 'running') AS running FROM conversations c ORDER BY c.updated_at DESC, c.id`
        : sql<ConversationRow & { running: number }>`SELECT c.*, EXISTS(SELECT 1 FROM runs r WHERE r.conversation_id = c.id
            AND r.status = 'running') AS running FROM conversations c WHERE c.owner = ${opts.owner} ORDER BY c.updated_at DESC, c.id`
      ).pipe(
        Effect.map((rows) =>
          rows.map((r) => ({
            conversationId: r.id,
            ...(r.owner === null ? {} : { owner: r.owner }),
            title: r.title,
            lastSeq: r.next_seq - 1,
            updatedAt: r.updated_at,
            running: r.running === 1,
            ...(r.system === null ? {} : { system: r.system }),
            ...(r.model === null ? {} : { model: r.model })
          }))
        ),
        Effect.mapError(toStoreError)
      )

    /** Deletes the conversation and everything it holds (rows, runs, log) in one transaction. */
    const removeStmts = [
      ...["events", "messages", "runs"].map((table) => prepare(`DELETE FROM ${table} WHERE conversation_id = ?`)),
      prepare("DELETE FROM conversations WHERE id = ?")
    ]
    const removeTx = db.transaction((id: string) => {
      for (const stmt of removeStmts) stmt.run(id)
    })
    const remove = (id: string) => Effect.try({ try: () => removeTx.immediate(id), catch: toStoreError })

    /** Crash recovery: close every run a dead process left `running` (one transaction per run). */
    const recover = (now: number) => {
      const stale = prepare("SELECT * FROM runs WHERE status = 'running' ORDER BY conversation_id, first_seq").all() as Array<RunRow>
      const lastSeq = prepare("SELECT MAX(seq) AS seq FROM events WHERE conversation_id = ?")
      const replyOf = prepare("SELECT * FROM messages WHERE run_id = ? AND role = 'assistant'")
      const interrupt = prepare("UPDATE messages SET status = 'interrupted', interrupted = 1 WHERE id = ?")
      const closeConversation = prepare("UPDATE conversations SET next_seq = ?, updated_at = ? WHERE id = ?")
      const setText = prepare("UPDATE messages SET text = ? WHERE id = ?")
      const draftsOf = prepare(
        "SELECT body FROM events WHERE conversation_id = ? AND run_id = ? AND tag IN ('Draft', 'Rollback') ORDER BY seq"
      ).pluck(true)
      /** The run's visible text from its Drafts (the reply's row is only rewritten per Block). */
      const draftText = (run: RunRow): string => {
        let text = ""
        for (const body of draftsOf.iterate(run.conversation_id, run.id) as Iterable<string>) {
          const e = JSON.parse(body) as ReplyEvent
          if (e._tag === "Rollback") text = ""
          else if (e._tag === "Draft") text = applyDraft(text, e)
        }
        return text
      }
      const closeRun = db.transaction((run: RunRow) => {
        const conv = loadStmt.get(run.conversation_id) as ConversationRow | undefined
        if (conv === undefined) return
        const last = lastSeq.get(run.conversation_id) as { seq: number | null } | undefined
        let seq = Math.max(conv.next_seq, (last?.seq ?? 0) + 1)
        const msg = replyOf.get(run.id) as MessageRow | undefined
        const drafted = draftText(run)
        const text = msg === undefined || drafted.length > msg.text.length ? drafted : msg.text
        const base = { conversationId: run.conversation_id, runId: run.id, at: now }
        const closing: Array<ReplyEvent> = [
          { _tag: "Final", ...base, seq: seq++, text, interrupted: true },
          { _tag: "RunEnded", ...base, seq: seq++, reason: "interrupted" }
        ]
        insertEvents(run.conversation_id, closing)
        if (msg !== undefined) {
          if (text !== msg.text) setText.run(text, msg.id)
          interrupt.run(msg.id)
        }
        const endedRun: Store.RunRecord = { ...runOf(run), status: "interrupted", endedAt: now }
        upsertRun(endedRun)
        closeConversation.run(seq, now, run.conversation_id)
        onRunsEnded(run.conversation_id, [endedRun])
      })
      for (const run of stale) closeRun.immediate(run)
    }
    const now = yield* Clock.currentTimeMillis
    yield* Effect.try({ try: () => recover(now), catch: toStoreError })

    return ConversationStore.of({ load, commit, commitMany, events, history, messages, findClientMessage, runs, list, remove, unanswered })
  })

const storeOn = (filename: string, options: Store.RetentionOptions) =>
  Effect.flatMap(Effect.mapError(open(filename), toStoreError), (handle) => make(handle, options))

/** The store in `<dataDir>/<filename>`, holding the data directory's lock (see `lock.ts`) for its life. */
export const layerSqlite = (options: Store.SqliteOptions): Layer.Layer<ConversationStore, StoreError | DataDirLocked> =>
  Layer.scoped(
    ConversationStore,
    Effect.gen(function* () {
      yield* Effect.try({
        try: () => mkdirSync(options.dataDir, { recursive: true }),
        catch: (e) => new StoreError({ message: `cannot create data directory ${options.dataDir}: ${String(e)}` })
      })
      // Before the database is opened: recovery must never run on a log another process is writing.
      yield* Lock.acquire(options.dataDir)
      return yield* storeOn(join(options.dataDir, options.filename ?? "sluice.db"), options)
    })
  )

export const layerMemory = (options: Store.RetentionOptions): Layer.Layer<ConversationStore, StoreError> =>
  Layer.scoped(ConversationStore, storeOn(":memory:", options))
