/** The Conversations runtime in this process, on the gateway's data directory (SQLite). */
import * as Auth from "@sluice/gateway/Auth"
import * as Discovery from "@sluice/gateway/Discovery"
import * as Gateway from "@sluice/gateway/Gateway"
import * as Config from "@sluice/core/Config"
import * as Conversations from "@sluice/core/Conversations"
import * as Model from "@sluice/core/Model"
import * as Runtime from "@sluice/core/Runtime"
import { Context, Effect, Layer, type Scope } from "effect"
import type { Session } from "./session.js"

export interface EmbeddedOptions {
  readonly config: Config.Config
  readonly dataDir: string | undefined
  readonly conversationId: string
  readonly agentId: string | undefined
}

/** Builds the runtime (closed with the scope: running replies end as interrupted) and a Session on it. */
export const make = (o: EmbeddedOptions): Effect.Effect<Session, { readonly _tag: string; readonly message: string }, Scope.Scope> =>
  Effect.gen(function* () {
    const dataDir = Gateway.resolveRunOptions({ dataDir: o.dataDir }, o.config).dataDir
    const context = yield* Layer.build(
      Runtime.layer({ config: o.config, dataDir })
    ).pipe(
      Effect.mapError((e) => {
        if (e._tag !== "DataDirLocked") return { _tag: e._tag, message: "message" in e ? String(e.message) : String(e) }
        // A running gateway owns the directory: say where it is, so the same command works with --remote.
        const running = Discovery.runningOn(dataDir)
        return {
          _tag: e._tag,
          message:
            running !== undefined && running.pid === e.pid
              ? `a gateway (pid ${e.pid}) is running on the data directory ${dataDir} and serves ${running.url}; ` +
                `run the same command with --remote ${running.url} (an embedded command cannot share the directory with it)`
              : e.message
        }
      })
    )
    const conversations = Context.get(context, Conversations.Conversations)
    const model = Context.get(context, Model.Model)
    const settings = Config.resolve(o.config, { agentId: o.agentId })
    const id = o.conversationId
    return {
      model: model.name,
      offline: /offline/i.test(model.name),
      conversationId: id,
      send: (text) =>
        conversations.send(id, text, {
          owner: Auth.LOCAL,
          settings,
          ...(o.agentId !== undefined ? { agentId: o.agentId } : {})
        }),
      stop: conversations.stop(id),
      history: conversations.history(id),
      events: (fromSeq) => conversations.subscribe(id, { fromSeq })
    } satisfies Session
  })
