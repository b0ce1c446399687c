/**
 * A human pause between block replies, so that a multi-message answer does not land all at once.
 *
 * - `off`: no delay at all (the stream is returned unchanged).
 * - `natural`: a uniformly random whole number of milliseconds in 800–2500, both ends included.
 * - `custom`: the same in `minMs`–`maxMs`; when `maxMs ≤ minMs` the delay is exactly `minMs`.
 *
 * The delay comes before every block except the first one of the stream (the first reply is never
 * held back), and never before anything that is not a block — a `Final`, a `Draft`, reasoning — so a
 * final reply is never delayed. Like the reference, the pause sits in the ordered delivery path: what
 * follows a delayed block waits behind it. Randomness comes only from `Random`, time only from `Clock`.
 *
 * @since 0.1.0
 */
import { Effect, Random, Stream } from "effect"
import type { HumanDelaySettings } from "./StreamingSettings.js"

export const NATURAL_MIN_MS = 800
export const NATURAL_MAX_MS = 2500

/** The inclusive range a delay is drawn from, or undefined when the mode is `off`. */
export const range = (settings: HumanDelaySettings): { readonly minMs: number; readonly maxMs: number } | undefined => {
  switch (settings.mode) {
    case "off":
      return undefined
    case "natural":
      return { minMs: NATURAL_MIN_MS, maxMs: NATURAL_MAX_MS }
    case "custom": {
      const minMs = Math.max(0, Math.floor(settings.minMs))
      return { minMs, maxMs: Math.max(minMs, Math.floor(settings.maxMs)) }
    }
  }
}

/** Draws one delay in milliseconds (0 when off). */
export const nextDelay = (settings: HumanDelaySettings): Effect.Effect<number> => {
  const r = range(settings)
  if (r === undefined) return Effect.succeed(0)
  if (r.maxMs === r.minMs) return Effect.succeed(r.minMs)
  return Random.nextIntBetween(r.minMs, r.maxMs + 1) // upper bound exclusive
}

/** Default block test: values with `_tag: "Block"` (reply payloads); anything without a tag counts. */
const defaultIsBlock = (a: unknown): boolean =>
  typeof a === "object" && a !== null && "_tag" in a ? (a as { readonly _tag: unknown })._tag === "Block" : true

export interface PaceOptions<A> {
  /** Which elements are block replies; default: `_tag === "Block"`, or every untagged element. */
  readonly isBlock?: (a: A) => boolean
}

/** Waits a random delay before every block after the first. */
export const pace =
  <A>(settings: HumanDelaySettings, options: PaceOptions<A> = {}) =>
  <E, R>(self: Stream.Stream<A, E, R>): Stream.Stream<A, E, R> => {
    if (range(settings) === undefined) return self
    const isBlock = options.isBlock ?? defaultIsBlock
    return Stream.suspend(() => {
      let sentFirst = false
      return Stream.mapEffect(self, (a) => {
        if (!isBlock(a)) return Effect.succeed(a)
        if (!sentFirst) {
          sentFirst = true
          return Effect.succeed(a)
        }
        return nextDelay(settings).pipe(
          Effect.flatMap((ms) => (ms > 0 ? Effect.sleep(ms) : Effect.void)),
          Effect.as(a)
        )
      })
    })
  }
