/** Opens the session send/chat talk to: the gateway with --remote, else the runtime in this process. */
import type { FileSystem } from "@effect/platform"
import { Console, Effect, Option, type Redacted, type Scope } from "effect"
import * as ConfigFile from "./configFile.js"
import type { Session, SessionError } from "./session.js"

export interface SessionArgs {
  readonly conversation: string
  readonly agent: Option.Option<string>
  readonly config: Option.Option<string>
  readonly dataDir: Option.Option<string>
  readonly remote: Option.Option<string>
  readonly token: Option.Option<Redacted.Redacted>
}

export const open = (args: SessionArgs): Effect.Effect<Session, SessionError, Scope.Scope | FileSystem.FileSystem> =>
  Option.match(args.remote, {
    onSome: (url) =>
      Effect.gen(function* () {
        if (Option.isSome(args.agent)) {
          yield* Console.error("sluice: warning: --agent is ignored with --remote (the gateway's settings apply)")
        }
        const Remote = yield* Effect.promise(() => import("./remote.js"))
        return yield* Remote.make({ url, token: args.token, conversationId: args.conversation })
      }),
    onNone: () =>
      Effect.gen(function* () {
        const { config } = yield* ConfigFile.load(args.config)
        const Embedded = yield* Effect.promise(() => import("./embedded.js"))
        return yield* Embedded.make({
          config,
          dataDir: Option.getOrUndefined(args.dataDir),
          conversationId: args.conversation,
          agentId: Option.getOrUndefined(args.agent)
        })
      })
  })
