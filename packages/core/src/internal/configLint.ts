/**
 * Checks of a configuration's values that its shape cannot express: a minimum above its maximum,
 * keys the chosen mode ignores, a text limit above the platform's, a public address without
 * tokens. `error`s make the configuration wrong; `warning`s are probably not what was meant.
 */
import { channelDefaults } from "./configResolve.js"
import type * as S from "./configSchema.js"

export interface Finding {
  readonly level: "error" | "warning"
  /** Key path (`agents.defaults.humanDelay.minMs`). */
  readonly path: string
  readonly message: string
}

type Fields = Readonly<Record<string, unknown>>

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|::1|\[::1\])$/i

export const lint = (config: S.Config): ReadonlyArray<Finding> => {
  const out: Array<Finding> = []
  const minMax = (section: Fields | undefined, path: string, min: string, max: string) => {
    const lo = section?.[min]
    const hi = section?.[max]
    if (typeof lo === "number" && typeof hi === "number" && lo > hi) {
      out.push({ level: "error", path: `${path}.${min}`, message: `${min} (${lo}) is above ${max} (${hi})` })
    }
  }
  const agent = (a: Fields | undefined, path: string) => {
    if (a === undefined) return
    minMax(a.blockStreamingChunk as Fields | undefined, `${path}.blockStreamingChunk`, "minChars", "maxChars")
    minMax(a.blockStreamingCoalesce as Fields | undefined, `${path}.blockStreamingCoalesce`, "minChars", "maxChars")
    const delay = a.humanDelay as Fields | undefined
    minMax(delay, `${path}.humanDelay`, "minMs", "maxMs")
    if (delay !== undefined && delay.mode !== "custom") {
      for (const k of ["minMs", "maxMs"]) {
        if (delay[k] !== undefined) {
          out.push({
            level: "warning",
            path: `${path}.humanDelay.${k}`,
            message: `ignored: humanDelay.mode is ${JSON.stringify(delay.mode ?? "off")}; ${k} applies only with "custom"`
          })
        }
      }
    }
    if (a.blockStreamingDefault === "off" && (a.blockStreamingChunk !== undefined || a.blockStreamingBreak !== undefined)) {
      out.push({
        level: "warning",
        path: `${path}.blockStreamingDefault`,
        message: "block streaming is off, so blockStreamingChunk / blockStreamingBreak apply only where a channel turns it on"
      })
    }
  }
  agent(config.agents?.defaults as Fields | undefined, "agents.defaults")
  for (const [i, a] of (config.agents?.list ?? []).entries()) agent(a as Fields, `agents.list[${i}]`)

  const channels = (config.channels ?? {}) as Readonly<Record<string, (Fields & { readonly accounts?: Readonly<Record<string, Fields>> }) | undefined>>
  for (const [id, section] of Object.entries(channels)) {
    if (section === undefined) continue
    const levels: Array<[Fields, string]> = [[section, `channels.${id}`]]
    for (const [acc, fields] of Object.entries(section.accounts ?? {})) levels.push([fields, `channels.${id}.accounts.${acc}`])
    for (const [fields, path] of levels) {
      minMax(fields.draftChunk as Fields | undefined, `${path}.draftChunk`, "minChars", "maxChars")
      minMax(fields.blockStreamingCoalesce as Fields | undefined, `${path}.blockStreamingCoalesce`, "minChars", "maxChars")
      const limit = fields.textChunkLimit
      const platform = channelDefaults[id]?.textChunkLimit
      if (typeof limit === "number" && platform !== undefined && limit > platform) {
        out.push({ level: "warning", path: `${path}.textChunkLimit`, message: `${limit} is above ${id}'s limit of ${platform}; messages are cut at ${platform}` })
      }
      if (fields.draftChunk !== undefined && (fields.streamMode ?? (id === "telegram" ? "partial" : "off")) !== "block") {
        out.push({ level: "warning", path: `${path}.draftChunk`, message: 'ignored unless streamMode is "block"' })
      }
    }
  }

  const gw = config.gateway
  if (gw?.host !== undefined && !LOOPBACK.test(gw.host) && (gw.tokens ?? []).length === 0) {
    out.push({
      level: "warning",
      path: "gateway.host",
      message: `${gw.host} is not loopback and gateway.tokens is empty: the gateway refuses to start unless SLUICE_TOKEN (or --token) gives one`
    })
  }
  return out
}
