/**
 * The pipeline as ONE consumer of the model stream instead of a chain of Stream stages: the same
 * synchronous state machines as `Pipeline.make` (`PipelineState`, `CoalescerState`), driven from a
 * single `runForEachChunk`, with the coalescer's idle flush on one timer fiber per idle period
 * instead of a mailbox, a second fiber and a timeout race per delta. This is the run loop's hot
 * path: per delta it costs a few function calls where the Stream chain cost ten channel stages and
 * a fiber hop (measured in `pnpm bench streaming`).
 *
 * Same payloads, in the same order, as `Pipeline.make(settings)` (a property test runs both side
 * by side). A human delay needs an effectful pause between payloads, so with one configured the
 * driver runs `Pipeline.make` itself.
 *
 * `emit` is synchronous on purpose: the timer fiber and the consumer both emit, and each emission
 * (state change + append) must be atomic so payloads keep their order and block indexes.
 *
 * @internal
 */
import { Chunk, Clock, Effect, Fiber, Stream } from "effect"
import type * as Coalescer from "../Coalescer.js"
import * as HumanDelay from "../HumanDelay.js"
import * as Model from "../Model.js"
import type { ModelRequest, ModelService, OnEvents } from "../Model.js"
import type { ModelEvent } from "../ModelEvent.js"
import * as Pipeline from "../Pipeline.js"
import type { Payload } from "../ReplyEvent.js"
import type { StreamingSettings } from "../StreamingSettings.js"
import { CoalescerState } from "./coalescer.js"
import { PipelineState } from "./pipeline.js"

export interface Hooks {
  /** Each upstream chunk of model events, before the pipeline sees it. */
  readonly onInput: (events: ReadonlyArray<ModelEvent>) => void
  /** The input failed (before the text held back is delivered). */
  readonly onInputFailure: () => void
  /** Payloads, in order (synchronous; never called with an empty array; also from the idle timer). */
  readonly emit: (payloads: ReadonlyArray<Payload>) => void
  /** Called after each upstream chunk that emitted something; an effect it returns is waited on (backpressure). */
  readonly afterEmit: () => Effect.Effect<void, unknown> | undefined
}

/**
 * Where the model events come from: a stream, or a model and its request (its push form,
 * `Model.consume`, when it has one: no Stream stage per chunk).
 */
export type Input<E, R> = Stream.Stream<ModelEvent, E, R> | { readonly model: ModelService; readonly request: ModelRequest }

const feed = <E, R>(input: Input<E, R>, onEvents: OnEvents<unknown>): Effect.Effect<void, unknown, R> =>
  Stream.StreamTypeId in input
    ? Stream.runForEachChunk(input, (c) => onEvents(Chunk.toReadonlyArray(c)) ?? Effect.void)
    : Model.consume(input.model, input.request, onEvents)

export const run = <E, R>(settings: StreamingSettings, input: Input<E, R>, hooks: Hooks): Effect.Effect<void, unknown, R> =>
  HumanDelay.range(settings.humanDelay) !== undefined ? viaStream(settings, input, hooks) : direct(settings, input, hooks)

const viaStream = <E, R>(settings: StreamingSettings, input: Input<E, R>, hooks: Hooks) =>
  (Stream.StreamTypeId in input ? (input as Stream.Stream<ModelEvent, unknown, R>) : input.model.stream(input.request)).pipe(
    Stream.mapChunks((chunk) => {
      hooks.onInput(Chunk.toReadonlyArray(chunk))
      return chunk
    }),
    Stream.tapError(() => Effect.sync(hooks.onInputFailure)),
    Pipeline.make(settings),
    Stream.runForEachChunk((chunk) =>
      Effect.suspend(() => {
        hooks.emit([...chunk])
        return hooks.afterEmit() ?? Effect.void
      })
    )
  )

const direct = <E, R>(settings: StreamingSettings, input: Input<E, R>, hooks: Hooks) =>
  Effect.gen(function* () {
    const clock = yield* Effect.clock
    const scope = yield* Effect.scope
    const pipeline = new PipelineState(settings)
    const coalescer = settings.blockStreaming ? new CoalescerState(settings.coalesce) : undefined
    let index = 0
    const texts: Array<string> = []

    /** Coalescer inputs → payloads (what `coalesceWith` + the Block numbering of `Pipeline.make` do). */
    const translate = (ins: ReadonlyArray<Coalescer.Input<Payload>>, now: number, out: Array<Payload>) => {
      for (let i = 0; i < ins.length; i++) {
        const item = ins[i]!
        switch (item._tag) {
          case "Pass":
            out.push(item.value)
            break
          case "Text":
            coalescer?.push(item.text, now, texts)
            break
          case "Flush":
            coalescer?.flush(texts)
            break
          case "Reset":
            coalescer?.reset()
            break
        }
        if (texts.length > 0) {
          for (const text of texts) out.push({ _tag: "Block", index: index++, text })
          texts.length = 0
        }
      }
    }
    const finish = (out: Array<Payload>) => {
      coalescer?.flush(texts)
      for (const text of texts) out.push({ _tag: "Block", index: index++, text })
      texts.length = 0
    }
    const emit = (out: ReadonlyArray<Payload>) => {
      if (out.length > 0) hooks.emit(out)
    }

    // The idle flush: one fiber while a deadline is armed; it re-reads the deadline when it wakes
    // (a later block moved it), so there is no timer per delta.
    let timer: Fiber.RuntimeFiber<void> | undefined
    const idle: Effect.Effect<void> = Effect.suspend(() => {
      const deadline = coalescer?.idleDeadline()
      if (deadline === undefined) return Effect.void
      const now = clock.unsafeCurrentTimeMillis()
      if (deadline > now) return Effect.zipRight(Clock.sleep(deadline - now), idle)
      return Effect.sync(() => {
        const out: Array<Payload> = []
        finish(out)
        emit(out)
      })
    })
    const arm = Effect.suspend(() => {
      if (timer !== undefined || coalescer?.idleDeadline() === undefined) return Effect.void
      return Effect.map(
        Effect.forkIn(
          Effect.ensuring(
            idle,
            Effect.sync(() => {
              timer = undefined
            })
          ),
          scope
        ),
        (f) => {
          timer = f
        }
      )
    })

    const consumed = yield* Effect.either(
      feed(input, (chunk) => {
        hooks.onInput(chunk)
        const out: Array<Payload> = []
        const now = clock.unsafeCurrentTimeMillis()
        // An idle deadline that passed before this chunk flushes first (as `coalesceWith` does
        // when its timer and new input race), so payloads never depend on fiber scheduling.
        const deadline = coalescer?.idleDeadline()
        if (deadline !== undefined && deadline <= now) finish(out)
        translate(pipeline.step(chunk), now, out)
        const armed = coalescer !== undefined && timer === undefined && coalescer.idleDeadline() !== undefined ? arm : undefined
        if (out.length === 0) return armed
        emit(out)
        const after = hooks.afterEmit()
        return armed === undefined ? after : after === undefined ? armed : Effect.zipRight(armed, after)
      })
    )
    if (timer !== undefined) yield* Fiber.interrupt(timer)
    const out: Array<Payload> = []
    if (consumed._tag === "Right") {
      translate(pipeline.end(), clock.unsafeCurrentTimeMillis(), out)
      finish(out)
      emit(out)
      return
    }
    hooks.onInputFailure()
    translate(pipeline.fail(), clock.unsafeCurrentTimeMillis(), out)
    finish(out)
    emit(out)
    return yield* Effect.fail(consumed.left)
  }).pipe(Effect.scoped)
