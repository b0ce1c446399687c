/**
 * A gateway in its own process for the SIGTERM test: slow offline model, SQLite in argv[2].
 * Prints one JSON line `{ url, wsUrl }` once listening.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Model } from "@sluice/core"
import { Console, Effect, Layer, Logger, LogLevel } from "effect"
import { Gateway } from "../../src/index.js"
import * as SqliteStore from "@sluice/core/sqlite/SqliteStore"

const dataDir = process.argv[2]!
const graceMs = Number(process.argv[3] ?? "1000")

const stack = Gateway.layer({ port: 0, graceMs }).pipe(
  Layer.provideMerge(SqliteStore.layerConversations({ dataDir })),
  Layer.provideMerge(Model.layerScripted({ tokensPerSecond: 20, words: 400 }))
)

NodeRuntime.runMain(
  Layer.launch(
    Layer.effectDiscard(
      Effect.flatMap(Gateway.Gateway, (info) => Console.log(JSON.stringify({ url: info.url, wsUrl: info.wsUrl })))
    ).pipe(Layer.provideMerge(stack))
  ).pipe(Logger.withMinimumLogLevel(LogLevel.Debug))
)
