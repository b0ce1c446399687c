/**
 * The embedded runtime from a configuration: Conversations on SQLite under a data directory, and
 * the model the `model` section asks for (Claude when `ANTHROPIC_API_KEY` is set, the offline demo
 * model otherwise, unless `model.provider` says). The gateway and the CLI's embedded mode both run
 * on this, so a config file means the same thing everywhere.
 *
 * @since 0.1.0
 */
import type { ConfigError } from "effect/ConfigError"
import { Effect, Layer, type Redacted } from "effect"
import * as Config from "./Config.js"
import * as AnthropicModel from "./anthropic/AnthropicModel.js"
import type { ClusterStatus } from "./ClusterStatus.js"
import type { DataDirLocked, StoreError } from "./ConversationError.js"
import type * as Conversations from "./Conversations.js"
import type * as ConversationStore from "./ConversationStore.js"
import type * as Model from "./Model.js"
import * as SqliteStore from "./sqlite/SqliteStore.js"

export interface Options {
  readonly config: Config.Config
  /** Where the SQLite file lives (created if missing). */
  readonly dataDir: string
}

/** Options for `SqliteStore.layerConversations` from the `conversations` and `reasoning` sections. */
export const conversationsOptions = (config: Config.Config): Conversations.Options => {
  const c = Config.conversationsOptions(config)
  return { ...c, reasoning: Config.reasoningOptions(config) }
}

export const layer = (
  options: Options
): Layer.Layer<
  Conversations.Conversations | ConversationStore.ConversationStore | Model.Model,
  StoreError | DataDirLocked | ConfigError
> =>
  SqliteStore.layerConversations({ ...conversationsOptions(options.config), dataDir: options.dataDir }).pipe(
    Layer.provideMerge(AnthropicModel.layerFromEnv(Config.modelOptions(options.config)))
  )

export interface ClusterOptions {
  readonly config: Config.Config
  /** The PostgreSQL database the runners share. */
  readonly databaseUrl: Redacted.Redacted<string>
  /** Where the other runners reach this one (default 127.0.0.1). */
  readonly runnerHost?: string | undefined
  readonly runnerPort: number
  readonly listenHost?: string | undefined
}

/**
 * The same, as one runner of a cluster: conversations sharded over every process on
 * `databaseUrl` (`@sluice/core/cluster/ClusterConversations`). The cluster's modules load only
 * when this layer is built.
 */
export const layerCluster = (
  options: ClusterOptions
): Layer.Layer<
  Conversations.Conversations | ConversationStore.ConversationStore | Model.Model | ClusterStatus,
  StoreError | ConfigError
> =>
  Layer.unwrapEffect(
    Effect.map(Effect.promise(() => import("./cluster/ClusterConversations.js")), (Cluster) =>
      Cluster.layer({
        ...conversationsOptions(options.config),
        databaseUrl: options.databaseUrl,
        runnerHost: options.runnerHost,
        runnerPort: options.runnerPort,
        listenHost: options.listenHost
      })
    )
  ).pipe(Layer.provideMerge(AnthropicModel.layerFromEnv(Config.modelOptions(options.config))))
