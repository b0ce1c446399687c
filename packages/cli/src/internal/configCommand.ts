/** `sluice config check [FILE]` and `sluice config show [--channel NAME] [--agent ID] [--account ID]`. */
import type { FileSystem } from "@effect/platform"
import * as Config from "@sluice/core/Config"
import { Console, Effect, Option } from "effect"
import * as Preview from "../Preview.js"
import { UsageError } from "./errors.js"
import * as ConfigFile from "./configFile.js"

export interface CheckArgs {
  readonly file: Option.Option<string>
  readonly config: Option.Option<string>
}

export const check = (args: CheckArgs): Effect.Effect<void, Config.ConfigError | UsageError, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const { config, file } = yield* ConfigFile.load(Option.orElse(args.file, () => args.config))
    if (file === undefined) {
      return yield* new UsageError({
        message: `nothing to check: give FILE, --config or $SLUICE_CONFIG (no ./${Config.defaultFile} here)`
      })
    }
    const agents = config.agents?.list?.length ?? 0
    const channels = Object.keys(config.channels ?? {})
    const findings = Config.lint(config)
    for (const f of findings) if (f.level === "warning") yield* Console.error(`sluice: warning: ${f.path}: ${f.message}`)
    const errors = findings.filter((f) => f.level === "error")
    if (errors.length > 0) {
      return yield* Effect.fail(
        Config.ConfigError.fromIssues(
          errors.map((f) => ({ path: f.path, message: f.message })),
          file
        )
      )
    }
    yield* Console.log(
      `${file}: valid (${agents} agent${agents === 1 ? "" : "s"}; channels: ${channels.length === 0 ? "none" : channels.join(", ")})` +
        (findings.length > 0 ? ` with ${findings.length} warning${findings.length === 1 ? "" : "s"}` : "")
    )
  })

export interface ShowArgs {
  readonly config: Option.Option<string>
  readonly channel: string | undefined
  readonly agent: Option.Option<string>
  readonly account: Option.Option<string>
  readonly json: boolean
}

export const show = (args: ShowArgs): Effect.Effect<void, Config.ConfigError, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const { config, file } = yield* ConfigFile.load(args.config)
    const target = {
      channel: args.channel,
      agentId: Option.getOrUndefined(args.agent),
      accountId: Option.getOrUndefined(args.account)
    }
    for (const warning of warnings(config, target)) yield* Console.error(`sluice: warning: ${warning}`)
    const settings = Config.resolve(config, target)
    if (args.json) {
      yield* Console.log(JSON.stringify({ file: file ?? null, target, settings }, null, 2))
      return
    }
    yield* Console.log(Preview.formatTarget(target, file))
    yield* Console.log(Preview.formatSettings(settings))
  })

/** Things that resolve fine but are probably not what the user meant. */
export const warnings = (config: Config.Config, target: Config.Target): ReadonlyArray<string> => {
  const out: Array<string> = []
  if (target.agentId !== undefined && !config.agents?.list?.some((a) => a.id === target.agentId)) {
    out.push(`agent "${target.agentId}" is not in agents.list; the agent defaults apply`)
  }
  const channels = (config.channels ?? {}) as Record<string, { readonly accounts?: Record<string, unknown> } | undefined>
  if (target.channel !== undefined && Config.channelDefaults[target.channel] === undefined && channels[target.channel] === undefined) {
    out.push(`channel "${target.channel}" is neither built in nor configured; generic limits apply`)
  }
  if (target.accountId !== undefined && target.channel !== undefined && channels[target.channel]?.accounts?.[target.accountId] === undefined) {
    out.push(`account "${target.accountId}" is not configured under channels.${target.channel}.accounts`)
  }
  return out
}
