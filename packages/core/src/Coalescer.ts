/**
 * Merges consecutive block replies into fewer, larger messages before they are sent.
 *
 * - Blocks are joined with `joiner` ("\n\n" for paragraph breaks, "\n" for newline, " " for sentence).
 * - Size: a block that would push the buffer past `maxChars` flushes the buffer first; the buffer is
 *   sent as soon as it reaches `maxChars`. Nothing is ever split: a block ≥ `maxChars` goes out alone.
 * - Idle: `idleMs` after the last block (the timer restarts on every block) the buffer is sent — if
 *   it holds at least `minChars`. Below `minChars` it keeps waiting for more text or a forced flush.
 * - End of input (and a `Flush` input) always sends what is left; an upstream failure first sends
 *   what is buffered, then fails. Nothing is lost and nothing is deduplicated: a repeated identical
 *   paragraph is sent as often as it was written (unlike the reference, which drops it).
 *
 * Time comes only from the Effect `Clock` (`TestClock` makes every test exact). `aggregateWithin`
 * cannot do this (its schedule is not reset by elements, effect-v3.md §3.1); this is the idle-timer
 * pattern of §3.2 with a deadline, so items that are not blocks (`Pass`) never restart the timer.
 *
 * Two combinators:
 * - `coalesce(options)`: `Stream<string>` of block texts → `Stream<string>` of messages;
 * - `coalesceWith(options)`: `Stream<Input<A>>` → `Stream<Output<A>>`, for pipelines that interleave
 *   other events (`Pass`, forwarded in order without waiting), forced flushes (`Flush`) and
 *   rollbacks (`Reset`, drops the buffer) with the block texts (`Text`).
 *
 * Output joined with the joiner equals input (non-empty texts) joined with the joiner.
 *
 * @since 0.1.0
 */
import { Chunk, Clock, Duration, Effect, Mailbox, Option, Stream } from "effect"
import { type CoalesceOptions, CoalescerState } from "./internal/coalescer.js"

export type Options = CoalesceOptions

export type Input<A> =
  | { readonly _tag: "Text"; readonly text: string }
  | { readonly _tag: "Flush" }
  | { readonly _tag: "Reset" }
  | { readonly _tag: "Pass"; readonly value: A }

export type Output<A> = { readonly _tag: "Text"; readonly text: string } | { readonly _tag: "Pass"; readonly value: A }

export const Text = (text: string): Input<never> & Output<never> => ({ _tag: "Text", text })
export const Flush: Input<never> = { _tag: "Flush" }
export const Reset: Input<never> = { _tag: "Reset" }
export const Pass = <A>(value: A): Input<A> & Output<A> => ({ _tag: "Pass", value })

/** Mailbox between the upstream fiber and the coalescer, in elements. */
const INBOX_CAPACITY = 1024


/** The general form: block texts interleaved with pass-through values, flushes and resets. */
export const coalesceWith =
  (options: Options) =>
  <A, E, R>(self: Stream.Stream<Input<A>, E, R>): Stream.Stream<Output<A>, E, R> =>
    Stream.unwrapScoped(
      Effect.gen(function* () {
        const inbox = yield* Mailbox.fromStream(self, { capacity: INBOX_CAPACITY })
        const state = new CoalescerState(options)
        let done = false
        let failure: Option.Option<E> = Option.none()

        const emitTexts = (texts: Array<string>, out: Array<Output<A>>) => {
          for (const text of texts) out.push({ _tag: "Text", text })
          texts.length = 0
        }

        const process = (items: Chunk.Chunk<Input<A>>, now: number, out: Array<Output<A>>) => {
          const texts: Array<string> = []
          for (const item of items) {
            switch (item._tag) {
              case "Text":
                state.push(item.text, now, texts)
                emitTexts(texts, out)
                break
              case "Flush":
                state.flush(texts)
                emitTexts(texts, out)
                break
              case "Reset":
                state.reset()
                break
              case "Pass":
                out.push(item)
                break
            }
          }
        }

        const finish = (out: Array<Output<A>>) => {
          const texts: Array<string> = []
          state.flush(texts)
          emitTexts(texts, out)
          done = true
        }

        // One pull: wait for input (with the idle deadline, if armed), return a non-empty chunk.
        const pull: Effect.Effect<Chunk.Chunk<Output<A>>, Option.Option<E>> = Effect.suspend(() => {
          if (done) return Effect.fail(failure)
          return Effect.gen(function* () {
            const out: Array<Output<A>> = []
            while (out.length === 0 && !done) {
              const deadline = state.idleDeadline()
              // null = the idle deadline passed
              let taken: readonly [Chunk.Chunk<Input<A>>, boolean] | null
              if (deadline === undefined) {
                taken = yield* inbox.takeAll.pipe(Effect.catchAll((e) => Effect.succeed(onFailure(e))))
              } else {
                const now = yield* Clock.currentTimeMillis
                taken =
                  deadline <= now
                    ? null
                    : yield* inbox.takeAll.pipe(
                        Effect.catchAll((e) => Effect.succeed(onFailure(e))),
                        Effect.timeoutTo({
                          duration: Duration.millis(deadline - now),
                          onSuccess: (x): readonly [Chunk.Chunk<Input<A>>, boolean] | null => x,
                          onTimeout: () => null
                        })
                      )
              }
              if (taken === null) {
                const texts: Array<string> = []
                state.flush(texts)
                emitTexts(texts, out)
                continue
              }
              const [items, end] = taken
              if (Chunk.isNonEmpty(items)) process(items, yield* Clock.currentTimeMillis, out)
              if (end) finish(out)
            }
            if (out.length === 0) return yield* Effect.fail(failure)
            return Chunk.unsafeFromArray(out)
          })
        })

        // An upstream failure: treat it as the end (send the buffer), then fail on the next pull.
        const onFailure = (e: E): readonly [Chunk.Chunk<Input<A>>, boolean] => {
          failure = Option.some(e)
          return [Chunk.empty(), true]
        }

        return Stream.repeatEffectChunkOption(pull)
      })
    )

/** Coalesces a stream of block texts into messages. */
export const coalesce =
  (options: Options) =>
  <E, R>(self: Stream.Stream<string, E, R>): Stream.Stream<string, E, R> =>
    self.pipe(
      Stream.map(Text),
      coalesceWith(options),
      Stream.filterMap((o) => (o._tag === "Text" ? Option.some(o.text) : Option.none()))
    )
