/**
 * Effective streaming settings for (agent, channel, account): precedence, defaults and clamping as
 * the reference implementation resolves them (openclaw-behaviour.md §2–§4).
 */
import {
  type BreakPreference,
  type HumanDelaySettings,
  joinerFor,
  type StreamingSettings
} from "../StreamingSettings.js"
import type { AgentDefaults, AgentEntry, BlockStreamingCoalesce, ChannelKeys, Config } from "./configSchema.js"

/** Per-channel built-in defaults (the channel plugins' own values). */
export interface ChannelDefaults {
  readonly textChunkLimit: number
  readonly coalesceMinChars?: number
  readonly maxLinesPerMessage?: number
}

export const DEFAULT_TEXT_CHUNK_LIMIT = 4000
export const DEFAULT_CHUNK_MIN = 800
export const DEFAULT_CHUNK_MAX = 1200
export const DEFAULT_COALESCE_IDLE_MS = 1000
export const NATURAL_DELAY = { minMs: 800, maxMs: 2500 } as const
export const DRAFT_CHUNK = { minChars: 200, maxChars: 800, breakPreference: "paragraph" } as const

/** openclaw-behaviour.md §0, §4: text limits and coalesce minimums per channel id. */
export const channelDefaults: Readonly<Record<string, ChannelDefaults>> = {
  telegram: { textChunkLimit: 4000 },
  whatsapp: { textChunkLimit: 4000 },
  discord: { textChunkLimit: 2000, coalesceMinChars: 1500, maxLinesPerMessage: 17 },
  slack: { textChunkLimit: 4000, coalesceMinChars: 1500 },
  // The reference says 4000, but Signal clients inline at most 2 KiB of body and turn the rest into
  // an attachment (protocols.md §3.5); 2000 keeps a message readable inline, as the adapter sends it.
  signal: { textChunkLimit: 2000, coalesceMinChars: 1500 },
  googlechat: { textChunkLimit: 4000, coalesceMinChars: 1500 },
  imessage: { textChunkLimit: 4000 },
  bluebubbles: { textChunkLimit: 4000 },
  msteams: { textChunkLimit: 4000 },
  matrix: { textChunkLimit: 4000 },
  feishu: { textChunkLimit: 4000 },
  nextcloudtalk: { textChunkLimit: 4000 },
  sms: { textChunkLimit: 1500 },
  zalo: { textChunkLimit: 2000 }
}

export interface Target {
  readonly agentId?: string | undefined
  readonly channel?: string | undefined
  readonly accountId?: string | undefined
}

const firstDefined = <A>(...xs: ReadonlyArray<A | undefined>): A | undefined => {
  for (const x of xs) if (x !== undefined) return x
  return undefined
}

/** Field-wise merge, later sources beating earlier ones. */
const mergeFields = <A extends object>(...xs: ReadonlyArray<A | undefined>): Partial<A> => {
  const out: Partial<A> = {}
  for (const x of xs) {
    if (x === undefined) continue
    for (const [k, v] of Object.entries(x)) if (v !== undefined) (out as Record<string, unknown>)[k] = v
  }
  return out
}

const switchValue = (v: boolean | "on" | "off" | undefined): boolean | undefined =>
  v === undefined ? undefined : v === true || v === "on"

export const resolve = (config: Config, target: Target = {}): StreamingSettings => {
  const defaults: AgentDefaults = config.agents?.defaults ?? {}
  const agent: AgentEntry | undefined =
    target.agentId === undefined ? undefined : config.agents?.list?.find((a) => a.id === target.agentId)
  const channelId = target.channel
  const channelSection: (ChannelKeys & { readonly accounts?: Readonly<Record<string, ChannelKeys>> }) | undefined =
    channelId === undefined ? undefined : (config.channels as Record<string, ChannelKeys> | undefined)?.[channelId]
  const account: ChannelKeys | undefined =
    target.accountId === undefined ? undefined : channelSection?.accounts?.[target.accountId]
  const builtin: ChannelDefaults | undefined = channelId === undefined ? undefined : channelDefaults[channelId]

  // Block streaming on/off. An explicit channel/account switch always wins. Otherwise: no channel
  // (web/terminal client) → on unless the agent default says "off"; Telegram → the agent default
  // ("off" unless set); any other channel → off (it needs `channels.<id>.blockStreaming: true`).
  const explicit = switchValue(firstDefined(account?.blockStreaming, channelSection?.blockStreaming))
  const agentDefault = firstDefined(agent?.blockStreamingDefault, defaults.blockStreamingDefault)
  const blockStreaming =
    explicit !== undefined
      ? explicit
      : channelId === undefined
        ? agentDefault !== "off"
        : channelId === "telegram"
          ? agentDefault === "on"
          : false

  const configuredBreak = firstDefined(agent?.blockStreamingBreak, defaults.blockStreamingBreak) ?? "text_end"
  const blockStreamingBreak = blockStreaming ? configuredBreak : "message_end"

  const textChunkLimit =
    firstDefined(account?.textChunkLimit, channelSection?.textChunkLimit, builtin?.textChunkLimit) ??
    DEFAULT_TEXT_CHUNK_LIMIT
  const chunkMode = firstDefined(account?.chunkMode, channelSection?.chunkMode) ?? "length"

  // Chunking: max clamped to the channel's limit, min clamped to max.
  const chunkCfg = mergeFields(defaults.blockStreamingChunk, agent?.blockStreamingChunk)
  const chunkMax = Math.min(chunkCfg.maxChars ?? DEFAULT_CHUNK_MAX, textChunkLimit)
  const chunkMin = Math.min(chunkCfg.minChars ?? DEFAULT_CHUNK_MIN, chunkMax)
  const breakPreference: BreakPreference = chunkCfg.breakPreference ?? "paragraph"

  // Coalescing: account beats channel beats agent beats agent defaults (field by field); channel
  // plugin minimum (1500 on Discord/Slack/Signal) when nobody set minChars; then clamped.
  const coalesceCfg: Partial<BlockStreamingCoalesce> = mergeFields(
    defaults.blockStreamingCoalesce,
    agent?.blockStreamingCoalesce,
    channelSection?.blockStreamingCoalesce,
    account?.blockStreamingCoalesce
  )
  const coalesceMax = Math.min(Math.min(coalesceCfg.maxChars ?? textChunkLimit, textChunkLimit), chunkMax)
  const coalesceMin = Math.min(coalesceCfg.minChars ?? builtin?.coalesceMinChars ?? chunkMin, coalesceMax)
  const idleMs = coalesceCfg.idleMs ?? DEFAULT_COALESCE_IDLE_MS

  const humanDelay = resolveHumanDelay(mergeFields(defaults.humanDelay, agent?.humanDelay))

  const maxLinesPerMessage = firstDefined(
    account?.maxLinesPerMessage,
    channelSection?.maxLinesPerMessage,
    builtin?.maxLinesPerMessage
  )

  const base: StreamingSettings = {
    blockStreaming,
    blockStreamingBreak,
    chunk: { minChars: chunkMin, maxChars: chunkMax, breakPreference, flushOnParagraph: chunkMode === "newline" },
    coalesce: { minChars: coalesceMin, maxChars: coalesceMax, idleMs, joiner: joinerFor(breakPreference) },
    humanDelay,
    textChunkLimit,
    chunkMode,
    ...(maxLinesPerMessage !== undefined ? { maxLinesPerMessage } : {})
  }
  if (channelId !== "telegram" && channelId !== "slack" && channelId !== "discord") return base

  // Telegram drafts stream by default; edit previews (Slack, Discord) are opt-in: edits are rate-limited.
  const streamMode = firstDefined(account?.streamMode, channelSection?.streamMode) ?? (channelId === "telegram" ? "partial" : "off")
  const draftCfg = mergeFields(channelSection?.draftChunk, account?.draftChunk)
  const draftMax = Math.min(draftCfg.maxChars ?? DRAFT_CHUNK.maxChars, textChunkLimit)
  const draftMin = Math.min(draftCfg.minChars ?? DRAFT_CHUNK.minChars, draftMax)
  return {
    ...base,
    streamMode,
    draftChunk: {
      minChars: draftMin,
      maxChars: draftMax,
      breakPreference: draftCfg.breakPreference ?? DRAFT_CHUNK.breakPreference
    }
  }
}

const resolveHumanDelay = (cfg: {
  readonly mode?: "off" | "natural" | "custom"
  readonly minMs?: number
  readonly maxMs?: number
}): HumanDelaySettings => {
  const mode = cfg.mode ?? "off"
  if (mode === "custom") {
    return { mode, minMs: cfg.minMs ?? NATURAL_DELAY.minMs, maxMs: cfg.maxMs ?? NATURAL_DELAY.maxMs }
  }
  return { mode, minMs: NATURAL_DELAY.minMs, maxMs: NATURAL_DELAY.maxMs }
}
