import * as SqlClient from "@effect/sql/SqlClient"
import { Effect } from "effect"

/**
 * Schema of the conversation store, one entry per migration (`NNNN_name`, applied in order).
 * Applied by `migrate` (below) rather than `SqliteMigrator`, which needs `FileSystem | Path |
 * CommandExecutor` and pulls in the whole `@effect/platform-node` barrel (seconds of start-up).
 */
export const migrations = {
  "0001_conversations": Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    yield* sql`CREATE TABLE conversations (
      id TEXT PRIMARY KEY,
      owner TEXT,
      title TEXT NOT NULL DEFAULT '',
      next_seq INTEGER NOT NULL,
      queue_mode TEXT NOT NULL DEFAULT 'followup',
      settings TEXT,
      created_at INTEGER NOT NULL,
      updated_at INTEGER NOT NULL,
      pruned_before INTEGER NOT NULL DEFAULT 1
    )`
    yield* sql`CREATE INDEX conversations_owner ON conversations (owner, updated_at)`
    yield* sql`CREATE TABLE messages (
      id TEXT PRIMARY KEY,
      conversation_id TEXT NOT NULL,
      seq INTEGER NOT NULL,
      role TEXT NOT NULL,
      text TEXT NOT NULL,
      run_id TEXT,
      status TEXT NOT NULL,
      interrupted INTEGER NOT NULL DEFAULT 0,
      at INTEGER NOT NULL
    )`
    yield* sql`CREATE INDEX messages_conversation ON messages (conversation_id, seq)`
    yield* sql`CREATE INDEX messages_run ON messages (run_id)`
    yield* sql`CREATE TABLE runs (
      id TEXT PRIMARY KEY,
      conversation_id TEXT NOT NULL,
      first_seq INTEGER NOT NULL,
      status TEXT NOT NULL,
      started_at INTEGER NOT NULL,
      ended_at INTEGER
    )`
    yield* sql`CREATE INDEX runs_conversation ON runs (conversation_id, first_seq)`
    yield* sql`CREATE INDEX runs_running ON runs (status) WHERE status = 'running'`
    yield* sql`CREATE TABLE events (
      conversation_id TEXT NOT NULL,
      seq INTEGER NOT NULL,
      run_id TEXT NOT NULL,
      tag TEXT NOT NULL,
      body TEXT NOT NULL,
      PRIMARY KEY (conversation_id, seq)
    ) WITHOUT ROWID`
  }),
  /**
   * The log as an append-only rowid table plus a unique (conversation_id, seq) index. Keyed by
   * (conversation_id, seq) itself, a group commit of n conversations dirtied ~n leaf pages of
   * ~400-byte bodies, each rewritten whole into the WAL (measured 36 µs CPU/event at 1,000
   * conversations per transaction); appended by rowid the bodies share a few pages and only the
   * small index entries scatter (13 µs/event).
   */
  "0002_events_append": Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    yield* sql`CREATE TABLE events_new (
      id INTEGER PRIMARY KEY,
      conversation_id TEXT NOT NULL,
      seq INTEGER NOT NULL,
      run_id TEXT NOT NULL,
      tag TEXT NOT NULL,
      body TEXT NOT NULL
    )`
    yield* sql`INSERT INTO events_new (conversation_id, seq, run_id, tag, body)
      SELECT conversation_id, seq, run_id, tag, body FROM events ORDER BY conversation_id, seq`
    yield* sql`DROP TABLE events`
    yield* sql`ALTER TABLE events_new RENAME TO events`
    yield* sql`CREATE UNIQUE INDEX events_conversation_seq ON events (conversation_id, seq)`
  }),
  /** Client idempotency keys (`SendOptions.clientMessageId`): at most one message per key and conversation. */
  "0003_client_message_id": Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    yield* sql`ALTER TABLE messages ADD COLUMN client_message_id TEXT`
    yield* sql`CREATE UNIQUE INDEX messages_client_id ON messages (conversation_id, client_message_id)
      WHERE client_message_id IS NOT NULL`
  }),
  /** Per-conversation system prompt and model; messages superseded by an edit or a regenerate. */
  "0004_manage": Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    yield* sql`ALTER TABLE conversations ADD COLUMN system TEXT`
    yield* sql`ALTER TABLE conversations ADD COLUMN model TEXT`
    yield* sql`ALTER TABLE messages ADD COLUMN superseded INTEGER NOT NULL DEFAULT 0`
  }),
  /** A failed reply keeps why it failed (JSON `{ tag, message }`). */
  "0005_message_error": Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    yield* sql`ALTER TABLE messages ADD COLUMN error TEXT`
  }),
  /**
   * A user message sent with a turn request (`SendOptions.request`: its caller waits on that one
   * run, as the OpenAI endpoint's does): after a restart such a message is not answered again.
   */
  "0006_message_caller_bound": Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    yield* sql`ALTER TABLE messages ADD COLUMN caller_bound INTEGER NOT NULL DEFAULT 0`
  })
}

/** Applies every migration newer than `PRAGMA user_version`, each in its own transaction. */
export const migrate = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const [row] = yield* sql<{ user_version: number }>`PRAGMA user_version`
  const current = row?.user_version ?? 0
  const entries = Object.entries(migrations).sort(([a], [b]) => a.localeCompare(b))
  for (const [name, run] of entries) {
    const id = Number.parseInt(name.slice(0, 4), 10)
    if (id <= current) continue
    yield* sql.withTransaction(Effect.zipRight(run, sql.unsafe(`PRAGMA user_version = ${id}`)))
  }
})
