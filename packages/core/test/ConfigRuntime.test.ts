import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Layer, Stream } from "effect"
import { Config, Conversations, Model, Reasoning } from "../src/index.js"
import * as SqliteStore from "../src/sqlite/SqliteStore.js"

const decode = (u: unknown) => Effect.runSyncExit(Config.decode(u))
const issuesOf = (u: unknown) => {
  const exit = decode(u)
  if (Exit.isSuccess(exit)) throw new Error("expected a ConfigError")
  const e = exit.cause._tag === "Fail" ? exit.cause.error : undefined
  return (e as Config.ConfigError).issues
}

describe("Config: model, reasoning and conversations sections", () => {
  it("maps model settings to the Anthropic adapter's options; a configured model wins over the levels'", () => {
    const config = Config.decodeSync({
      model: {
        provider: "anthropic",
        model: "claude-opus-5-5",
        maxTokens: 2000,
        thinking: { effort: "high" },
        timeouts: { idleMs: 30000 },
        retry: { maxAttempts: 3 },
        offline: { tokensPerSecond: 0, seed: 7 }
      }
    })
    const o = Config.modelOptions(config)
    expect(o.provider).toBe("anthropic")
    expect(o.anthropic).toEqual({
      model: "claude-opus-5-5",
      forceModel: true,
      maxTokens: 2000,
      thinking: { _tag: "Adaptive", effort: "high" },
      timeouts: { idleMs: 30000 },
      retry: { maxAttempts: 3 }
    })
    expect(o.scripted).toEqual({ tokensPerSecond: 0, seed: 7 })
    expect(Config.modelOptions(Config.empty).provider).toBe("auto")
  })

  it("reasoning levels from config change what the planner picks; a pinned level wins", () => {
    const config = Config.decodeSync({
      reasoning: { levels: { "1": { model: "my-small-model", thinking: "off", maxTokens: 512, steps: 3 } } }
    })
    const plan = Reasoning.plan("hi", Config.reasoningOptions(config))
    expect(plan.level).toBe(1)
    expect(plan.model).toBe("my-small-model")
    expect(plan.maxTokens).toBe(512)
    expect(plan.thinking).toEqual({ _tag: "Disabled" })
    const pinned = Reasoning.plan("hi", Config.reasoningOptions(Config.decodeSync({ reasoning: { level: 3 } })))
    expect(pinned.level).toBe(3)
    expect(pinned.pinned).toBe(true)
  })

  it("conversations settings become runtime options", () => {
    const config = Config.decodeSync({ conversations: { mailboxCapacity: 4, idleTimeToLiveMs: 1000, retainRuns: 10, systemPrompt: "Be brief." } })
    expect(Config.conversationsOptions(config)).toEqual({ mailboxCapacity: 4, idleTimeToLive: 1000, retainRuns: 10, system: "Be brief." })
  })

  it("bad values and unknown keys in these sections name their path", () => {
    const issues = issuesOf({
      model: { thinking: { budgetTokens: 10 }, provder: "x" },
      reasoning: { level: 5 },
      conversations: { mailboxCapacity: 0 }
    })
    const paths = issues.map((i) => i.path)
    expect(paths).toContain("model.provder")
    expect(paths).toContain("reasoning.level")
    expect(paths).toContain("conversations.mailboxCapacity")
    expect(issues.find((i) => i.path.startsWith("model.thinking"))?.message).toMatch(/1024|budgetTokens|effort/)
    expect(issues.find((i) => i.path === "reasoning.level")?.message).toMatch(/level 1, 2, 3 or 4, got 5/)
  })

  it.live("a level pinned in config reaches the run (RunStarted.level); a send's own level wins", () =>
    Effect.gen(function* () {
      const conversations = yield* Conversations.Conversations
      const levelOf = (id: string, level?: number) =>
        Effect.gen(function* () {
          yield* conversations.send(id, "hello", level === undefined ? {} : { level })
          const events = yield* conversations.subscribe(id, { fromSeq: 0 }).pipe(
            Stream.takeUntil((e) => e._tag === "RunEnded"),
            Stream.runCollect
          )
          return [...events].find((e) => e._tag === "RunStarted")
        })
      expect(yield* levelOf("a")).toMatchObject({ level: 3 })
      expect(yield* levelOf("b", 1)).toMatchObject({ level: 1 })
    }).pipe(
      Effect.provide(
        SqliteStore.layerConversationsMemory({
          reasoning: Config.reasoningOptions(Config.decodeSync({ reasoning: { level: 3 } }))
        }).pipe(Layer.provide(Model.layerScripted({ tokensPerSecond: 0, words: 20 })))
      )
    )
  )
})
