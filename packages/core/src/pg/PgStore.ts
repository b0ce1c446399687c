/**
 * The PostgreSQL driver of `ConversationStore` (`@effect/sql-pg`): the store several gateway
 * processes share in a cluster (`@sluice/core/cluster/ClusterConversations`). Same tables and
 * semantics as the SQLite store (prefixed `sluice_`, so they can share a database with the
 * cluster's own), with crash recovery per conversation (`ConversationStore.recover`) instead of
 * at open.
 *
 * @since 0.2.0
 */
import type { Layer } from "effect"
import type { StoreError } from "../ConversationError.js"
import type { ConversationStore } from "../ConversationStore.js"
import * as internal from "./internal/store.js"

export type PgOptions = internal.PgOptions

/** The store on the database at `url` (tables created or migrated on first use). */
export const layer = (options: PgOptions): Layer.Layer<ConversationStore, StoreError> => internal.layer(options)
