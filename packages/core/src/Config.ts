/**
 * The configuration file, and the effective streaming settings it gives each delivery target.
 *
 * Keys are the seed documents' own: `agents.defaults.{blockStreamingDefault, blockStreamingBreak,
 * blockStreamingChunk, blockStreamingCoalesce, humanDelay}`, `agents.list[]` (an `id` plus the same
 * keys, per agent), `channels.<id>.{blockStreaming, blockStreamingCoalesce, textChunkLimit, chunkMode,
 * maxLinesPerMessage, accounts.<accountId>.{same keys}}`, Telegram's `streamMode` and `draftChunk`.
 * `gateway`, `model`, `reasoning` and `conversations` are sections their modules extend.
 *
 * Every section is closed: `decode` reports an unknown key (a typo) as an error at its path, and a
 * bad value as `path: expected …, got …`, all of them at once.
 *
 * `resolve(config, { agentId, channel, accountId })` applies the reference implementation's rules
 * (openclaw-behaviour.md §2–§4):
 * - precedence, field by field: account > channel > agent (`agents.list[]`) > `agents.defaults` >
 *   built-in defaults (an unknown `agentId` simply has no per-agent overrides);
 * - chunk 800/1200 `paragraph`, `maxChars` clamped to the channel's `textChunkLimit` (4000 unless the
 *   channel says otherwise; Discord 2000 and 17 lines, SMS 1500, Zalo 2000), `minChars` ≤ `maxChars`;
 * - coalesce idle 1000 ms; `minChars` defaults to the chunk minimum, 1500 on Discord/Slack/Signal/
 *   Google Chat; `maxChars` = min(configured ?? limit, limit, chunk max); `minChars` ≤ `maxChars`
 *   (so Discord's effective coalescer is 1200/1200/1000); joiner from the break preference;
 * - `chunkMode: "newline"` → the chunker flushes on paragraphs;
 * - humanDelay `off` by default, `natural` = 800–2500 ms, `custom` = `minMs ?? 800`–`maxMs ?? 2500`.
 *
 * Block streaming on/off (our decision, following the seed): an explicit `channels.<id>.blockStreaming`
 * (or the account's) always wins. Otherwise a target without a channel — a web page, SSE or terminal
 * client — streams blocks unless `blockStreamingDefault` is `"off"` (the reason those clients exist is
 * to watch the reply arrive); Telegram follows `blockStreamingDefault` (default `"off"`, it has draft
 * streaming instead); every other channel is off unless `blockStreaming: true`. With block streaming
 * off the break is `message_end` and only the final reply is delivered.
 * Telegram's draft streaming (`streamMode`, default `"partial"`, and `draftChunk`, default 200/800
 * paragraph clamped to the limit) is resolved alongside; when a draft preview is actually used for a
 * reply, the Telegram channel skips block delivery for it (the seed: no double streaming).
 *
 * `load(path)` reads JSON only (JSON5/YAML are not supported: no parser in the dependency set, and
 * JSON is what the CLI writes).
 *
 * @since 0.1.0
 */
import { FileSystem } from "@effect/platform"
import { Effect, Either, ParseResult, Schema } from "effect"
import { resolve as resolveInternal, type Target } from "./internal/configResolve.js"
import * as Lint from "./internal/configLint.js"
import * as runtime from "./internal/configRuntime.js"
import * as S from "./internal/configSchema.js"
import type { StreamingSettings } from "./StreamingSettings.js"

/** The whole configuration file. */
export const Config = S.Config
export type Config = S.Config

/** Sections, for modules that extend or read them. */
export const Agents = S.Agents
export const AgentDefaults = S.AgentDefaults
export const AgentEntry = S.AgentEntry
export const Channels = S.Channels
export const Gateway = S.Gateway
export type Agents = S.Agents
export type AgentEntry = S.AgentEntry
export type Channels = S.Channels

/** Built-in per-channel limits (text limit, coalesce minimum, line cap). */
export { channelDefaults, type ChannelDefaults } from "./internal/configResolve.js"

export const ConfigIssue = Schema.Struct({
  /** Dotted path of the bad key (`agents.list[0].humanDelay.mode`); "" for the whole file. */
  path: Schema.String,
  message: Schema.String
})
export type ConfigIssue = typeof ConfigIssue.Type

export class ConfigError extends Schema.TaggedError<ConfigError>()("ConfigError", {
  /** Human-readable summary: one line per issue. */
  message: Schema.String,
  issues: Schema.Array(ConfigIssue),
  /** The file, when the configuration came from one. */
  file: Schema.optional(Schema.String)
}) {
  static fromIssues(issues: ReadonlyArray<ConfigIssue>, file?: string): ConfigError {
    const where = file === undefined ? "configuration" : file
    const lines = issues.map((i) => (i.path === "" ? i.message : `${i.path}: ${i.message}`))
    return new ConfigError({
      message: `invalid ${where}:\n  ${lines.join("\n  ")}`,
      issues,
      ...(file !== undefined ? { file } : {})
    })
  }
}

const identifier = /^[A-Za-z_$][A-Za-z0-9_$]*$/

/** `["agents", "list", 0, "id"]` → `agents.list[0].id`; odd keys are quoted: `accounts["my.bot"]`. */
export const formatPath = (path: ReadonlyArray<PropertyKey>): string => {
  let out = ""
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`
    else if (typeof key === "string" && identifier.test(key)) out += out === "" ? key : `.${key}`
    else out += `[${JSON.stringify(String(key))}]`
  }
  return out
}

const toIssues = (error: ParseResult.ParseError): ReadonlyArray<ConfigIssue> =>
  ParseResult.ArrayFormatter.formatErrorSync(error).map((issue) => ({
    path: formatPath(issue.path),
    message:
      issue._tag === "Unexpected"
        ? `unknown key (${issue.message.replace(/^is unexpected, expected: /, "expected one of: ")})`
        : issue.message
  }))

const decodeEither = Schema.decodeUnknownEither(Config, { errors: "all", onExcessProperty: "error" })

/** Validates an already-parsed value (e.g. `JSON.parse` output). Reports every problem at once. */
export const decode = (input: unknown, file?: string): Effect.Effect<Config, ConfigError> =>
  Either.match(decodeEither(input), {
    onLeft: (e) => Effect.fail(ConfigError.fromIssues(toIssues(e), file)),
    onRight: Effect.succeed
  })

/** Synchronous variant of `decode`, throwing the `ConfigError`. */
export const decodeSync = (input: unknown): Config => Effect.runSync(decode(input))

/** A JSON.parse message with its `position N` as a line and column (`… at line 3, column 20`). */
export const jsonErrorAt = (text: string, message: string): string => {
  const m = /at position (\d+)/.exec(message)
  if (m === null) return message
  const at = Math.min(Number(m[1]), text.length)
  const before = text.slice(0, at)
  const line = before.split("\n").length
  const column = at - before.lastIndexOf("\n")
  return `${message.replace(/\s*(\(line \d+ column \d+\)|in JSON at position \d+.*)$/, "")} at line ${line}, column ${column}`
}

/** Checks of values the shape cannot express (min above max, ignored keys, limits above the platform's). */
export const lint = Lint.lint
export type Finding = Lint.Finding

/** Reads and validates a JSON configuration file. */
export const load = (path: string): Effect.Effect<Config, ConfigError, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const text = yield* fs
      .readFileString(path)
      .pipe(Effect.mapError((e) => ConfigError.fromIssues([{ path: "", message: `cannot read: ${e.message}` }], path)))
    const parsed = yield* Effect.try({
      try: () => JSON.parse(text) as unknown,
      catch: (e) =>
        ConfigError.fromIssues([{ path: "", message: `not valid JSON: ${jsonErrorAt(text, (e as Error).message)}` }], path)
    })
    return yield* decode(parsed, path)
  })

/**
 * The `model` section as layer options: `provider` (auto | anthropic | offline), the Anthropic
 * adapter's options (`model.model` pins the model for every request, over the reasoning levels'),
 * and the offline demo model's.
 */
export const modelOptions: (config: Config) => runtime.ModelOptions = runtime.modelOptions
export type ModelOptions = runtime.ModelOptions

/** The `reasoning` section as `Reasoning.plan` options (pinned level, per-level model/thinking/budgets). */
export const reasoningOptions = runtime.reasoningOptions
export const modelChoices = runtime.modelChoices

/** The `conversations` section as `SqliteStore.layerConversations` options. */
export const conversationsOptions: (config: Config) => runtime.ConversationsOptions = runtime.conversationsOptions

/** The file looked for in the working directory when no file is named and `$SLUICE_CONFIG` is unset. */
export const defaultFile = "sluice.json"

export interface Located {
  readonly config: Config
  /** The file it came from; undefined when there is none and the defaults apply. */
  readonly file: string | undefined
}

/**
 * Which configuration applies, the same rule for the gateway and every CLI command: the named file,
 * else `$SLUICE_CONFIG`, else `./sluice.json` when it exists, else the defaults.
 */
export const locate = (
  explicit: string | undefined,
  env: Record<string, string | undefined> = process.env
): Effect.Effect<Located, ConfigError, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const fromEnv = env.SLUICE_CONFIG === undefined || env.SLUICE_CONFIG === "" ? undefined : env.SLUICE_CONFIG
    const fs = yield* FileSystem.FileSystem
    const file =
      explicit ?? fromEnv ?? ((yield* fs.exists(defaultFile).pipe(Effect.orElseSucceed(() => false))) ? defaultFile : undefined)
    return file === undefined ? { config: empty, file } : { config: yield* load(file), file }
  })

/** An empty configuration: every setting at its default. */
export const empty: Config = {}

/** Effective streaming settings for one delivery target. Pure and total. */
export const resolve = (config: Config, target: Target = {}): StreamingSettings => resolveInternal(config, target)
export type { Target }
