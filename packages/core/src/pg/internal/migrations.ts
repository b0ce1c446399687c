/**
 * Schema of the PostgreSQL conversation store: the SQLite store's tables (same columns, so the
 * row mapping is shared), prefixed `sluice_` so they can live beside the cluster's own tables in
 * one database. Several runners start at once against one database: migrations run under a
 * transaction-scoped advisory lock, so exactly one applies each.
 *
 * @internal
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import { Effect } from "effect"

const statements: ReadonlyArray<readonly [version: number, sql: ReadonlyArray<string>]> = [
  [
    1,
    [
      `CREATE TABLE sluice_conversations (
        id TEXT PRIMARY KEY,
        owner TEXT,
        title TEXT NOT NULL DEFAULT '',
        next_seq BIGINT NOT NULL,
        queue_mode TEXT NOT NULL DEFAULT 'followup',
        settings TEXT,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        pruned_before BIGINT NOT NULL DEFAULT 1,
        system TEXT,
        model TEXT
      )`,
      "CREATE INDEX sluice_conversations_owner ON sluice_conversations (owner, updated_at)",
      `CREATE TABLE sluice_messages (
        id TEXT PRIMARY KEY,
        conversation_id TEXT NOT NULL,
        seq BIGINT NOT NULL,
        role TEXT NOT NULL,
        text TEXT NOT NULL,
        run_id TEXT,
        status TEXT NOT NULL,
        interrupted SMALLINT NOT NULL DEFAULT 0,
        at BIGINT NOT NULL,
        client_message_id TEXT,
        superseded SMALLINT NOT NULL DEFAULT 0,
        error TEXT,
        caller_bound SMALLINT NOT NULL DEFAULT 0
      )`,
      "CREATE INDEX sluice_messages_conversation ON sluice_messages (conversation_id, seq)",
      "CREATE INDEX sluice_messages_run ON sluice_messages (run_id)",
      `CREATE UNIQUE INDEX sluice_messages_client_id ON sluice_messages (conversation_id, client_message_id)
        WHERE client_message_id IS NOT NULL`,
      `CREATE TABLE sluice_runs (
        id TEXT PRIMARY KEY,
        conversation_id TEXT NOT NULL,
        first_seq BIGINT NOT NULL,
        status TEXT NOT NULL,
        started_at BIGINT NOT NULL,
        ended_at BIGINT
      )`,
      "CREATE INDEX sluice_runs_conversation ON sluice_runs (conversation_id, first_seq)",
      "CREATE INDEX sluice_runs_running ON sluice_runs (conversation_id) WHERE status = 'running'",
      `CREATE TABLE sluice_events (
        id BIGSERIAL PRIMARY KEY,
        conversation_id TEXT NOT NULL,
        seq BIGINT NOT NULL,
        run_id TEXT NOT NULL,
        tag TEXT NOT NULL,
        body TEXT NOT NULL
      )`,
      "CREATE UNIQUE INDEX sluice_events_conversation_seq ON sluice_events (conversation_id, seq)"
    ]
  ]
]

/** Applies every version newer than the one recorded in `sluice_schema`, under one advisory lock. */
export const migrate = (sql: SqlClient.SqlClient) =>
  sql.withTransaction(
    Effect.gen(function* () {
      yield* sql`SELECT pg_advisory_xact_lock(hashtext('sluice_schema'))`
      yield* sql`CREATE TABLE IF NOT EXISTS sluice_schema (version INTEGER NOT NULL)`
      const [row] = yield* sql<{ version: number | null }>`SELECT MAX(version) AS version FROM sluice_schema`
      const current = row?.version ?? 0
      for (const [version, list] of statements) {
        if (version <= current) continue
        for (const text of list) yield* sql.unsafe(text)
        yield* sql`INSERT INTO sluice_schema (version) VALUES (${version})`
      }
    })
  )
