/**
 * The `sluice` command tree (@effect/cli): gateway, chat, send, preview, config.
 *
 * `run(argv)` parses and runs; it never fails: it resolves to the process exit code (see
 * `ExitCode`) after printing one clear message on stderr for any failure.
 *
 * @since 0.1.0
 */
import { Args, Command, Options } from "@effect/cli"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { Console, Effect, Exit, HashMap, Logger, LogLevel, Option } from "effect"
import * as ExitCode from "./ExitCode.js"
import * as Argv from "./internal/argv.js"
import * as opts from "./internal/options.js"
import * as PlainConsole from "./internal/plainConsole.js"
import * as Report from "./internal/report.js"

export const version = "0.1.0"

/** Command implementations load on demand, so `sluice --help` does not load the gateway. */
const lazy = {
  config: Effect.promise(() => import("./internal/configCommand.js")),
  preview: Effect.promise(() => import("./internal/previewCommand.js")),
  gateway: Effect.promise(() => import("@sluice/gateway/Gateway")),
  send: Effect.promise(() => import("./internal/sendCommand.js")),
  chat: Effect.promise(() => import("./internal/chatCommand.js"))
}


// ---------------------------------------------------------------------------------------------
// config

const configCheck = Command.make(
  "check",
  {
    file: Args.file({ name: "FILE" }).pipe(
      Args.withDescription("Config file (default: $SLUICE_CONFIG, else ./sluice.json)"),
      Args.optional
    ),
    config: opts.configFile
  },
  (args) => Effect.flatMap(lazy.config, (m) => m.check(args))
).pipe(Command.withDescription("Validate a configuration file; errors name the key path and what was expected"))

const configShow = Command.make(
  "show",
  {
    config: opts.configFile,
    channel: Options.text("channel").pipe(
      Options.withDescription("Channel id (telegram, discord, slack, …); omitted: the settings web and terminal clients get"),
      Options.optional
    ),
    agent: opts.agent,
    account: opts.account,
    json: Options.boolean("json").pipe(Options.withDescription("Print JSON instead of a table"))
  },
  (args) => Effect.flatMap(lazy.config, (m) => m.show({ ...args, channel: Option.getOrUndefined(args.channel) }))
).pipe(Command.withDescription("Print the effective streaming settings (of a channel, agent and account when given)"))

const config = Command.make("config").pipe(
  Command.withDescription("Check a configuration file, show effective settings"),
  Command.withSubcommands([configCheck, configShow])
)

// ---------------------------------------------------------------------------------------------
// preview

const preview = Command.make(
  "preview",
  {
    config: opts.configFile,
    channel: opts.channel,
    agent: opts.agent,
    account: opts.account,
    json: Options.boolean("json").pipe(Options.withDescription("One JSON object per delivered message")),
    file: Args.text({ name: "FILE|-" }).pipe(
      Args.withDescription("Markdown reply to preview; '-' reads stdin; omitted: the offline model answers --prompt"),
      Args.optional
    ),
    prompt: Options.text("prompt").pipe(
      Options.withDescription("Prompt for the offline model when no FILE is given"),
      Options.withDefault("Explain with an example: how do I design a retry policy? Include code.")
    ),
    summary: Options.boolean("summary").pipe(Options.withDescription("Only lengths, delays and fences, not the text")),
    seed: Options.integer("seed").pipe(
      Options.withDescription("Seed for the human delays drawn and the offline model (same seed, same preview)"),
      Options.withDefault(0)
    )
  },
  (args) => Effect.flatMap(lazy.preview, (m) => m.preview(args))
).pipe(Command.withDescription("Show how a reply would be delivered on a channel: blocks, lengths, delays, fence repairs"))

// ---------------------------------------------------------------------------------------------
// gateway

const gateway = Command.make(
  "gateway",
  {
    config: opts.configFile,
    host: Options.text("host").pipe(
      Options.withDescription("Listen address. Default: $SLUICE_HOST, the config's gateway.host, else 127.0.0.1 (another address needs a token)"),
      Options.optional
    ),
    port: Options.integer("port").pipe(
      Options.withAlias("p"),
      Options.withDescription("Listen port, 0–65535 (0 picks a free one). Default: $SLUICE_PORT, the config's gateway.port, else 8787"),
      Options.optional
    ),
    dataDir: opts.dataDir,
    cluster: Options.boolean("cluster").pipe(
      Options.withDescription("Run as one runner of a cluster: conversations shared by every gateway on the same PostgreSQL database (docs/cluster.md)")
    ),
    databaseUrl: Options.redacted("database-url").pipe(
      Options.withDescription("The cluster's PostgreSQL database, postgres://user:password@host:port/database. Default: $SLUICE_DATABASE_URL, the config's gateway.cluster.databaseUrl"),
      Options.optional
    ),
    runnerHost: Options.text("runner-host").pipe(
      Options.withDescription("Address the other runners reach this one at. Default: $SLUICE_RUNNER_HOST, the config's gateway.cluster.runnerHost, else 127.0.0.1"),
      Options.optional
    ),
    runnerPort: Options.integer("runner-port").pipe(
      Options.withDescription("Port for the other runners, 1–65535. Default: $SLUICE_RUNNER_PORT, the config's gateway.cluster.runnerPort, else 34431"),
      Options.optional
    )
  },
  (args) =>
    Effect.flatMap(lazy.gateway, (Gateway) => {
      const clustered = args.cluster || Option.isSome(args.databaseUrl) || Option.isSome(args.runnerPort) || Option.isSome(args.runnerHost)
      return Gateway.run({
        configFile: Option.getOrUndefined(args.config),
        host: Option.getOrUndefined(args.host),
        port: Option.getOrUndefined(args.port),
        dataDir: Option.getOrUndefined(args.dataDir),
        ...(clustered
          ? {
              cluster: {
                databaseUrl: Option.getOrUndefined(args.databaseUrl),
                runnerHost: Option.getOrUndefined(args.runnerHost),
                runnerPort: Option.getOrUndefined(args.runnerPort)
              }
            }
          : {})
      })
    })
).pipe(
  Command.withDescription(
    "Run the gateway (HTTP, WebSocket, SSE, channels, web chat). Logs go to stderr, one line per request; --log-format json (or SLUICE_LOG_FORMAT=json) writes JSON lines"
  )
)

// ---------------------------------------------------------------------------------------------
// send / chat

const send = Command.make(
  "send",
  {
    text: Args.text({ name: "TEXT" }).pipe(Args.withDescription("The message; '-' reads it from stdin")),
    conversation: opts.conversation,
    json: Options.boolean("json").pipe(Options.withDescription("Print the reply events as NDJSON")),
    agent: opts.agent,
    config: opts.configFile,
    dataDir: opts.dataDir,
    remote: opts.remote,
    token: opts.token
  },
  (args) => Effect.flatMap(lazy.send, (m) => m.send(args))
).pipe(Command.withDescription("Send one message and print the reply (for scripts)"))

const chat = Command.make(
  "chat",
  {
    conversation: opts.conversation,
    agent: opts.agent,
    config: opts.configFile,
    dataDir: opts.dataDir,
    remote: opts.remote,
    token: opts.token
  },
  (args) => Effect.flatMap(lazy.chat, (m) => m.chat(args))
).pipe(Command.withDescription("Chat in the terminal. Ctrl-C stops the reply, twice quits"))

// ---------------------------------------------------------------------------------------------

export const command = Command.make("sluice").pipe(
  Command.withDescription("Sluice: a streaming gateway for AI conversations"),
  Command.withSubcommands([gateway, chat, send, preview, config])
)

const cli = Command.run(command, { name: "sluice", version })

/** Removes `--log-format X` / `--log-format=X` from the arguments (a global option of ours, not @effect/cli's). */
const takeLogFormat = (args: ReadonlyArray<string>, env: string | undefined) => {
  const argv: Array<string> = []
  let logFormat = env === undefined || env === "" ? "pretty" : env
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!
    if (a === "--log-format") logFormat = args[++i] ?? ""
    else if (a.startsWith("--log-format=")) logFormat = a.slice("--log-format=".length)
    else argv.push(a)
  }
  return { argv, logFormat }
}

/** The options each leaf command takes, from its own help (so they can never drift from the definitions). */
const leaves: Record<string, Command.Command<string, never, unknown, unknown>> = {
  gateway: gateway as never,
  send: send as never,
  chat: chat as never,
  preview: preview as never,
  "config check": configCheck as never,
  "config show": configShow as never
}

const isLogLevelArg = (a: string) => a === "--log-level" || a.startsWith("--log-level=")

/**
 * Runs the CLI on `args` (the arguments after the executable, e.g. `process.argv.slice(2)`).
 * Resolves to the exit code.
 */
export const run = (args: ReadonlyArray<string>) => {
  // `sluice` alone prints the help, `sluice config` alone its own
  // `-` (stdin) is the only positional of `send` / `preview`: given before options, @effect/cli would
  // stop reading options at it, so it goes last.
  const given =
    args.length === 0 ? ["--help"] : args.length === 1 && args[0] === "config" ? ["config", "--help"] : args.includes("-") ? [...args.filter((a) => a !== "-"), "-"] : [...args]
  // `--log-format json|pretty` (or SLUICE_LOG_FORMAT): one JSON object per log line, for log shippers.
  const { argv, logFormat } = takeLogFormat(given, process.env.SLUICE_LOG_FORMAT)
  if (logFormat !== "json" && logFormat !== "pretty") {
    return Console.error(`sluice: --log-format must be "json" or "pretty", got ${JSON.stringify(logFormat)}`).pipe(Effect.as(ExitCode.Usage))
  }
  // Mistakes @effect/cli would answer vaguely (or with an empty line): named here, one line each.
  const mistake = Argv.check(argv, leaves)
  if (mistake !== undefined) return Console.error(`sluice: ${mistake}`).pipe(Effect.as(ExitCode.Usage))
  // Pretty lines stay one line each: the message says it all, the annotations (for JSON) are left out.
  const logger =
    logFormat === "json"
      ? Logger.withConsoleError(Logger.jsonLogger)
      : Logger.mapInputOptions(Logger.prettyLogger({ stderr: true, colors: false }), (o) => ({ ...o, annotations: HashMap.empty() }))
  // Logs go to stderr; quiet (warnings) by default except for the long-running gateway.
  const defaultLevel = argv.find((a) => !a.startsWith("-")) === "gateway" ? LogLevel.Info : LogLevel.Warning
  const program = cli(["node", "sluice", ...argv])
  const leveled = argv.some(isLogLevelArg) ? program : Logger.withMinimumLogLevel(program, defaultLevel)
  return leveled.pipe(
    PlainConsole.withPlainConsole,
    Effect.provide(Logger.replace(Logger.defaultLogger, logger)),
    Effect.exit,
    Effect.flatMap((exit) => {
      if (Exit.isSuccess(exit)) return Effect.succeed(ExitCode.Ok)
      const report = Report.fromCause(exit.cause)
      return report.message === undefined
        ? Effect.succeed(report.code)
        : Console.error(`sluice: ${report.message}`).pipe(Effect.as(report.code))
    }),
    PlainConsole.withPlainConsole
  )
}

/** `run` with Node's file system, terminal and process services, as the binary runs it. */
export const runNode = (args: ReadonlyArray<string>) => run(args).pipe(Effect.provide(NodeContext.layer))
