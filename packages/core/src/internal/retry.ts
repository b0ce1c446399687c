/**
 * The model layer's one retry policy, and the rollback rule. Generic over how an attempt is made,
 * so the policy is unit-tested with TestClock and reused by every model implementation.
 *
 * @internal
 */
import { Clock, Duration, Effect, Random } from "effect"
import type { OnEvents } from "../Model.js"
import * as ModelError from "../ModelError.js"

export interface RetryOptions {
  /** Attempts in total, the first included (default 5). 1 = never retry. */
  readonly maxAttempts?: number
  /** Backoff before retry n is `baseDelayMs · 2^(n-1)`, jittered ×0.8–1.2 (default 1000). */
  readonly baseDelayMs?: number
  /** Cap on the exponential backoff (default 30 000). */
  readonly maxDelayMs?: number
  /** A server's `retry-after` sets the minimum wait, but never more than this (default 30 000). */
  readonly maxRetryAfterMs?: number
}

export interface ResolvedRetry {
  readonly maxAttempts: number
  readonly baseDelayMs: number
  readonly maxDelayMs: number
  readonly maxRetryAfterMs: number
}

export const resolve = (o: RetryOptions = {}): ResolvedRetry => ({
  maxAttempts: Math.max(1, o.maxAttempts ?? 5),
  baseDelayMs: o.baseDelayMs ?? 1000,
  maxDelayMs: o.maxDelayMs ?? 30_000,
  maxRetryAfterMs: o.maxRetryAfterMs ?? 30_000
})

/** Delay before retry number `retry` (1-based), given the error that caused it. Pure. */
export const delayFor = (policy: ResolvedRetry, retry: number, error: ModelError.ModelError, jitter: number): number => {
  const backoff = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (retry - 1)) * jitter
  const hinted = "retryAfterMs" in error && error.retryAfterMs !== undefined
    ? Math.min(error.retryAfterMs, policy.maxRetryAfterMs)
    : 0
  return Math.max(0, Math.round(Math.max(backoff, hinted)))
}

const describe = (e: ModelError.ModelError): string => `${e._tag}: ${e.message}`

/**
 * Run `attempt(1)`, and on a retryable error (`ModelError.isRetryable`) wait and run the next
 * attempt, up to `maxAttempts`. Rollback rule:
 * - nothing of the failed attempt was emitted downstream → the retry is invisible;
 * - something was → emit `Rollback { attempt: next, reason }` at once, then wait, then retry.
 * Non-retryable errors, and the last attempt's error, fail. With a `deadlineAt` (Clock ms), a
 * retry whose wait would end past the deadline is not attempted: it fails with the error that
 * caused it (the attempts themselves enforce the deadline while running). A failure of the
 * consumer (`onEvents`' effect) is never retried.
 *
 * Push form (events go to `onEvents`, see `Model.OnEvents`): the run loop's hot path pays no
 * Stream stage per chunk.
 */
export const withRetry = <E, R>(
  policy: ResolvedRetry,
  attempt: (n: number, onEvents: OnEvents<E>) => Effect.Effect<void, ModelError.ModelError | E, R>,
  onEvents: OnEvents<E>,
  deadlineAt?: number
): Effect.Effect<void, ModelError.ModelError | E, R> => {
  const loop = (n: number): Effect.Effect<void, ModelError.ModelError | E, R> =>
    Effect.suspend(() => {
      let emitted = false
      let consumerFailed = false
      const tracked: OnEvents<E> = (events) => {
        if (events.length > 0) emitted = true
        const k = onEvents(events)
        return k === undefined
          ? undefined
          : Effect.onError(k, () =>
              Effect.sync(() => {
                consumerFailed = true
              })
            )
      }
      return Effect.catchAll(attempt(n, tracked), (e) => {
        const error = e as ModelError.ModelError
        if (consumerFailed || !ModelError.isRetryable(error) || n >= policy.maxAttempts) return Effect.fail(e)
        return Effect.gen(function*() {
          const delay = delayFor(policy, n, error, yield* Random.nextRange(0.8, 1.2))
          if (deadlineAt !== undefined && (yield* Clock.currentTimeMillis) + delay >= deadlineAt) return yield* Effect.fail(e)
          if (emitted) {
            const k = onEvents([{ _tag: "Rollback", attempt: n + 1, reason: describe(error) }])
            if (k !== undefined) yield* k
          }
          yield* Effect.sleep(Duration.millis(delay))
          return yield* loop(n + 1)
        })
      })
    })
  return loop(1)
}
