import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Stream } from "effect"
import * as fc from "fast-check"
import { Model, type ModelEvent, Reasoning } from "../src/index.js"

describe("Reasoning.plan", () => {
  it("level 1: a short, plain question", () => {
    const p = Reasoning.plan("What time is it in Tokyo?")
    expect(p.level).toBe(1)
    expect(p.score).toBeLessThanOrEqual(3)
    expect(p.steps).toBe(5)
    expect(p.thinking).toEqual({ _tag: "Disabled" })
    expect(p.model).toBe("claude-haiku-4-5")
  })

  it("level 2: code alone (+4)", () => {
    const p = Reasoning.plan("Why does `arr.sort()` reorder my numbers?")
    expect(p.factors.code).toBe(4)
    expect(p.level).toBe(2)
    expect(p.steps).toBe(15)
    expect(p.thinking).toEqual({ _tag: "Adaptive", effort: "medium" })
  })

  it("level 3: a design question with code", () => {
    const p = Reasoning.plan("How should I design the retry loop around `fetch(url)`?")
    expect(p.factors).toMatchObject({ keywords: 3, code: 4 })
    expect(p.level).toBe(3)
    expect(p.steps).toBe(30)
    expect(p.thinking).toEqual({ _tag: "Adaptive", effort: "high" })
  })

  it("level 4: long, complex, negative, architecture + code", () => {
    const msg =
      "Our system architecture is broken: the queue consumer crashes when the broker restarts, which loses messages, " +
      "and the retry loop `while (true) { poll() }` never backs off, because nobody wrote a test. " +
      "I tried restarting, rewriting the handler, and pinning versions; however nothing worked, so what would you change " +
      "in the design if you had to keep the existing database, the same deployment and the same team?"
    const p = Reasoning.plan(msg)
    expect(p.factors).toMatchObject({ keywords: 3, code: 4, length: 3, sentiment: 2 })
    expect(p.factors.syntax).toBeGreaterThan(0)
    expect(p.level).toBe(4)
    expect(p.steps).toBe(50 + Math.min(Math.floor(p.words / 20), 25))
    expect(p.model).toBe("claude-opus-5-5")
    expect(p.maxTokens).toBe(32000)
  })

  it("Chinese keywords and CJK word counting", () => {
    const p = Reasoning.plan("请帮我设计一个分布式系统的架构")
    expect(p.factors.keywords).toBe(3)
    expect(p.words).toBe(Math.ceil(15 / 2))
  })

  it("thresholds are the seed's: ≤3 → 1, ≤6 → 2, ≤9 → 3, else 4", () => {
    expect([0, 3, 4, 6, 7, 9, 10, 16].map(Reasoning.levelFor)).toEqual([1, 1, 2, 2, 3, 3, 4, 4])
  })

  it("steps: base + min(words/20, base/2)", () => {
    expect(Reasoning.stepsFor(5, 0)).toBe(5)
    expect(Reasoning.stepsFor(5, 100)).toBe(7)
    expect(Reasoning.stepsFor(30, 200)).toBe(40)
    expect(Reasoning.stepsFor(50, 10_000)).toBe(75)
  })

  it("levels are configurable per level", () => {
    const p = Reasoning.plan("hi", { levels: { 1: { model: "my-model", maxTokens: 100 } } })
    expect(p).toMatchObject({ model: "my-model", maxTokens: 100, thinking: { _tag: "Disabled" } })
  })

  it("apply: fills model, thinking, max tokens; the request's own values win", () => {
    const p = Reasoning.plan("design a system", { pinnedLevel: 3 })
    const req: Model.ModelRequest = { messages: [{ role: "user", content: "x" }] }
    expect(Reasoning.apply(p, req)).toMatchObject({ model: p.model, thinking: p.thinking, maxTokens: p.maxTokens })
    expect(Reasoning.apply(p, { ...req, model: "mine" }).model).toBe("mine")
  })

  it("is fast: 10k plans of a 300-word message in well under a second", () => {
    const msg = "Please review this design, because the system fails when `x == y`; ".repeat(30)
    const t0 = performance.now()
    for (let i = 0; i < 10_000; i++) Reasoning.plan(msg)
    expect(performance.now() - t0).toBeLessThan(5_000) // correctness bound only; numbers in the bench
  })

  const level = fc.constantFrom<Reasoning.Level>(1, 2, 3, 4)
  const keyword = fc.constantFrom("design", "architecture", "system", "Design", "SYSTEM", "设计", "架构", "系统")

  it("property: a pinned level always wins, and planning is deterministic", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 400 }), level, (msg, pinned) => {
        const p = Reasoning.plan(msg, { pinnedLevel: pinned })
        expect(p.level).toBe(pinned)
        expect(p.pinned).toBe(true)
        expect(Reasoning.plan(msg, { pinnedLevel: pinned })).toEqual(p)
      })
    )
  })

  it("property: the score never drops when keywords are added (before or after)", () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ maxLength: 300 }), fc.lorem({ maxCount: 60 })),
        fc.array(keyword, { minLength: 1, maxLength: 5 }),
        fc.boolean(),
        (msg, kws, before) => {
          const added = before ? `${kws.join(" ")} ${msg}` : `${msg} ${kws.join(" ")}`
          const a = Reasoning.plan(msg)
          const b = Reasoning.plan(added)
          expect(b.score).toBeGreaterThanOrEqual(a.score)
          expect(b.level).toBeGreaterThanOrEqual(a.level)
          expect(b.factors.keywords).toBe(3)
        }
      )
    )
  })
})

const ev = {
  start: { _tag: "MessageStart", messageId: "m", model: "x", usage: { inputTokens: 1, outputTokens: 1 } },
  think: (text: string) => ({ _tag: "ThinkingDelta", index: 0, text }),
  thinkEnd: { _tag: "ThinkingEnd", index: 0 },
  text: (text: string) => ({ _tag: "TextDelta", index: 1, text }),
  textEnd: { _tag: "TextEnd", index: 1 },
  delta: (outputTokens: number) => ({ _tag: "MessageDelta", stopReason: "end_turn", usage: { inputTokens: 1, outputTokens } }),
  end: { _tag: "MessageEnd" }
} as const satisfies Record<string, ModelEvent.ModelEvent | ((s: any) => ModelEvent.ModelEvent)>

const run = (events: ReadonlyArray<ModelEvent.ModelEvent>, plan = { steps: 5, maxTokens: 1000 }) =>
  Stream.fromIterable(events).pipe(Reasoning.progress(plan), Stream.runCollect, Effect.map(Chunk.toReadonlyArray))

describe("Reasoning.progress", () => {
  it.effect("thinking paragraphs (split across deltas) count as steps; MessageEnd completes", () =>
    Effect.gen(function*() {
      const out = yield* run([
        ev.start,
        ev.think("First I look at the input.\n"),
        ev.think("\nThen I check edge cases."),
        ev.think("\n\nFinally"),
        ev.think(" I decide."),
        ev.thinkEnd,
        ev.text("The answer."),
        ev.textEnd,
        ev.delta(50),
        ev.end
      ])
      expect(out.map((u) => [u.step, u.status, u.progress])).toEqual([
        [0, "planning", 0],
        [0, "reasoning", 0],
        [1, "reasoning", 0.2],
        [2, "reasoning", 0.4],
        [3, "reasoning", 0.6],
        [3, "answering", 0.6],
        [5, "completed", 1]
      ])
      expect(out.every((u) => u.total === 5)).toBe(true)
    }))

  it.effect("without thinking, tokens against maxTokens drive the steps, capped below total until the end", () =>
    Effect.gen(function*() {
      const chunk = "x".repeat(400) // ≈100 tokens each
      const out = yield* run([ev.start, ...Array.from({ length: 12 }, () => ev.text(chunk)), ev.end], { steps: 5, maxTokens: 1000 })
      expect(out.map((u) => u.step)).toEqual([0, 0, 1, 2, 3, 4, 5])
      expect(out.at(-2)!.status).toBe("answering")
      expect(out.at(-1)).toMatchObject({ status: "completed", step: 5, progress: 1 })
    }))

  it.effect("reported usage replaces the estimate; step never goes down", () =>
    Effect.gen(function*() {
      const out = yield* run([ev.start, ev.text("x".repeat(2000)), ev.delta(100), ev.end], { steps: 10, maxTokens: 1000 })
      expect(out.map((u) => u.step)).toEqual([0, 5, 10])
    }))

  it.effect("a Rollback resets progress to planning", () =>
    Effect.gen(function*() {
      const out = yield* run([
        ev.start, ev.think("a\n\nb\n\n"), { _tag: "Rollback", attempt: 2, reason: "Overloaded" },
        ev.start, ev.text("ok"), ev.end
      ])
      expect(out.map((u) => `${u.status}:${u.step}`)).toEqual([
        "planning:0", "reasoning:2", "planning:0", "answering:0", "completed:5"
      ])
    }))

  it.effect("a failing stream ends with an error update, then the failure", () =>
    Effect.gen(function*() {
      const seen: Array<Reasoning.Update> = []
      const error = yield* Stream.concat(Stream.make(ev.start, ev.text("hi")), Stream.fail("boom" as const)).pipe(
        Reasoning.progress({ steps: 5, maxTokens: 100 }),
        Stream.runForEach((u) => Effect.sync(() => seen.push(u))),
        Effect.flip
      )
      expect(error).toBe("boom")
      expect(seen.at(-1)).toMatchObject({ status: "error" })
    }))

  it.effect("works on the scripted model with thinking: steps rise to total", () =>
    Effect.gen(function*() {
      const p = Reasoning.plan("design a cache", { pinnedLevel: 2 })
      const out = yield* Model.makeScripted({ tokensPerSecond: 0 })
        .stream(Reasoning.apply(p, { messages: [{ role: "user", content: "design a cache" }] }))
        .pipe(Reasoning.progress(p), Stream.runCollect, Effect.map(Chunk.toReadonlyArray))
      expect(out.some((u) => u.status === "reasoning" && u.step > 0)).toBe(true)
      expect(out.at(-1)).toMatchObject({ status: "completed", step: p.steps, total: p.steps })
      const steps = out.map((u) => u.step)
      expect([...steps].sort((a, b) => a - b)).toEqual(steps)
    }))
})

describe("Reasoning.progress is the documented fraction", () => {
  it.effect("property: every update's progress is step / total in 0–1, and 1 only when completed", () =>
    Effect.gen(function* () {
      const event = fc.oneof(
        fc.string({ maxLength: 200 }).map(ev.think),
        fc.string({ maxLength: 400 }).map(ev.text),
        fc.constant<ModelEvent.ModelEvent>(ev.thinkEnd),
        fc.integer({ min: 1, max: 2000 }).map(ev.delta)
      )
      const samples = fc.sample(
        fc.tuple(fc.array(event, { maxLength: 40 }), fc.integer({ min: 1, max: 15 }), fc.integer({ min: 50, max: 4000 })),
        { numRuns: 100, seed: 7 }
      )
      for (const [events, steps, maxTokens] of samples) {
        const out = yield* run([ev.start, ...events, ev.end], { steps, maxTokens })
        for (const u of out) {
          expect(u.progress).toBeGreaterThanOrEqual(0)
          expect(u.progress).toBeLessThanOrEqual(1)
          expect(u.progress).toBeCloseTo(u.step / u.total, 3)
          if (u.status !== "completed") expect(u.progress).toBeLessThan(1)
        }
        expect(out.at(-1)).toMatchObject({ status: "completed", progress: 1 })
      }
    }))
})
