/**
 * From the `model`, `reasoning` and `conversations` config sections to the options of the layers
 * that use them. Pure.
 */
import type { Thinking } from "../Model.js"
import type * as Model from "../Model.js"
import type * as AnthropicClient from "../anthropic/internal/client.js"
import * as Reasoning from "../Reasoning.js"
import type * as S from "./configSchema.js"

export const thinkingOf = (t: S.ThinkingSetting): Thinking =>
  t === "off"
    ? { _tag: "Disabled" }
    : "budgetTokens" in t
      ? { _tag: "Budget", budgetTokens: t.budgetTokens }
      : { _tag: "Adaptive", effort: t.effort }

export interface ModelOptions {
  readonly provider: "auto" | "anthropic" | "offline"
  readonly anthropic: AnthropicClient.Options
  readonly scripted: Model.ScriptedOptions
}

export const modelOptions = (config: S.Config): ModelOptions => {
  const m = config.model ?? {}
  const anthropic: AnthropicClient.Options = {
    ...(m.model !== undefined ? { model: m.model, forceModel: true } : {}),
    ...(m.maxTokens !== undefined ? { maxTokens: m.maxTokens } : {}),
    ...(m.thinking !== undefined ? { thinking: thinkingOf(m.thinking) } : {}),
    ...(m.timeouts !== undefined ? { timeouts: m.timeouts } : {}),
    ...(m.retry !== undefined ? { retry: m.retry } : {})
  }
  return { provider: m.provider ?? "auto", anthropic, scripted: m.offline ?? {} }
}

export const reasoningOptions = (config: S.Config): Reasoning.PlanOptions => {
  const r = config.reasoning ?? {}
  const levels: Partial<Record<Reasoning.Level, Partial<Reasoning.LevelConfig>>> = {}
  for (const key of ["1", "2", "3", "4"] as const) {
    const l = r.levels?.[key]
    if (l === undefined) continue
    levels[Number(key) as Reasoning.Level] = {
      ...(l.model !== undefined ? { model: l.model } : {}),
      ...(l.thinking !== undefined ? { thinking: thinkingOf(l.thinking) } : {}),
      ...(l.maxTokens !== undefined ? { maxTokens: l.maxTokens } : {}),
      ...(l.steps !== undefined ? { baseSteps: l.steps } : {})
    }
  }
  return {
    ...(r.level !== undefined ? { pinnedLevel: r.level } : {}),
    ...(Object.keys(levels).length > 0 ? { levels } : {}),
    ...(r.keywords !== undefined ? { keywords: r.keywords } : {})
  }
}

/**
 * The models a conversation may pin (`Conversations.update({ model })`): the reasoning levels'
 * models, with the config's own, then `model.model` if set; distinct, in level order.
 */
export const modelChoices = (config: S.Config): ReadonlyArray<string> => {
  const levels = reasoningOptions(config).levels ?? {}
  const out = new Set<string>()
  for (const level of [1, 2, 3, 4] as const) out.add(levels[level]?.model ?? Reasoning.defaultLevels[level].model)
  if (config.model?.model !== undefined) out.add(config.model.model)
  return [...out]
}

export interface ConversationsOptions {
  readonly mailboxCapacity?: number
  readonly idleTimeToLive?: number
  readonly retainRuns?: number
  readonly system?: string
}

export const conversationsOptions = (config: S.Config): ConversationsOptions => {
  const c = config.conversations ?? {}
  return {
    ...(c.mailboxCapacity !== undefined ? { mailboxCapacity: c.mailboxCapacity } : {}),
    ...(c.idleTimeToLiveMs !== undefined ? { idleTimeToLive: c.idleTimeToLiveMs } : {}),
    ...(c.retainRuns !== undefined ? { retainRuns: c.retainRuns } : {}),
    ...(c.systemPrompt !== undefined ? { system: c.systemPrompt } : {})
  }
}
