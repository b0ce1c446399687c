/**
 * The embedded SQLite driver of `ConversationStore` (better-sqlite3, WAL, `synchronous=NORMAL`),
 * and the conversation runtime on it.
 *
 * - `layer({ dataDir })` — the store in `<dataDir>/sluice.db` (directory created, migrations,
 *   crash recovery).
 * - `layerMemory()` — the same code on an in-memory database (tests, demos).
 * - `layerConversations({ dataDir, … })` / `layerConversationsMemory()` — `Conversations` on it,
 *   exposing the store too.
 *
 * @since 0.1.0
 */
import { Layer } from "effect"
import type { DataDirLocked, StoreError } from "../ConversationError.js"
import * as Conversations from "../Conversations.js"
import type { ConversationStore, RetentionOptions, SqliteOptions } from "../ConversationStore.js"
import type { Model } from "../Model.js"
import * as internal from "./internal/store.js"

export type { RetentionOptions, SqliteOptions } from "../ConversationStore.js"

/** SQLite in a file `<dataDir>/<filename>` (directory created), WAL, migrations, crash recovery. */
export const layer = (options: SqliteOptions): Layer.Layer<ConversationStore, StoreError | DataDirLocked> => internal.layerSqlite(options)

/** The same store on an in-memory SQLite database (one per layer build). */
export const layerMemory = (options: RetentionOptions = {}): Layer.Layer<ConversationStore, StoreError> =>
  internal.layerMemory(options)

/** The conversation runtime with its SQLite store under `dataDir`. Also provides the store. */
export const layerConversations = (
  options: Conversations.Options & SqliteOptions
): Layer.Layer<Conversations.Conversations | ConversationStore, StoreError | DataDirLocked, Model> =>
  Conversations.layer(options).pipe(Layer.provideMerge(layer(options)))

/** The conversation runtime on an in-memory store (tests, demos). Also provides the store. */
export const layerConversationsMemory = (
  options: Conversations.Options & RetentionOptions = {}
): Layer.Layer<Conversations.Conversations | ConversationStore, StoreError, Model> =>
  Conversations.layer(options).pipe(Layer.provideMerge(layerMemory(options)))
