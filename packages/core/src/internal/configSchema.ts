/**
 * The configuration Schema: the seed documents' own key names, every section closed (unknown keys are
 * decode errors, see `Config.decode`), and every leaf annotated so that a bad value is reported as
 * "expected …, got …" under its path.
 *
 * Sections owned by other modules (gateway, model, reasoning, conversations, channel credentials) are
 * declared here so that the one Schema knows every key; their owners add fields to the marked structs.
 */
import { Schema } from "effect"

// ---------------------------------------------------------------------------------------------
// Leaf helpers: every one reports "expected <what>, got <value>" and nothing else.

/** Renders a bad value for an error message: JSON where possible, clipped. */
export const show = (u: unknown): string => {
  if (u === undefined) return "undefined"
  if (typeof u === "function") return "a function"
  if (typeof u === "bigint") return `${u}n`
  let s: string
  try {
    s = JSON.stringify(u) ?? String(u)
  } catch {
    s = String(u)
  }
  return s.length > 60 ? `${s.slice(0, 57)}...` : s
}

const expected = (what: string) => ({
  message: (issue: { readonly actual: unknown }) => ({ message: `expected ${what}, got ${show(issue.actual)}`, override: true })
})

/** Wraps a schema so that every failure under it reads "expected <what>, got <value>". */
const leaf = <S extends Schema.Schema.Any>(schema: S, what: string): S =>
  schema.annotations(expected(what) as Schema.Annotations.Schema<Schema.Schema.Type<S>>) as S

export const PositiveInt = leaf(Schema.Number.pipe(Schema.int(), Schema.positive()), "a positive integer")
export const NonNegativeInt = leaf(Schema.Number.pipe(Schema.int(), Schema.nonNegative()), "a non-negative integer")
export const Port = leaf(Schema.Number.pipe(Schema.int(), Schema.between(0, 65535)), "a port number (0-65535)")
export const NonEmptyString = leaf(Schema.String.pipe(Schema.minLength(1)), "a non-empty string")
export const Bool = leaf(Schema.Boolean, "true or false")

export const literal = <const L extends ReadonlyArray<string>>(...values: L) =>
  leaf(Schema.Literal(...values), `one of ${values.map((v) => JSON.stringify(v)).join(" | ")}`)

/** A closed object: a non-object is "expected an object"; unknown keys are reported by decode. */
export const section = <F extends Schema.Struct.Fields>(fields: F) =>
  Schema.Struct(fields).annotations({ message: (issue) => `expected an object, got ${show(issue.actual)}` })

/** Optional key: absent is fine, `undefined`/`null` are not (they would hide typos in generated files). */
export const opt = <S extends Schema.Schema.All>(schema: S) => Schema.optionalWith(schema, { exact: true })

export const map = <S extends Schema.Schema.Any>(value: S, what: string) =>
  Schema.Record({ key: Schema.String, value }).annotations({
    message: (issue) => `expected an object of ${what}, got ${show(issue.actual)}`
  })

// ---------------------------------------------------------------------------------------------
// Streaming keys (agents.defaults / agents.list[] / channels)

export const BreakPreference = literal("paragraph", "newline", "sentence")
export const BlockStreamingBreak = literal("text_end", "message_end")
export const OnOff = literal("on", "off")
export const ChunkMode = literal("length", "newline")
export const StreamMode = literal("partial", "block", "off")
export const HumanDelayMode = literal("off", "natural", "custom")
/** `channels.<id>.blockStreaming`: `true`/`false`, or the seed's `"on"`/`"off"`. */
export const BlockStreamingSwitch = leaf(Schema.Union(Schema.Boolean, Schema.Literal("on", "off")), 'true | false | "on" | "off"')

export const BlockStreamingChunk = section({
  minChars: opt(PositiveInt),
  maxChars: opt(PositiveInt),
  breakPreference: opt(BreakPreference)
})
export type BlockStreamingChunk = typeof BlockStreamingChunk.Type

export const BlockStreamingCoalesce = section({
  minChars: opt(PositiveInt),
  maxChars: opt(PositiveInt),
  idleMs: opt(NonNegativeInt)
})
export type BlockStreamingCoalesce = typeof BlockStreamingCoalesce.Type

export const HumanDelay = section({
  mode: opt(HumanDelayMode),
  minMs: opt(NonNegativeInt),
  maxMs: opt(NonNegativeInt)
})
export type HumanDelay = typeof HumanDelay.Type

/** The keys an agent (defaults or a `agents.list[]` entry) may set. */
const agentStreamingFields = {
  blockStreamingDefault: opt(OnOff),
  blockStreamingBreak: opt(BlockStreamingBreak),
  blockStreamingChunk: opt(BlockStreamingChunk),
  blockStreamingCoalesce: opt(BlockStreamingCoalesce),
  humanDelay: opt(HumanDelay)
}

export const AgentDefaults = section({
  ...agentStreamingFields
  // model / reasoning helpers: per-agent default fields go here (e.g. model, systemPrompt).
})
export type AgentDefaults = typeof AgentDefaults.Type

export const AgentEntry = section({
  id: NonEmptyString,
  name: opt(Schema.String),
  ...agentStreamingFields
})
export type AgentEntry = typeof AgentEntry.Type

const AgentList = Schema.Array(AgentEntry)
  .annotations({ message: (issue) => `expected an array of agents, got ${show(issue.actual)}` })
  .pipe(
    Schema.filter((list) => {
      const seen = new Map<string, number>()
      for (let i = 0; i < list.length; i++) {
        const id = list[i]!.id
        const first = seen.get(id)
        if (first !== undefined) {
          return { path: [i, "id"], message: `duplicate agent id ${JSON.stringify(id)} (first at agents.list[${first}])` }
        }
        seen.set(id, i)
      }
      return true
    })
  )

export const Agents = section({
  defaults: opt(AgentDefaults),
  list: opt(AgentList)
})
export type Agents = typeof Agents.Type

// ---------------------------------------------------------------------------------------------
// Channels: one closed section per supported channel; each has the common keys at the channel
// level and again per account (`accounts.<accountId>`), account values beating channel values.

const channelCommonFields = {
  blockStreaming: opt(BlockStreamingSwitch),
  blockStreamingCoalesce: opt(BlockStreamingCoalesce),
  textChunkLimit: opt(PositiveInt),
  chunkMode: opt(ChunkMode),
  maxLinesPerMessage: opt(PositiveInt)
}

export const DraftChunk = section({
  minChars: opt(PositiveInt),
  maxChars: opt(PositiveInt),
  breakPreference: opt(BreakPreference)
})

/**
 * A credential: the value itself, or `"$NAME"` to read it from the environment variable NAME
 * (so secrets can stay out of the file).
 */
export const Secret = NonEmptyString
const Url = leaf(Schema.String.pipe(Schema.pattern(/^https?:\/\/\S+$/)), "an http(s) URL")

/**
 * Channel-specific keys, valid at channel level and per account (account values win). A channel
 * (or account) with its credentials set is started by the gateway: `token` for Telegram, Discord,
 * Slack and WhatsApp (plus `phoneNumberId`), `baseUrl` of the signal-cli daemon for Signal.
 */
export const telegramFields = {
  streamMode: opt(StreamMode),
  draftChunk: opt(DraftChunk),
  token: opt(Secret),
  baseUrl: opt(Url),
  receive: opt(literal("polling", "webhook")),
  webhookSecret: opt(Secret),
  parseMode: opt(literal("HTML", "MarkdownV2")),
  /** The draft's stop button (default true): a press stops the reply, its text so far is sent. */
  stopButton: opt(Bool),
  /** Groups: preview the reply in one message edited as it grows (default false). */
  groupPreviews: opt(Bool)
}
export const discordFields = {
  /** Preview streaming by editing one message (off unless set): `partial` | `block`. */
  streamMode: opt(StreamMode),
  draftChunk: opt(DraftChunk),
  token: opt(Secret),
  baseUrl: opt(Url),
  gatewayUrl: opt(NonEmptyString),
  receive: opt(Bool)
}
export const slackFields = {
  /** Preview streaming (off unless set): `partial` | `block` edit one message by `chat.update`, as
   * Telegram's drafts; `native` streams with `chat.startStream` / `appendStream` / `stopStream`. */
  streamMode: opt(literal("partial", "block", "off", "native")),
  draftChunk: opt(DraftChunk),
  token: opt(Secret),
  signingSecret: opt(Secret),
  baseUrl: opt(Url)
}
export const signalFields = { baseUrl: opt(Url), account: opt(NonEmptyString) }
export const whatsappFields = {
  token: opt(Secret),
  phoneNumberId: opt(NonEmptyString),
  appSecret: opt(Secret),
  verifyToken: opt(Secret),
  baseUrl: opt(Url),
  version: opt(NonEmptyString)
}

const channelSection = <F extends Schema.Struct.Fields>(extra: F) => {
  const account = section({ ...channelCommonFields, ...extra })
  return section({ ...channelCommonFields, ...extra, accounts: opt(map(account, "accounts")) })
}

export const TelegramChannel = channelSection(telegramFields)
export const DiscordChannel = channelSection(discordFields)
export const SlackChannel = channelSection(slackFields)
export const SignalChannel = channelSection(signalFields)
export const WhatsappChannel = channelSection(whatsappFields)

export const Channels = section({
  telegram: opt(TelegramChannel),
  discord: opt(DiscordChannel),
  slack: opt(SlackChannel),
  signal: opt(SignalChannel),
  whatsapp: opt(WhatsappChannel)
})
export type Channels = typeof Channels.Type

/** The keys every channel and account section understands (what `Config.resolve` reads). */
export interface ChannelKeys {
  readonly blockStreaming?: boolean | "on" | "off"
  readonly blockStreamingCoalesce?: BlockStreamingCoalesce
  readonly textChunkLimit?: number
  readonly chunkMode?: "length" | "newline"
  readonly maxLinesPerMessage?: number
  readonly streamMode?: "partial" | "block" | "off"
  readonly draftChunk?: typeof DraftChunk.Type
}

// ---------------------------------------------------------------------------------------------
// Sections owned by other modules: placeholders, extended by their owners.

/** Gateway helper: extend. */
export const Gateway = section({
  host: opt(NonEmptyString),
  port: opt(Port),
  /** Where conversations, event logs and other state live. */
  dataDir: opt(NonEmptyString),
  /** Bearer tokens accepted from clients. */
  tokens: opt(Schema.Array(NonEmptyString)),
  /** A bearer token for `/metrics` (Prometheus scrapers) besides the principals' tokens; `"$NAME"` reads the environment. */
  metricsToken: opt(Secret),
  /**
   * Run as one runner of a cluster (docs/cluster.md): conversations sharded over every gateway
   * sharing this PostgreSQL database. `databaseUrl` may be `"$NAME"` (read from the environment).
   */
  cluster: opt(
    section({
      databaseUrl: opt(Secret),
      /** Where the other runners reach this one (default 127.0.0.1). */
      runnerHost: opt(NonEmptyString),
      runnerPort: opt(Port),
      /** Where this runner listens when not `runnerHost` (e.g. 0.0.0.0). */
      listenHost: opt(NonEmptyString)
    })
  ),
  /** Request, frame, rate and backpressure limits (defaults in the gateway's docs/protocol.md). */
  limits: opt(
    section({
      maxBodyBytes: opt(PositiveInt),
      maxFrameBytes: opt(PositiveInt),
      messagesPerSecond: opt(PositiveInt),
      burst: opt(PositiveInt),
      maxRunsPerPrincipal: opt(PositiveInt),
      sendHighWaterBytes: opt(PositiveInt),
      maxPendingBytes: opt(PositiveInt),
      slowConsumerMs: opt(PositiveInt)
    })
  )
})
/** How much a model may think: `"off"`, `{ "budgetTokens": n }` or `{ "effort": "high" }`. */
export const ThinkingSetting = Schema.Union(
  literal("off"),
  section({ budgetTokens: leaf(Schema.Number.pipe(Schema.int(), Schema.greaterThanOrEqualTo(1024)), "an integer ≥ 1024") }),
  section({ effort: literal("low", "medium", "high", "xhigh", "max") })
).annotations({
  message: (issue) => `expected "off", { "budgetTokens": n ≥ 1024 } or { "effort": "low" | "medium" | "high" | "xhigh" | "max" }, got ${show(issue.actual)}`
})
export type ThinkingSetting = typeof ThinkingSetting.Type

/** `model`: which model answers and how the Anthropic adapter behaves. */
export const ModelSection = section({
  /** `auto` (default): Claude when ANTHROPIC_API_KEY is set, the offline demo model otherwise. */
  provider: opt(literal("auto", "anthropic", "offline")),
  /** Claude model id for every request (overrides the reasoning levels' models). */
  model: opt(NonEmptyString),
  /** Names OpenAI clients may ask for, each to the Claude model that answers it (`"gpt-4o": "claude-sonnet-5-5"`). */
  aliases: opt(map(NonEmptyString, "aliases")),
  /** OpenAI clients' `image_url` parts may be http(s) URLs, which Claude fetches (default false: data URLs only). */
  imageUrls: opt(Bool),
  maxTokens: opt(PositiveInt),
  thinking: opt(ThinkingSetting),
  timeouts: opt(section({ connectMs: opt(PositiveInt), firstTokenMs: opt(PositiveInt), idleMs: opt(PositiveInt), totalMs: opt(PositiveInt) })),
  retry: opt(
    section({
      maxAttempts: opt(PositiveInt),
      baseDelayMs: opt(PositiveInt),
      maxDelayMs: opt(PositiveInt),
      maxRetryAfterMs: opt(PositiveInt)
    })
  ),
  /** The offline demo model. */
  offline: opt(
    section({ tokensPerSecond: opt(NonNegativeInt), seed: opt(NonNegativeInt), thinking: opt(Bool), words: opt(PositiveInt) })
  )
})
export type ModelSection = typeof ModelSection.Type

const Level = leaf(Schema.Literal(1, 2, 3, 4), "a level 1, 2, 3 or 4")
const LevelSetting = section({
  model: opt(NonEmptyString),
  thinking: opt(ThinkingSetting),
  maxTokens: opt(PositiveInt),
  /** Step budget reported by reasoning progress. */
  steps: opt(PositiveInt)
})

/** `reasoning`: the adaptive planner (levels 1–4). */
export const Reasoning = section({
  /** Pin every run to this level instead of estimating it. */
  level: opt(Level),
  levels: opt(section({ "1": opt(LevelSetting), "2": opt(LevelSetting), "3": opt(LevelSetting), "4": opt(LevelSetting) })),
  /** Words that mark a message as design/architecture work (default: design, architecture, system, 设计, 架构, 系统). */
  keywords: opt(Schema.Array(NonEmptyString))
})
export type Reasoning = typeof Reasoning.Type

/** `conversations`: the actor runtime and its store. */
export const ConversationsSection = section({
  /** Queued user messages per conversation before a send is refused (default 32). */
  mailboxCapacity: opt(PositiveInt),
  /** Passivate an idle conversation after this many ms (default 300000). */
  idleTimeToLiveMs: opt(PositiveInt),
  /** Runs per conversation whose events the resume log keeps (default 100). */
  retainRuns: opt(PositiveInt),
  systemPrompt: opt(Schema.String)
})
export type ConversationsSection = typeof ConversationsSection.Type

export const Config = section({
  agents: opt(Agents),
  channels: opt(Channels),
  gateway: opt(Gateway),
  model: opt(ModelSection),
  reasoning: opt(Reasoning),
  conversations: opt(ConversationsSection)
})
export type Config = typeof Config.Type
