/**
 * The retry/rollback policy and the per-attempt timeouts, driven exactly by TestClock
 * (no network: attempts are hand-made streams / async iterables).
 */
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Exit, Fiber, Option, Ref, Stream, TestClock } from "effect"
import * as anthropic from "../src/anthropic/internal/client.js"
import * as Retry from "../src/internal/retry.js"
import { Model, ModelError, type ModelEvent } from "../src/index.js"

const start: ModelEvent.ModelEvent = { _tag: "MessageStart", messageId: "m", model: "x", usage: { inputTokens: 1, outputTokens: 1 } }
const text = (t: string): ModelEvent.ModelEvent => ({ _tag: "TextDelta", index: 0, text: t })
const end: ModelEvent.ModelEvent = { _tag: "MessageEnd" }
const policy = Retry.resolve({ baseDelayMs: 1000, maxDelayMs: 30_000, maxAttempts: 3 })

/** A stream's chunks pushed to a consumer, as a model's `consume` does. */
const pushed = <E>(stream: Stream.Stream<ModelEvent.ModelEvent, ModelError.ModelError>, onEvents: Model.OnEvents<E>) =>
  Stream.runForEachChunk(stream, (c) => onEvents(Chunk.toReadonlyArray(c)) ?? Effect.void)

/** One attempt as a Stream (what `AnthropicModel`'s `stream` is made of). */
const attemptStream = (
  src: anthropic.Source<ModelEvent.ModelEvent>,
  mapper: { readonly map: (e: ModelEvent.ModelEvent) => ReadonlyArray<ModelEvent.ModelEvent>; readonly stopped: () => boolean },
  limits: anthropic.AttemptLimits
) => Model.streamOf((onEvents) => anthropic.attempt(src, mapper, limits, anthropic.toModelError, onEvents))

/** Run `withRetry` in a fork, recording events and attempts. */
const harness = (
  behave: (n: number) => Stream.Stream<ModelEvent.ModelEvent, ModelError.ModelError>,
  p: Retry.ResolvedRetry = policy
) =>
  Effect.gen(function*() {
    const events = yield* Ref.make<Array<ModelEvent.ModelEvent>>([])
    const attempts = yield* Ref.make(0)
    const fiber = yield* Retry.withRetry(
      p,
      (n, onEvents) => Effect.zipRight(Ref.set(attempts, n), pushed(behave(n), onEvents)),
      (es) => Ref.update(events, (xs) => [...xs, ...es])
    ).pipe(Effect.fork)
    yield* TestClock.adjust(0)
    return { events, attempts, fiber }
  })

const overloaded = new ModelError.Overloaded({ message: "Overloaded" })

describe("retry policy (TestClock)", () => {
  it.effect("a failure before any output is retried invisibly after a jittered exponential backoff", () =>
    Effect.gen(function*() {
      const h = yield* harness((n) => (n === 1 ? Stream.fail(overloaded) : Stream.make(start, text("ok"), end)))
      expect(yield* Ref.get(h.attempts)).toBe(1)
      yield* TestClock.adjust("799 millis") // jitter ×0.8–1.2 of 1 s
      expect(yield* Ref.get(h.attempts)).toBe(1)
      yield* TestClock.adjust("401 millis")
      expect(yield* Ref.get(h.attempts)).toBe(2)
      yield* Fiber.join(h.fiber)
      expect((yield* Ref.get(h.events)).map((e) => e._tag)).toEqual(["MessageStart", "TextDelta", "MessageEnd"])
    }))

  it.effect("after output: Rollback at once (before the wait), then the next attempt", () =>
    Effect.gen(function*() {
      const h = yield* harness((n) =>
        n === 1 ? Stream.concat(Stream.make(start, text("half")), Stream.fail(overloaded)) : Stream.make(start, text("whole"), end)
      )
      expect((yield* Ref.get(h.events)).map((e) => e._tag)).toEqual(["MessageStart", "TextDelta", "Rollback"])
      expect((yield* Ref.get(h.events))[2]).toEqual({ _tag: "Rollback", attempt: 2, reason: "Overloaded: Overloaded" })
      yield* TestClock.adjust("1200 millis")
      yield* Fiber.join(h.fiber)
      expect((yield* Ref.get(h.events)).map((e) => e._tag)).toEqual([
        "MessageStart", "TextDelta", "Rollback", "MessageStart", "TextDelta", "MessageEnd"
      ])
    }))

  it.effect("retry-after sets the minimum wait", () =>
    Effect.gen(function*() {
      const h = yield* harness((n) =>
        n === 1 ? Stream.fail(new ModelError.RateLimited({ message: "slow down", retryAfterMs: 5000 })) : Stream.make(end)
      )
      yield* TestClock.adjust("4999 millis")
      expect(yield* Ref.get(h.attempts)).toBe(1)
      yield* TestClock.adjust("1 millis")
      expect(yield* Ref.get(h.attempts)).toBe(2)
      yield* Fiber.join(h.fiber)
    }))

  it.effect("…but is capped at maxRetryAfterMs", () =>
    Effect.gen(function*() {
      const h = yield* harness(
        (n) => (n === 1 ? Stream.fail(new ModelError.Overloaded({ message: "busy", retryAfterMs: 600_000 })) : Stream.make(end)),
        Retry.resolve({ baseDelayMs: 10, maxRetryAfterMs: 2000 })
      )
      yield* TestClock.adjust("2000 millis")
      expect(yield* Ref.get(h.attempts)).toBe(2)
      yield* Fiber.join(h.fiber)
    }))

  it.effect("bounded: after maxAttempts the last error fails the stream", () =>
    Effect.gen(function*() {
      const h = yield* harness(() => Stream.fail(new ModelError.Internal({ message: "500", status: 500 })))
      yield* TestClock.adjust("1 minute")
      const exit = yield* Fiber.await(h.fiber)
      expect(Exit.isFailure(exit)).toBe(true)
      expect(yield* Ref.get(h.attempts)).toBe(3)
    }))

  it.effect("Auth, BadRequest and Timeout are not retried", () =>
    Effect.gen(function*() {
      for (const error of [
        new ModelError.Auth({ message: "no" }),
        new ModelError.BadRequest({ message: "bad", status: 400 }),
        new ModelError.Timeout({ message: "idle", which: "idle", afterMs: 1 })
      ]) {
        const h = yield* harness(() => Stream.fail(error))
        const exit = yield* Fiber.await(h.fiber)
        expect(exit).toEqual(Exit.fail(error))
        expect(yield* Ref.get(h.attempts)).toBe(1)
      }
    }))

  it.effect("delayFor: exponential, capped, jitter applied, retry-after as a floor", () =>
    Effect.sync(() => {
      const p = Retry.resolve({ baseDelayMs: 1000, maxDelayMs: 8000, maxRetryAfterMs: 30_000 })
      expect([1, 2, 3, 4, 5].map((n) => Retry.delayFor(p, n, overloaded, 1))).toEqual([1000, 2000, 4000, 8000, 8000])
      expect(Retry.delayFor(p, 1, overloaded, 0.8)).toBe(800)
      expect(Retry.delayFor(p, 1, new ModelError.RateLimited({ message: "", retryAfterMs: 3000 }), 1)).toBe(3000)
    }))

  it.effect("a retry whose wait would end past the run's deadline is not attempted", () =>
    Effect.gen(function*() {
      const attempts = yield* Ref.make(0)
      const fiber = yield* Retry.withRetry(
        policy,
        (n) => Effect.zipRight(Ref.set(attempts, n), Effect.fail(overloaded)),
        () => undefined,
        500
      ).pipe(Effect.fork)
      yield* TestClock.adjust(0)
      expect(yield* Fiber.await(fiber)).toEqual(Exit.fail(overloaded))
      expect(yield* Ref.get(attempts)).toBe(1)
    }))
})

/**
 * A hand-made SDK-like source: yields `items`, then hangs (or ends). Like the SDK, an abort makes a
 * pending `open` reject and a pending `next` end quietly. Records its abort signal.
 */
const source = (items: ReadonlyArray<ModelEvent.ModelEvent>, o: { then?: "hang" | "end"; openHangs?: boolean } = {}) => {
  let signal: AbortSignal | undefined
  let i = 0
  const onAbort = <T>(f: (resolve: (t: T) => void, reject: (e: unknown) => void) => void) =>
    new Promise<T>((resolve, reject) => signal!.addEventListener("abort", () => f(resolve, reject), { once: true }))
  return {
    signal: () => signal,
    open: (s: AbortSignal) => {
      signal = s
      if (o.openHangs) return onAbort<AsyncIterable<ModelEvent.ModelEvent>>((_, reject) => reject(new Error("Request was aborted.")))
      return Promise.resolve({
        [Symbol.asyncIterator]: () => ({
          next: (): Promise<IteratorResult<ModelEvent.ModelEvent>> =>
            i < items.length
              ? Promise.resolve({ done: false, value: items[i++]! })
              : o.then === "end"
                ? Promise.resolve({ done: true, value: undefined })
                : onAbort((resolve) => resolve({ done: true, value: undefined }))
        })
      })
    }
  }
}
const passThrough = { map: (e: ModelEvent.ModelEvent) => [e], stopped: () => false }
const timeouts = { firstTokenMs: 60_000, idleMs: 120_000 }

describe("attempt timeouts and abort (TestClock)", () => {
  it.effect("idle: a stall after the first event fails with Timeout{idle} exactly at idleMs and aborts", () =>
    Effect.gen(function*() {
      const src = source([start])
      const fiber = yield* attemptStream(src, passThrough, timeouts).pipe(Stream.runCollect, Effect.fork)
      yield* TestClock.adjust(0)
      yield* TestClock.adjust("119999 millis")
      expect(Option.isNone(yield* Fiber.poll(fiber))).toBe(true)
      expect(src.signal()!.aborted).toBe(false)
      yield* TestClock.adjust("1 millis")
      const exit = yield* Fiber.await(fiber)
      expect(exit).toEqual(Exit.fail(new ModelError.Timeout({ message: "no model event for 120000 ms", which: "idle", afterMs: 120_000 })))
      expect(src.signal()!.aborted).toBe(true)
    }))

  it.effect("firstToken: no headers within firstTokenMs fails with Timeout{firstToken} and aborts", () =>
    Effect.gen(function*() {
      const src = source([], { openHangs: true })
      const fiber = yield* attemptStream(src, passThrough, timeouts).pipe(Stream.runCollect, Effect.fork)
      yield* TestClock.adjust("60 seconds")
      const exit = yield* Fiber.await(fiber)
      expect(Exit.isFailure(exit) && JSON.stringify(exit).includes("firstToken")).toBe(true)
      expect(src.signal()!.aborted).toBe(true)
    }))

  it.effect("total: the run's deadline ends even a healthy-but-slow attempt with Timeout{total}", () =>
    Effect.gen(function*() {
      const src = source([start])
      const fiber = yield* attemptStream(src, passThrough, { ...timeouts, deadline: { at: 5000, totalMs: 5000 } }).pipe(
        Stream.runDrain,
        Effect.fork
      )
      yield* TestClock.adjust("4999 millis")
      expect(Option.isNone(yield* Fiber.poll(fiber))).toBe(true)
      yield* TestClock.adjust("1 millis")
      expect(yield* Fiber.await(fiber)).toEqual(
        Exit.fail(new ModelError.Timeout({ message: "the model run took longer than 5000 ms", which: "total", afterMs: 5000 }))
      )
      expect(src.signal()!.aborted).toBe(true)
    }))

  it.effect("time the consumer spends between pulls is not idle time", () =>
    Effect.gen(function*() {
      const src = source([start, text("a"), text("b"), end], { then: "end" })
      const got = yield* anthropic.attempt(
        src,
        { map: (e: ModelEvent.ModelEvent) => [e], stopped: () => true },
        { firstTokenMs: 100, idleMs: 100 },
        anthropic.toModelError,
        () => Effect.sleep("1 second") // a slow consumer
      ).pipe(Effect.fork)
      yield* TestClock.adjust("10 seconds")
      const exit = yield* Fiber.await(got)
      expect(Exit.isSuccess(exit)).toBe(true)
    }))

  it.effect("interruption aborts the request", () =>
    Effect.gen(function*() {
      const src = source([start, text("a")])
      const fiber = yield* attemptStream(src, passThrough, timeouts).pipe(Stream.runDrain, Effect.fork)
      yield* TestClock.adjust(0)
      expect(src.signal()!.aborted).toBe(false)
      yield* Fiber.interrupt(fiber)
      expect(src.signal()!.aborted).toBe(true)
    }))

  it.effect("a body that ends without message_stop is a Network error; after it, a clean end does not abort", () =>
    Effect.gen(function*() {
      const src = source([start], { then: "end" })
      const error = yield* attemptStream(src, passThrough, timeouts).pipe(Stream.runDrain, Effect.flip)
      expect(error._tag).toBe("Network")
      const ok = source([start, end], { then: "end" })
      yield* attemptStream(ok, { map: (e: ModelEvent.ModelEvent) => [e], stopped: () => true }, timeouts).pipe(
        Stream.runDrain
      )
      expect(ok.signal()!.aborted).toBe(false)
    }))
})

describe("mapping", () => {
  it("holds MessageStart back until the first content event", () => {
    const m = anthropic.makeMapper()
    expect(m.map({ type: "message_start", message: { id: "m1", model: "x", usage: { input_tokens: 3, output_tokens: 1 } } } as any)).toEqual([])
    expect(m.map({ type: "ping" })).toEqual([])
    expect(m.map({ type: "content_block_start", index: 0, content_block: { type: "text", text: "" } } as any)).toEqual([])
    const out = m.map({ type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "Hi" } } as any)
    expect(out.map((e) => e._tag)).toEqual(["MessageStart", "TextDelta"])
  })

  it("maps redacted thinking, and keeps unparsable tool input as the raw string", () => {
    const m = anthropic.makeMapper()
    m.map({ type: "message_start", message: { id: "m", model: "x", usage: {} } } as any)
    m.map({ type: "content_block_start", index: 0, content_block: { type: "redacted_thinking", data: "xx" } } as any)
    expect(m.map({ type: "content_block_stop", index: 0 } as any)).toContainEqual({ _tag: "ThinkingEnd", index: 0, redacted: true })
    m.map({ type: "content_block_start", index: 1, content_block: { type: "tool_use", id: "t", name: "n", input: {} } } as any)
    m.map({ type: "content_block_delta", index: 1, delta: { type: "input_json_delta", partial_json: "{\"a\":" } } as any)
    expect(m.map({ type: "content_block_stop", index: 1 } as any)).toEqual([{ _tag: "ToolUseEnd", index: 1, input: "{\"a\":" }])
  })

  it("maps SDK errors by type and status, not class", async () => {
    const { default: Anthropic } = await import("@anthropic-ai/sdk")
    const inStream = new Anthropic.APIError(undefined, { type: "error", error: { type: "overloaded_error", message: "Overloaded" } }, undefined, new Headers(), "overloaded_error")
    expect(anthropic.toModelError(inStream)._tag).toBe("Overloaded")
    expect(anthropic.toModelError(new TypeError("terminated"))).toEqual(new ModelError.Network({ message: "terminated" }))
    const h = new Headers({ "retry-after": "2" })
    expect(anthropic.toModelError(Anthropic.APIError.generate(429, { error: { type: "rate_limit_error", message: "x" } }, "x", h)))
      .toMatchObject({ _tag: "RateLimited", retryAfterMs: 2000 })
    expect(anthropic.toModelError(Anthropic.APIError.generate(529, { error: { type: "overloaded_error", message: "x" } }, "x", new Headers())))
      .toMatchObject({ _tag: "Overloaded" })
    expect(anthropic.toModelError(Anthropic.APIError.generate(403, { error: { type: "permission_error", message: "x" } }, "x", new Headers())))
      .toMatchObject({ _tag: "Auth" })
    expect(anthropic.toModelError(Anthropic.APIError.generate(422, { error: { type: "invalid_request_error", message: "x" } }, "x", new Headers())))
      .toMatchObject({ _tag: "BadRequest", status: 422 })
    expect(anthropic.toModelError(Anthropic.APIError.generate(503, undefined, "x", new Headers())))
      .toMatchObject({ _tag: "Internal", status: 503 })
  })
})
