/**
 * The Anthropic adapter through the REAL `@anthropic-ai/sdk` against the fake server on loopback.
 * Every fault ends in a defined outcome; after the suite the fake server has no open connection
 * and the process has no socket or timer left over from this file.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Exit, Fiber, Stream } from "effect"
import { performance } from "node:perf_hooks"
import { Model, type ModelEvent } from "../src/index.js"
import * as AnthropicModel from "../src/anthropic/AnthropicModel.js"
import * as FakeAnthropic from "../fakes/FakeAnthropic.js"

let server: FakeAnthropic.FakeAnthropicServer
let baseline: Record<string, number>

const count = (xs: ReadonlyArray<string>) =>
  // biome-ignore lint/performance/noAccumulatingSpread: a handful of items in a test
  xs.reduce<Record<string, number>>((m, x) => ({ ...m, [x]: (m[x] ?? 0) + 1 }), {})

beforeAll(async () => {
  baseline = count(process.getActiveResourcesInfo())
  server = await FakeAnthropic.start()
})

afterAll(async () => {
  await server.close()
  expect(server.openConnections()).toBe(0)
  expect(server.connections.every((c) => c.closedAt !== undefined)).toBe(true)
  await new Promise((r) => setImmediate(r))
  const now = count(process.getActiveResourcesInfo())
  for (const kind of ["TCPSocketWrap", "TCPServerWrap", "Timeout"]) {
    expect(now[kind] ?? 0, `${kind} left over`).toBeLessThanOrEqual(baseline[kind] ?? 0)
  }
})

const fast = {
  retry: { baseDelayMs: 5, maxDelayMs: 20, maxAttempts: 3 },
  timeouts: { firstTokenMs: 2_000, idleMs: 2_000, totalMs: 10_000 }
} as const

const model = (o: AnthropicModel.Options = {}) =>
  AnthropicModel.make({ apiKey: "sk-test", baseURL: server.url, model: "claude-sonnet-5-5", ...fast, ...o })

const request: Model.ModelRequest = { messages: [{ role: "user", content: "What is the capital of France?" }] }

const collect = (o: AnthropicModel.Options = {}, req: Model.ModelRequest = request) =>
  model(o).stream(req).pipe(Stream.runCollect, Effect.map(Chunk.toReadonlyArray))

const tags = (events: ReadonlyArray<ModelEvent.ModelEvent>) => events.map((e) => e._tag)
const textOf = (events: ReadonlyArray<ModelEvent.ModelEvent>) =>
  events.map((e) => (e._tag === "TextDelta" ? e.text : "")).join("")
/** What a subscriber keeps: everything after the latest Rollback. */
const afterLastRollback = (events: ReadonlyArray<ModelEvent.ModelEvent>) => {
  const i = events.map((e) => e._tag).lastIndexOf("Rollback")
  return events.slice(i + 1)
}
const requestsSince = (n: number) => server.requests.slice(n)

describe("Anthropic adapter (real SDK, fake server)", () => {
  it.live("streams Example A as MessageStart, TextDelta…, TextEnd, MessageDelta, MessageEnd", () =>
    Effect.gen(function*() {
      const n = server.requests.length
      server.enqueue(FakeAnthropic.text(["Sure", " — the capital of France is", " **Paris**.\n\nAnything else?"]))
      const events = yield* collect()
      expect(tags(events)).toEqual([
        "MessageStart", "TextDelta", "TextDelta", "TextDelta", "TextEnd", "MessageDelta", "MessageEnd"
      ])
      expect(textOf(events)).toBe("Sure — the capital of France is **Paris**.\n\nAnything else?")
      expect(events[0]).toMatchObject({ messageId: "msg_01FakeTextExample0001", usage: { inputTokens: 21 } })
      expect(events[5]).toMatchObject({ stopReason: "end_turn", usage: { inputTokens: 21 } })
      const [req] = requestsSince(n)
      expect(req!.auth).toBe("bearer")
      expect(req!.apiVersion).toBe("2026-10-21")
      expect(req!.headers["x-stainless-retry-count"]).toBe("0")
      expect(req!.body).toMatchObject({ model: "claude-sonnet-5-5", max_tokens: 4096, stream: true })
    }))

  it.live("consume (the run loop's push form) hands on the same events as stream, and waits for a slow consumer", () =>
    Effect.gen(function*() {
      const parts = ["Sure", " — the capital of France is", " **Paris**.", "\n\nAnything else?"]
      server.enqueue(FakeAnthropic.text(parts))
      const streamed = yield* collect()
      server.enqueue(FakeAnthropic.text(parts))
      const pushed: Array<ModelEvent.ModelEvent> = []
      let busy = false
      let overlapped = false
      yield* Model.consume(model(), request, (events) => {
        if (busy) overlapped = true
        pushed.push(...events)
        busy = true
        // A consumer that needs 20 ms per chunk: the next chunk waits for it (and that time is not idle time).
        return Effect.ensuring(Effect.sleep("20 millis"), Effect.sync(() => (busy = false)))
      })
      expect(overlapped).toBe(false)
      expect(tags(pushed)).toEqual(tags(streamed))
      expect(textOf(pushed)).toBe(textOf(streamed))
    }))

  it.live("thinking streams separately from text, with its signature; adaptive effort goes on the wire", () =>
    Effect.gen(function*() {
      const n = server.requests.length
      server.enqueue(FakeAnthropic.thinkingThenText(["Split 453.", "\n10800 + 1350 + 81 = 12231."], "27 × 453 = **12,231**."))
      const events = yield* collect({}, { ...request, thinking: { _tag: "Adaptive", effort: "high" } })
      expect(tags(events)).toEqual([
        "MessageStart", "ThinkingDelta", "ThinkingDelta", "ThinkingEnd", "TextDelta", "TextEnd", "MessageDelta", "MessageEnd"
      ])
      expect(events[3]).toMatchObject({ index: 0, signature: "EqQBCkYIBhgCIkBfakeSignatureBase64==" })
      expect(textOf(events)).toBe("27 × 453 = **12,231**.")
      expect(events[6]).toMatchObject({ usage: { thinkingTokens: expect.any(Number) } })
      expect(requestsSince(n)[0]!.body).toMatchObject({ thinking: { type: "adaptive" }, output_config: { effort: "high" } })
    }))

  it.live("budget thinking and system prompt are sent as the API expects", () =>
    Effect.gen(function*() {
      const n = server.requests.length
      server.enqueue(FakeAnthropic.text("ok"))
      yield* collect({}, { ...request, system: "Be brief.", maxTokens: 5000, thinking: { _tag: "Budget", budgetTokens: 2048 } })
      expect(requestsSince(n)[0]!.body).toMatchObject({
        system: "Be brief.",
        max_tokens: 5000,
        thinking: { type: "enabled", budget_tokens: 2048 }
      })
    }))

  it.live("the request's model wins over the default, unless forceModel (ANTHROPIC_MODEL) is set", () =>
    Effect.gen(function*() {
      const n = server.requests.length
      server.enqueue(FakeAnthropic.text("a"), FakeAnthropic.text("b"))
      yield* collect({}, { ...request, model: "claude-haiku-4-5" })
      yield* collect({ model: "claude-opus-5-5", forceModel: true }, { ...request, model: "claude-haiku-4-5" })
      expect(requestsSince(n).map((r) => r.body.model)).toEqual(["claude-haiku-4-5", "claude-opus-5-5"])
    }))

  it.live("tool use: start, input deltas, end with the parsed input", () =>
    Effect.gen(function*() {
      server.enqueue(FakeAnthropic.toolUse({ name: "get_weather", input: { city: "Paris", unit: "c" }, text: "Let me check." }))
      const events = yield* collect()
      expect(tags(events)).toEqual([
        "MessageStart", "TextDelta", "TextEnd", "ToolUseStart", "ToolInputDelta", "ToolInputDelta", "ToolUseEnd",
        "MessageDelta", "MessageEnd"
      ])
      expect(events[3]).toMatchObject({ name: "get_weather", id: "toolu_01FakeTool" })
      expect(events[6]).toMatchObject({ input: { city: "Paris", unit: "c" } })
      expect(events[7]).toMatchObject({ stopReason: "tool_use" })
    }))

  it.live("ignores unknown event types", () =>
    Effect.gen(function*() {
      server.enqueue(FakeAnthropic.withUnknownEvent(FakeAnthropic.text("fine")))
      expect(textOf(yield* collect())).toBe("fine")
    }))

  it.live("429 with retry-after: waits at least that long, retries invisibly, succeeds", () =>
    Effect.gen(function*() {
      const n = server.requests.length
      server.enqueue(FakeAnthropic.rateLimited(0.3), FakeAnthropic.text("after the wait"))
      const t0 = performance.now()
      const events = yield* collect()
      expect(performance.now() - t0).toBeGreaterThanOrEqual(290)
      expect(tags(events)).not.toContain("Rollback")
      expect(textOf(events)).toBe("after the wait")
      const reqs = requestsSince(n)
      expect(reqs).toHaveLength(2)
      // our retry, not the SDK's: each attempt is the SDK's first
      expect(reqs.map((r) => r.headers["x-stainless-retry-count"])).toEqual(["0", "0"])
    }))

  it.live("429 spend cap (no retry-after, enforced_spend_limit_reached) is not retried", () =>
    Effect.gen(function*() {
      const n = server.requests.length
      server.enqueue(FakeAnthropic.spendLimit(), FakeAnthropic.text("never"))
      const error = yield* Effect.flip(collect())
      expect(error).toMatchObject({ _tag: "BadRequest", status: 429 })
      expect(requestsSince(n)).toHaveLength(1)
      server.setDefault(FakeAnthropic.answer()) // drop the unused script
      expect(server.pending()).toBe(1)
      yield* collect() // consume it
    }))

  it.live("529 twice then OK: two invisible retries", () =>
    Effect.gen(function*() {
      const n = server.requests.length
      server.enqueue(FakeAnthropic.overloaded(), FakeAnthropic.overloaded(), FakeAnthropic.text("third time lucky"))
      const events = yield* collect()
      expect(textOf(events)).toBe("third time lucky")
      expect(tags(events).filter((t) => t === "MessageStart")).toHaveLength(1)
      expect(requestsSince(n)).toHaveLength(3)
    }))

  it.live("500 on every attempt: fails with Internal after maxAttempts requests", () =>
    Effect.gen(function*() {
      const n = server.requests.length
      server.enqueue(FakeAnthropic.internalError(), FakeAnthropic.internalError(), FakeAnthropic.internalError())
      const error = yield* Effect.flip(collect())
      expect(error).toMatchObject({ _tag: "Internal", status: 500 })
      expect(requestsSince(n)).toHaveLength(3)
    }))

  it.live("401 → Auth, 400/404/413 → BadRequest, none retried", () =>
    Effect.gen(function*() {
      const n = server.requests.length
      server.enqueue(
        FakeAnthropic.httpError(401, "authentication_error", "invalid x-api-key"),
        FakeAnthropic.httpError(400, "invalid_request_error", "max_tokens: too large"),
        FakeAnthropic.httpError(404, "not_found_error", "model: nope"),
        FakeAnthropic.httpError(413, "request_too_large", "too big")
      )
      expect(yield* Effect.flip(collect())).toMatchObject({ _tag: "Auth", message: "invalid x-api-key" })
      expect(yield* Effect.flip(collect())).toMatchObject({ _tag: "BadRequest", status: 400 })
      expect(yield* Effect.flip(collect())).toMatchObject({ _tag: "BadRequest", status: 404 })
      expect(yield* Effect.flip(collect())).toMatchObject({ _tag: "BadRequest", status: 413 })
      expect(requestsSince(n)).toHaveLength(4)
    }))

  it.live("a missing key is rejected by the server as Auth (no auth header sent)", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        AnthropicModel.make({ baseURL: server.url, apiKey: "", ...fast }).stream(request).pipe(Stream.runDrain)
      )
      expect(["Auth", "BadRequest"]).toContain(error._tag)
    }))

  it.live("overloaded_error after some text: Rollback, then a clean second attempt", () =>
    Effect.gen(function*() {
      server.enqueue(FakeAnthropic.errorMidStream(["Partial ", "answer "]), FakeAnthropic.text("Complete answer."))
      const events = yield* collect()
      expect(tags(events)).toEqual([
        "MessageStart", "TextDelta", "TextDelta", "Rollback",
        "MessageStart", "TextDelta", "TextEnd", "MessageDelta", "MessageEnd"
      ])
      expect(events[3]).toMatchObject({ _tag: "Rollback", attempt: 2, reason: expect.stringContaining("Overloaded") })
      expect(textOf(afterLastRollback(events))).toBe("Complete answer.")
    }))

  it.live("overloaded_error right after message_start: retried invisibly (MessageStart was held back)", () =>
    Effect.gen(function*() {
      server.enqueue(FakeAnthropic.errorMidStream([]), FakeAnthropic.text("Clean."))
      const events = yield* collect()
      expect(tags(events)).toEqual(["MessageStart", "TextDelta", "TextEnd", "MessageDelta", "MessageEnd"])
    }))

  it.live("in-stream invalid_request_error is not retried", () =>
    Effect.gen(function*() {
      const n = server.requests.length
      server.enqueue(FakeAnthropic.errorMidStream(["x"], { type: "invalid_request_error", message: "bad" }))
      expect(yield* Effect.flip(collect())).toMatchObject({ _tag: "BadRequest", message: "bad" })
      expect(requestsSince(n)).toHaveLength(1)
    }))

  it.live("connection reset mid-stream: Rollback, retry, success", () =>
    Effect.gen(function*() {
      server.enqueue(FakeAnthropic.resetMidStream(["Half "]), FakeAnthropic.text("Whole."))
      const events = yield* collect()
      const rollback = events.find((e) => e._tag === "Rollback")
      expect(rollback).toMatchObject({ attempt: 2, reason: expect.stringContaining("Network") })
      expect(textOf(afterLastRollback(events))).toBe("Whole.")
    }))

  it.live("invalid JSON in a frame: Rollback, retry, success", () =>
    Effect.gen(function*() {
      server.enqueue(FakeAnthropic.invalidJson(["Half "]), FakeAnthropic.text("Whole."))
      const events = yield* collect()
      expect(events.find((e) => e._tag === "Rollback")).toMatchObject({ reason: expect.stringContaining("invalid JSON") })
      expect(textOf(afterLastRollback(events))).toBe("Whole.")
    }))

  it.live("every attempt resets mid-stream: one Rollback per retry, then Network", () =>
    Effect.gen(function*() {
      server.enqueue(FakeAnthropic.resetMidStream(["a"]), FakeAnthropic.resetMidStream(["b"]), FakeAnthropic.resetMidStream(["c"]))
      const exit = yield* model().stream(request).pipe(
        Stream.runFold([] as Array<ModelEvent.ModelEvent>, (xs, x) => [...xs, x]),
        Effect.exit
      )
      expect(Exit.isFailure(exit)).toBe(true)
      const error = yield* Effect.flip(exit)
      expect(error._tag).toBe("Network")
    }))

  it.live("stall after message_start ends in Timeout{idle}, and the request is aborted", () =>
    Effect.gen(function*() {
      const n = server.requests.length
      server.enqueue(FakeAnthropic.stallAfterStart())
      const error = yield* Effect.flip(collect({ timeouts: { ...fast.timeouts, idleMs: 200 } }))
      expect(error).toMatchObject({ _tag: "Timeout", which: "idle", afterMs: 200 })
      const req = requestsSince(n)[0]!
      yield* Effect.promise(() => server.whenClosed(req))
      expect(req.outcome).toBe("aborted")
    }))

  it.live("a slow first token beyond firstTokenMs ends in Timeout{firstToken}; within it, succeeds", () =>
    Effect.gen(function*() {
      server.enqueue(FakeAnthropic.slowFirstToken(1_000))
      const error = yield* Effect.flip(collect({ timeouts: { ...fast.timeouts, firstTokenMs: 150 } }))
      expect(error).toMatchObject({ _tag: "Timeout", which: "firstToken" })
      server.enqueue(FakeAnthropic.slowFirstToken(100, "late but fine"))
      expect(textOf(yield* collect({ timeouts: { ...fast.timeouts, firstTokenMs: 1_000 } }))).toBe("late but fine")
    }))

  it.live("slow response headers also count against firstTokenMs", () =>
    Effect.gen(function*() {
      server.enqueue({ ...FakeAnthropic.text("x"), headersDelayMs: 1_000 })
      const error = yield* Effect.flip(collect({ timeouts: { ...fast.timeouts, firstTokenMs: 150 } }))
      expect(error).toMatchObject({ _tag: "Timeout", which: "firstToken" })
    }))

  it.live("a run longer than totalMs ends in Timeout{total}", () =>
    Effect.gen(function*() {
      server.enqueue(FakeAnthropic.text(Array.from({ length: 40 }, () => "drip "), { deltaDelayMs: 25 }))
      const error = yield* Effect.flip(collect({ timeouts: { ...fast.timeouts, totalMs: 300 } }))
      expect(error).toMatchObject({ _tag: "Timeout", which: "total", afterMs: 300 })
    }))

  it.live("interrupting the consumer aborts the HTTP request (server sees the connection close)", () =>
    Effect.gen(function*() {
      const n = server.requests.length
      server.enqueue(FakeAnthropic.text(Array.from({ length: 200 }, () => "slow "), { deltaDelayMs: 20 }))
      const firstText = yield* Effect.makeLatch(false)
      const fiber = yield* model().stream(request).pipe(
        Stream.tap((e) => (e._tag === "TextDelta" ? firstText.open : Effect.void)),
        Stream.runDrain,
        Effect.fork
      )
      yield* firstText.await
      const t0 = performance.now()
      yield* Fiber.interrupt(fiber)
      const req = requestsSince(n)[0]!
      const closedAt = yield* Effect.promise(() =>
        Promise.race([server.whenClosed(req), new Promise<number>((r) => setTimeout(() => r(-1), 2_000).unref())])
      )
      expect(closedAt).toBeGreaterThan(0)
      expect(req.outcome).toBe("aborted")
      console.log(`interrupt → server saw close after ${(closedAt - t0).toFixed(1)} ms`)
    }))

  it.live("a consumer that stops early (take) also aborts the request", () =>
    Effect.gen(function*() {
      const n = server.requests.length
      server.enqueue(FakeAnthropic.text(Array.from({ length: 200 }, () => "slow "), { deltaDelayMs: 20 }))
      const events = yield* model().stream(request).pipe(Stream.take(3), Stream.runCollect)
      expect(Chunk.size(events)).toBe(3)
      const req = requestsSince(n)[0]!
      yield* Effect.promise(() => server.whenClosed(req))
      expect(req.outcome).toBe("aborted")
    }))

  it.live("the default script answers with markdown through the real SDK", () =>
    Effect.gen(function*() {
      const events = yield* collect({}, { messages: [{ role: "user", content: "explain retries" }] })
      const text = textOf(events)
      expect(text).toContain("Fake Anthropic server")
      expect(text).toContain("```")
      expect(tags(events).at(-1)).toBe("MessageEnd")
    }))
})
