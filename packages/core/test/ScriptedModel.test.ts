import { describe, expect, it } from "@effect/vitest"
import { Chunk, ConfigProvider, Effect, Fiber, Layer, Ref, Stream, TestClock } from "effect"
import { Model, type ModelEvent } from "../src/index.js"
import * as AnthropicModel from "../src/anthropic/AnthropicModel.js"

const ask = (content: string, extra: Partial<Model.ModelRequest> = {}): Model.ModelRequest => ({
  messages: [{ role: "user", content }],
  ...extra
})
const collect = (m: Model.ModelService, req: Model.ModelRequest) =>
  m.stream(req).pipe(Stream.runCollect, Effect.map(Chunk.toReadonlyArray))
const textOf = (events: ReadonlyArray<ModelEvent.ModelEvent>) =>
  events.map((e) => (e._tag === "TextDelta" ? e.text : "")).join("")
const unlimited = Model.makeScripted({ tokensPerSecond: 0 })

describe("scripted offline model", () => {
  it.effect("says it is the offline demo model, in its name and first line", () =>
    Effect.gen(function*() {
      expect(unlimited.name).toBe("offline demo model")
      const text = textOf(yield* collect(unlimited, ask("How do I read a CSV file in Python?")))
      expect(text.split("\n")[0]).toBe("*(Offline demo model — set ANTHROPIC_API_KEY to talk to Claude.)*")
      expect(text.startsWith(Model.offlineBanner)).toBe(true)
    }))

  it.effect("answers with realistic markdown: paragraphs, a numbered list, a closed code fence, about the message", () =>
    Effect.gen(function*() {
      const text = textOf(yield* collect(unlimited, ask("How do I read a CSV file in Python?")))
      expect(text).toMatch(/\n\n/)
      expect(text).toMatch(/^1\. .+\n2\. .+/m)
      expect((text.match(/^```/gm) ?? []).length % 2).toBe(0)
      expect((text.match(/^```/gm) ?? []).length).toBeGreaterThanOrEqual(2)
      expect(text).toContain("How do I read a CSV file")
    }))

  it.effect("is deterministic for a seed and differs across seeds", () =>
    Effect.gen(function*() {
      const a = yield* collect(Model.makeScripted({ tokensPerSecond: 0, seed: 7 }), ask("tell me about caching"))
      const b = yield* collect(Model.makeScripted({ tokensPerSecond: 0, seed: 7 }), ask("tell me about caching"))
      expect(b).toEqual(a)
      const others = yield* Effect.forEach([1, 2, 3, 4], (seed) =>
        collect(Model.makeScripted({ tokensPerSecond: 0, seed }), ask("tell me about caching")).pipe(Effect.map(textOf))
      )
      expect(new Set([textOf(a), ...others]).size).toBeGreaterThan(1)
    }))

  it.effect("event shape matches the Anthropic adapter's: start, text deltas (one per token), end, usage, end", () =>
    Effect.gen(function*() {
      const events = yield* collect(unlimited, ask("hello"))
      const tags = events.map((e) => e._tag)
      expect(tags[0]).toBe("MessageStart")
      expect(tags.slice(-3)).toEqual(["TextEnd", "MessageDelta", "MessageEnd"])
      expect(new Set(tags.slice(1, -3))).toEqual(new Set(["TextDelta"]))
      const deltas = events.filter((e) => e._tag === "TextDelta")
      const md = events.at(-2)
      expect(md).toMatchObject({ _tag: "MessageDelta", stopReason: "end_turn", usage: { outputTokens: deltas.length } })
    }))

  it.effect("thinks first when the request asks for thinking; the request's setting wins over the option", () =>
    Effect.gen(function*() {
      const withThinking = yield* collect(unlimited, ask("hello", { thinking: { _tag: "Adaptive", effort: "high" } }))
      const tags = withThinking.map((e) => e._tag)
      expect(tags[1]).toBe("ThinkingDelta")
      const endAt = tags.indexOf("ThinkingEnd")
      expect(endAt).toBeGreaterThan(1)
      expect(tags.indexOf("TextDelta")).toBe(endAt + 1)
      const thinking = withThinking.map((e) => (e._tag === "ThinkingDelta" ? e.text : "")).join("")
      expect(thinking.split("\n\n").length).toBeGreaterThanOrEqual(3)
      expect(withThinking.at(-2)).toMatchObject({ usage: { thinkingTokens: expect.any(Number) } })

      const off = yield* collect(Model.makeScripted({ tokensPerSecond: 0, thinking: true }), ask("hello", { thinking: { _tag: "Disabled" } }))
      expect(off.some((e) => e._tag === "ThinkingDelta")).toBe(false)
      const byOption = yield* collect(Model.makeScripted({ tokensPerSecond: 0, thinking: true }), ask("hello"))
      expect(byOption.some((e) => e._tag === "ThinkingDelta")).toBe(true)
    }))

  it.effect("produces long answers on request, and stops at maxTokens with stop reason max_tokens", () =>
    Effect.gen(function*() {
      const long = textOf(yield* collect(Model.makeScripted({ tokensPerSecond: 0, words: 5000 }), ask("load test")))
      expect(long.split(/\s+/).length).toBeGreaterThanOrEqual(5000)
      const capped = yield* collect(unlimited, ask("hello", { maxTokens: 10 }))
      expect(capped.filter((e) => e._tag === "TextDelta")).toHaveLength(10)
      expect(capped.at(-2)).toMatchObject({ stopReason: "max_tokens", usage: { outputTokens: 10 } })
    }))

  it.effect("emits at the configured rate on the Effect Clock (TestClock drives it)", () =>
    Effect.gen(function*() {
      const seen = yield* Ref.make(0)
      const fiber = yield* Model.makeScripted({ tokensPerSecond: 10 })
        .stream(ask("pace me"))
        .pipe(
          Stream.runForEach((e) => (e._tag === "TextDelta" ? Ref.update(seen, (n) => n + 1) : Effect.void)),
          Effect.fork
        )
      yield* TestClock.adjust(0)
      expect(yield* Ref.get(seen)).toBe(0)
      yield* TestClock.adjust("1 second")
      expect(yield* Ref.get(seen)).toBe(10)
      yield* TestClock.adjust("2 seconds")
      expect(yield* Ref.get(seen)).toBe(30)
      yield* Fiber.interrupt(fiber)
    }))
})

describe("Model.layerFromEnv", () => {
  const nameWith = (env: Record<string, string>) =>
    Effect.gen(function*() {
      const m = yield* Model.Model
      return m.name
    }).pipe(
      Effect.provide(AnthropicModel.layerFromEnv().pipe(Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)))))))
    )

  it.effect("picks the offline demo model without ANTHROPIC_API_KEY (or with an empty one)", () =>
    Effect.gen(function*() {
      expect(yield* nameWith({})).toBe("offline demo model")
      expect(yield* nameWith({ ANTHROPIC_API_KEY: "  " })).toBe("offline demo model")
    }))

  it.effect("picks Anthropic with a key, honouring ANTHROPIC_MODEL", () =>
    Effect.gen(function*() {
      expect(yield* nameWith({ ANTHROPIC_API_KEY: "sk-x" })).toBe(AnthropicModel.defaultModel)
      expect(yield* nameWith({ ANTHROPIC_API_KEY: "sk-x", ANTHROPIC_MODEL: "claude-haiku-4-5" })).toBe("claude-haiku-4-5")
    }))
})
