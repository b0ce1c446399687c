/**
 * Claude through `@anthropic-ai/sdk` as a `Stream<ModelEvent, ModelError>`: raw stream events
 * mapped to ModelEvents, SDK errors mapped to ModelError tags, per-attempt first-event and idle
 * timeouts, an AbortController tied to the stream's scope.
 *
 * @internal
 */
import Anthropic from "@anthropic-ai/sdk"
import { Clock, Duration, Effect, Exit, Fiber, Runtime } from "effect"
import { type ModelRequest, type ModelService, type OnEvents, type Part, streamOf, type Thinking, type ToolChoice } from "../../Model.js"
import * as ModelError from "../../ModelError.js"
import type { MessageStart, ModelEvent } from "../../ModelEvent.js"
import * as Retry from "../../internal/retry.js"

export interface Timeouts {
  /**
   * Request sent → response headers: how long an upstream that does not answer at all (a host that
   * drops packets, a proxy that hangs) may keep a user waiting before the run fails with the URL it
   * tried. Default 10 s. Capped by `firstTokenMs`.
   */
  readonly connectMs?: number
  /** Request sent → first stream event (`message_start`). Default 60 s. */
  readonly firstTokenMs?: number
  /** Longest gap between two stream events after the first. Default 120 s. */
  readonly idleMs?: number
  /** The whole run, all attempts and backoff included. Default 15 min. */
  readonly totalMs?: number
}

export const DEFAULT_TIMEOUTS = { connectMs: 10_000, firstTokenMs: 60_000, idleMs: 120_000, totalMs: 15 * 60_000 } as const

export const DEFAULT_MODEL = "claude-sonnet-5-5"
export const DEFAULT_MAX_TOKENS = 4096

export interface Options {
  readonly apiKey?: string
  readonly baseURL?: string
  /** Default model when the request names none. */
  readonly model?: string
  /** Use `model` even when the request names another (e.g. one picked by the reasoning planner). */
  readonly forceModel?: boolean
  /** Default `max_tokens` when the request gives none. */
  readonly maxTokens?: number
  /** Default thinking when the request gives none (default: none sent). */
  readonly thinking?: Thinking
  readonly timeouts?: Timeouts
  readonly retry?: Retry.RetryOptions
  /** Extra headers on every request (e.g. `anthropic-beta`). */
  readonly headers?: Readonly<Record<string, string>>
  /** Use this SDK client instead of building one (its retries should be off). */
  readonly client?: Anthropic
}

// ---------------------------------------------------------------------------------------------
// errors

const headerMs = (headers: Headers | undefined): number | undefined => {
  if (!headers) return undefined
  const ms = headers.get("retry-after-ms")
  if (ms !== null && Number.isFinite(Number(ms))) return Number(ms)
  const s = headers.get("retry-after")
  if (s === null) return undefined
  const secs = Number(s)
  if (Number.isFinite(secs)) return Math.max(0, secs * 1000)
  const date = Date.parse(s)
  return Number.isFinite(date) ? Math.max(0, date - Date.now()) : undefined
}

const byType = (type: string | null | undefined, message: string, status: number | undefined, retryAfterMs?: number): ModelError.ModelError => {
  const ra = retryAfterMs !== undefined ? { retryAfterMs } : {}
  const st = status !== undefined ? { status } : {}
  switch (type) {
    case "overloaded_error":
      return new ModelError.Overloaded({ message, ...ra })
    case "rate_limit_error":
      return new ModelError.RateLimited({ message, ...ra })
    case "authentication_error":
    case "permission_error":
    case "billing_error":
      return new ModelError.Auth({ message })
    case "invalid_request_error":
    case "not_found_error":
    case "request_too_large":
      return new ModelError.BadRequest({ message, ...st })
    default:
      return new ModelError.Internal({ message, ...st })
  }
}

/** A network failure names the URL that failed and the system's reason (`ECONNREFUSED`), so a wrong
 * or unreachable `ANTHROPIC_BASE_URL` explains itself. */
export const withUrl = (m: ModelError.ModelError, e: unknown, url: string): ModelError.ModelError => {
  if (m._tag !== "Network") return m
  const codeOf = (x: unknown): unknown => (x as { readonly code?: unknown } | undefined)?.code
  const cause = (e as { readonly cause?: unknown } | undefined)?.cause
  const code = codeOf(cause) ?? codeOf((cause as { readonly cause?: unknown } | undefined)?.cause)
  return new ModelError.Network({ message: `${url}: ${typeof code === "string" ? `${code}, ` : ""}${m.message}` })
}

/**
 * SDK error → ModelError. Branches on the error *type* and status, not on the class: an in-stream
 * `event: error` arrives as a bare `APIError` with `status` undefined and `type` set.
 */
export const toModelError = (e: unknown): ModelError.ModelError => {
  if (e instanceof Anthropic.APIConnectionTimeoutError) {
    return new ModelError.Timeout({ message: "no response headers in time", which: "firstToken", afterMs: 0 })
  }
  if (e instanceof Anthropic.APIConnectionError || e instanceof Anthropic.APIUserAbortError) {
    return new ModelError.Network({ message: e.message })
  }
  if (e instanceof Anthropic.APIError) {
    const message = e.apiMessage ?? e.message
    const status = e.status
    if (status === undefined) return byType(e.type, message, undefined) // in-stream `event: error`
    const retryAfterMs = headerMs(e.headers)
    if (status === 401 || status === 402 || status === 403) return new ModelError.Auth({ message })
    if (status === 429) {
      if (e.errorCode === "enforced_spend_limit_reached") {
        return new ModelError.BadRequest({ message: `spend limit reached: ${message}`, status })
      }
      return new ModelError.RateLimited({ message, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) })
    }
    if (status === 529) return new ModelError.Overloaded({ message, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) })
    if (status === 408 || status === 409 || status >= 500) return new ModelError.Internal({ message, status })
    return new ModelError.BadRequest({ message, status })
  }
  if (e instanceof SyntaxError) return new ModelError.Internal({ message: `invalid JSON in a stream frame: ${e.message}` })
  if (e instanceof Error) return new ModelError.Network({ message: e.message || e.name }) // undici `TypeError: terminated`, ECONNRESET
  return new ModelError.Network({ message: String(e) })
}

// ---------------------------------------------------------------------------------------------
// events

type Raw = Anthropic.Messages.RawMessageStreamEvent | { readonly type: string }

/** Stateful raw-event → ModelEvent mapper for one attempt (blocks keyed by `index`). */
export const makeMapper = () => {
  const blocks = new Map<number, { type: string; json: string; signature?: string }>()
  let start: MessageStart | undefined
  let pendingStart: MessageStart | undefined
  let inputTokens = 0
  let stopped = false
  /** Events to emit for one raw event. The MessageStart is held back until the next event. */
  const map = (raw: Raw): Array<ModelEvent> => {
    const out: Array<ModelEvent> = []
    // biome-ignore lint/suspicious/noExplicitAny: raw SDK stream events, including types newer than the SDK typings
    const ev = raw as any
    switch (raw.type) {
      case "message_start": {
        const u = ev.message?.usage ?? {}
        inputTokens = u.input_tokens ?? 0
        start = {
          _tag: "MessageStart",
          messageId: String(ev.message?.id ?? ""),
          model: String(ev.message?.model ?? ""),
          usage: { inputTokens, outputTokens: u.output_tokens ?? 0 }
        }
        pendingStart = start
        return out
      }
      case "content_block_start": {
        const b = ev.content_block ?? {}
        blocks.set(ev.index, { type: b.type, json: "" })
        if (b.type === "tool_use") out.push({ _tag: "ToolUseStart", index: ev.index, id: String(b.id), name: String(b.name) })
        else if (b.type === "text" && typeof b.text === "string" && b.text !== "") {
          out.push({ _tag: "TextDelta", index: ev.index, text: b.text })
        }
        break
      }
      case "content_block_delta": {
        const d = ev.delta ?? {}
        const block = blocks.get(ev.index)
        switch (d.type) {
          case "text_delta":
            if (d.text !== "") out.push({ _tag: "TextDelta", index: ev.index, text: d.text })
            break
          case "thinking_delta":
            if (d.thinking !== "") out.push({ _tag: "ThinkingDelta", index: ev.index, text: d.thinking })
            break
          case "signature_delta":
            if (block) block.signature = d.signature
            break
          case "input_json_delta":
            if (block) block.json += d.partial_json
            if (d.partial_json !== "") out.push({ _tag: "ToolInputDelta", index: ev.index, partialJson: d.partial_json })
            break
        }
        break
      }
      case "content_block_stop": {
        const block = blocks.get(ev.index)
        if (!block) break
        if (block.type === "text") out.push({ _tag: "TextEnd", index: ev.index })
        else if (block.type === "thinking") {
          out.push({ _tag: "ThinkingEnd", index: ev.index, ...(block.signature ? { signature: block.signature } : {}) })
        } else if (block.type === "redacted_thinking") out.push({ _tag: "ThinkingEnd", index: ev.index, redacted: true })
        else if (block.type === "tool_use") {
          let input: unknown = block.json
          try {
            input = block.json === "" ? {} : JSON.parse(block.json)
          } catch {
            // keep the raw string; the consumer sees what the model sent
          }
          out.push({ _tag: "ToolUseEnd", index: ev.index, input })
        }
        break
      }
      case "message_delta": {
        const u = ev.usage ?? {}
        const thinkingTokens = u.output_tokens_details?.thinking_tokens
        out.push({
          _tag: "MessageDelta",
          stopReason: ev.delta?.stop_reason ?? null,
          usage: {
            inputTokens: u.input_tokens ?? inputTokens,
            outputTokens: u.output_tokens ?? 0,
            ...(typeof thinkingTokens === "number" ? { thinkingTokens } : {})
          }
        })
        break
      }
      case "message_stop":
        stopped = true
        out.push({ _tag: "MessageEnd" })
        break
      default:
        return out // ping, unknown future events
    }
    if (pendingStart !== undefined && out.length > 0) {
      out.unshift(pendingStart)
      pendingStart = undefined
    }
    return out
  }
  return { map, stopped: () => stopped, started: () => start !== undefined }
}

// ---------------------------------------------------------------------------------------------
// one attempt

export interface Source<A> {
  /** Open the request; resolve once the response headers are in. Must honour `signal`. */
  readonly open: (signal: AbortSignal) => Promise<AsyncIterable<A>>
}

const IMMEDIATE: unique symbol = Symbol("immediate")

/** Resolves in the event loop's next check phase; one timer per turn, shared by every stream reading. */
let immediate: Promise<typeof IMMEDIATE> | undefined
const nextImmediate = (): Promise<typeof IMMEDIATE> =>
  (immediate ??= new Promise<typeof IMMEDIATE>((resolve) =>
    setImmediate(() => {
      immediate = undefined
      resolve(IMMEDIATE)
    })
  ))

export interface AttemptLimits {
  /** Request sent → `open` resolved (response headers). Absent: only `firstTokenMs` applies. */
  readonly connectMs?: number | undefined
  /** Named in a connect timeout's message (the URL that did not answer). */
  readonly target?: string | undefined
  readonly firstTokenMs: number
  readonly idleMs: number
  /** Absolute Clock time (ms) by which the whole run must be over, and the run's budget. */
  readonly deadline?: { readonly at: number; readonly totalMs: number } | undefined
}

/**
 * One attempt, its events pushed to `onEvents` (`Model.OnEvents`). Limits: `open` + the first event within `firstTokenMs`; every later
 * event within `idleMs` of asking for it; nothing past the run's deadline. They are enforced by
 * one watchdog fiber per attempt on the Effect Clock (so TestClock drives it), which aborts the
 * request when a limit passes; the pending read then ends and the stream fails with
 * `Timeout { which }`. (A race per event — `Effect.timeout` on every pull — cost ~2 ms per event
 * on this machine; the watchdog costs two clock reads.) The time the consumer spends between pulls
 * does not count as idle. The AbortController is also aborted when the stream's scope closes before
 * the body was read to its end (interruption, an error, a consumer that stopped early).
 */
export const attempt = <A, E>(
  source: Source<A>,
  mapper: { readonly map: (a: A) => ReadonlyArray<ModelEvent>; readonly stopped: () => boolean },
  limits: AttemptLimits,
  toError: (e: unknown) => ModelError.ModelError,
  onEvents: OnEvents<E>
): Effect.Effect<void, ModelError.ModelError | E> =>
  Effect.scoped(
    Effect.gen(function*() {
      let finished = false
      const controller = yield* Effect.acquireRelease(
        Effect.sync(() => new AbortController()),
        (c) => Effect.sync(() => { if (!finished) c.abort() })
      )
      const clock = yield* Effect.clock
      const now = () => clock.unsafeCurrentTimeMillis()
      let started = false
      let opened = false
      let waitingSince: number | undefined = now()
      let timedOut: ModelError.Timeout | undefined
      const expire = (which: ModelError.Timeout["which"], afterMs: number) => {
        timedOut = new ModelError.Timeout({
          message: which === "connect"
            ? `${limits.target ?? "the model"}: no response within ${afterMs} ms (connect timeout)`
            : which === "firstToken"
            ? `no model event within ${afterMs} ms of the request`
            : which === "idle"
            ? `no model event for ${afterMs} ms`
            : `the model run took longer than ${afterMs} ms`,
          which,
          afterMs
        })
        controller.abort()
      }
      const watchdog: Effect.Effect<void> = Effect.suspend(() => {
        const t = now()
        let at = Number.POSITIVE_INFINITY
        let which: ModelError.Timeout["which"] = "idle"
        let afterMs = limits.idleMs
        if (waitingSince !== undefined) {
          afterMs = started ? limits.idleMs : limits.firstTokenMs
          which = started ? "idle" : "firstToken"
          if (!opened && limits.connectMs !== undefined && limits.connectMs < afterMs) {
            afterMs = limits.connectMs
            which = "connect"
          }
          at = waitingSince + afterMs
        }
        if (limits.deadline !== undefined && limits.deadline.at < at) {
          at = limits.deadline.at
          which = "total"
          afterMs = limits.deadline.totalMs
        }
        if (t >= at) return Effect.sync(() => expire(which, afterMs))
        const wait = Number.isFinite(at) ? at - t : limits.idleMs
        return Effect.zipRight(Effect.sleep(Duration.millis(wait)), watchdog)
      })
      yield* Effect.forkScoped(watchdog)

      const fail = (e: unknown) => timedOut ?? toError(e)
      let iterator: AsyncIterator<A> | undefined
      let carry: Promise<IteratorResult<A>> | undefined
      /**
       * Wait for one event, then take every further event that is already parsed (it resolves
       * before a `setImmediate`), up to 256: events of one TCP read become one chunk. A pending
       * read is carried over to the next pull.
       */
      const readBatch = async (): Promise<{ readonly items: Array<A>; readonly done: boolean }> => {
        const items: Array<A> = []
        let r = await (carry ?? iterator!.next())
        carry = undefined
        while (true) {
          if (r.done) return { items, done: true }
          items.push(r.value)
          if (items.length >= 256) return { items, done: false }
          const p = iterator!.next()
          p.catch(() => {}) // a rejection is handled when a pull awaits `p` (or never, if nobody pulls)
          let winner: IteratorResult<A> | typeof IMMEDIATE
          try {
            winner = await Promise.race([p, nextImmediate()])
          } catch {
            carry = p // emit what was read; the next pull raises the error, exactly as unbatched
            return { items, done: false }
          }
          if (winner === IMMEDIATE) {
            carry = p
            return { items, done: false }
          }
          r = winner
        }
      }
      const end: Effect.Effect<void, ModelError.ModelError> = Effect.suspend(() =>
        mapper.stopped() ? Effect.void : Effect.fail(new ModelError.Network({ message: "the stream ended before message_stop" }))
      )
      const runtime = yield* Effect.runtime<never>()
      /**
       * The read loop, in plain promises: a chunk costs no fiber step. Only an effect the consumer
       * returns (backpressure) runs, on this fiber's runtime, before the next read. Resolves with
       * how the attempt ends.
       */
      return yield* Effect.async<void, ModelError.ModelError | E>((resume) => {
        let stopped = false
        let waiting: Fiber.RuntimeFiber<void, E> | undefined
        const loop = async (): Promise<Effect.Effect<void, ModelError.ModelError | E>> => {
          for (;;) {
            if (timedOut !== undefined) return Effect.fail(timedOut)
            waitingSince = now()
            let batch: { readonly items: Array<A>; readonly done: boolean }
            try {
              if (iterator === undefined) {
                iterator = (await source.open(controller.signal))[Symbol.asyncIterator]()
                opened = true
              }
              batch = await readBatch()
            } catch (e) {
              return Effect.fail(fail(e))
            }
            if (stopped) return Effect.void
            waitingSince = undefined
            if (timedOut !== undefined) return Effect.fail(timedOut)
            if (batch.done) finished = true
            if (batch.items.length > 0) {
              started = true
              const out: Array<ModelEvent> = []
              for (const item of batch.items) for (const e of mapper.map(item)) out.push(e)
              const k = out.length === 0 ? undefined : onEvents(out)
              if (k !== undefined) {
                const fiber = Runtime.runFork(runtime)(k)
                waiting = fiber
                const exit = await new Promise<Exit.Exit<void, E>>((r) => fiber.addObserver(r))
                waiting = undefined
                if (stopped) return Effect.void
                if (Exit.isFailure(exit)) return Effect.failCause(exit.cause)
              }
            }
            if (batch.done) return end
          }
        }
        loop().then(
          (outcome) => {
            if (!stopped) resume(outcome)
          },
          (defect) => {
            if (!stopped) resume(Effect.die(defect))
          }
        )
        return Effect.suspend(() => {
          stopped = true
          return waiting === undefined ? Effect.void : Fiber.interrupt(waiting)
        })
      })
    })
  )

// ---------------------------------------------------------------------------------------------
// the service

const toApiThinking = (t: Thinking | undefined): Record<string, unknown> => {
  if (t === undefined) return {}
  switch (t._tag) {
    case "Disabled":
      return { thinking: { type: "disabled" } }
    case "Budget":
      return { thinking: { type: "enabled", budget_tokens: t.budgetTokens } }
    case "Adaptive":
      return { thinking: { type: "adaptive" }, output_config: { effort: t.effort } }
  }
}

const toApiPart = (p: Part) => {
  switch (p._tag) {
    case "Text":
      return { type: "text", text: p.text }
    case "Image":
      return {
        type: "image",
        source: p.source.type === "base64" ? { type: "base64", media_type: p.source.mediaType, data: p.source.data } : { type: "url", url: p.source.url }
      }
    case "ToolUse":
      return { type: "tool_use", id: p.id, name: p.name, input: p.input }
    case "ToolResult":
      return { type: "tool_result", tool_use_id: p.toolUseId, content: p.content, ...(p.isError === true ? { is_error: true } : {}) }
  }
}

const toApiToolChoice = (c: ToolChoice) => {
  const parallel = "disableParallel" in c && c.disableParallel === true ? { disable_parallel_tool_use: true } : {}
  switch (c._tag) {
    case "Auto":
      return { type: "auto", ...parallel }
    case "Any":
      return { type: "any", ...parallel }
    case "Tool":
      return { type: "tool", name: c.name, ...parallel }
    case "None":
      return { type: "none" }
  }
}

export const toParams = (request: ModelRequest, o: Options) => ({
  model: (o.forceModel ? o.model : undefined) ?? request.model ?? o.model ?? DEFAULT_MODEL,
  max_tokens: request.maxTokens ?? o.maxTokens ?? DEFAULT_MAX_TOKENS,
  messages: request.messages.map((m) => ({ role: m.role, content: m.parts === undefined ? m.content : m.parts.map(toApiPart) })),
  ...(request.tools !== undefined && request.tools.length > 0
    ? { tools: request.tools.map((t) => ({ name: t.name, ...(t.description !== undefined ? { description: t.description } : {}), input_schema: t.inputSchema })) }
    : {}),
  ...(request.toolChoice !== undefined ? { tool_choice: toApiToolChoice(request.toolChoice) } : {}),
  ...(request.system !== undefined ? { system: request.system } : {}),
  ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
  ...(request.topP !== undefined ? { top_p: request.topP } : {}),
  ...(request.stopSequences !== undefined && request.stopSequences.length > 0 ? { stop_sequences: [...request.stopSequences] } : {}),
  ...toApiThinking(request.thinking ?? o.thinking),
  stream: true as const
})

export const makeClient = (o: Options): Anthropic =>
  o.client ??
    new Anthropic({
      ...(o.apiKey !== undefined ? { apiKey: o.apiKey } : {}),
      ...(o.baseURL !== undefined ? { baseURL: o.baseURL } : {}),
      maxRetries: 0, // one retry policy: ours
      timeout: o.timeouts?.totalMs ?? DEFAULT_TIMEOUTS.totalMs, // ours fire first; this is a backstop
      logLevel: "off", // errors are mapped and reported by us
      ...(o.headers !== undefined ? { defaultHeaders: o.headers } : {})
    })

export const make = (o: Options = {}): ModelService => {
  const client = makeClient(o)
  const timeouts = { ...DEFAULT_TIMEOUTS, ...o.timeouts }
  const policy = Retry.resolve(o.retry)
  const model = o.model ?? DEFAULT_MODEL
  const consume = <E>(request: ModelRequest, onEvents: OnEvents<E>): Effect.Effect<void, ModelError.ModelError | E> =>
        Effect.flatMap(Clock.currentTimeMillis, (runStart) => {
          const params = toParams(request, o)
          const deadline = Number.isFinite(timeouts.totalMs) && timeouts.totalMs > 0
            ? { at: runStart + timeouts.totalMs, totalMs: timeouts.totalMs }
            : undefined
          const messagesUrl = `${client.baseURL.replace(/\/$/, "")}/v1/messages`
          const one = (_n: number, emit: OnEvents<E>) =>
            attempt<Raw, E>(
              {
                open: (signal) =>
                  client.messages.create(params as Anthropic.Messages.MessageCreateParamsStreaming, {
                    signal,
                    maxRetries: 0
                  }) as unknown as Promise<AsyncIterable<Raw>>
              },
              makeMapper(),
              { ...timeouts, deadline, target: messagesUrl },
              (e) => withUrl(toModelError(e), e, messagesUrl),
              emit
            )
          return Retry.withRetry(policy, one, onEvents, deadline?.at)
        })
  return { name: model, consume, stream: (request) => streamOf((onEvents) => consume(request, onEvents)) }
}
