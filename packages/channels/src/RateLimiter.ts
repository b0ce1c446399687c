/**
 * Per-key (per chat) pacing and 429 handling for channel sends.
 *
 * `run(key, send)` serialises sends to one key (so nothing is reordered), spaces them at least
 * `minIntervalMs` apart, and when `send` fails with `RateLimited` waits the advertised time and
 * sends again — only a 429 is retried, and a 429 means the API did not take the message, so a retry
 * cannot duplicate it. `penalize(key, ms)` lets an adapter pause a key from response headers
 * (Discord's `X-RateLimit-Remaining: 0` + `Reset-After`). Time is the Effect Clock: TestClock drives it.
 *
 * @since 0.1.0
 */
import { Clock, Effect } from "effect"
import { ChannelError, RateLimited } from "./Channel.js"

export interface Options {
  readonly minIntervalMs: number
  /** 429 retries per message before giving up with a ChannelError (default 20). */
  readonly maxRetries?: number | undefined
  /** Ceiling on one advertised wait (default 10 minutes). */
  readonly maxWaitMs?: number | undefined
}

export interface RateLimiter {
  readonly run: <A, E, R>(key: string, send: Effect.Effect<A, E | RateLimited, R>) => Effect.Effect<A, E | ChannelError, R>
  readonly penalize: (key: string, waitMs: number) => Effect.Effect<void>
}

export const make = (options: Options): Effect.Effect<RateLimiter> =>
  Effect.sync(() => {
    const maxRetries = options.maxRetries ?? 20
    const maxWaitMs = options.maxWaitMs ?? 600_000
    const nextAt = new Map<string, number>()
    const locks = new Map<string, Effect.Semaphore>()
    const lock = (key: string) => {
      let s = locks.get(key)
      if (s === undefined) {
        s = Effect.unsafeMakeSemaphore(1)
        locks.set(key, s)
      }
      return s
    }
    const waitTurn = (key: string) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const wait = (nextAt.get(key) ?? 0) - now
        return wait > 0 ? Effect.sleep(wait) : Effect.void
      })
    const penalize = (key: string, waitMs: number) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        nextAt.set(key, Math.max(nextAt.get(key) ?? 0, now + Math.min(waitMs, maxWaitMs)))
      })
    const run = <A, E, R>(key: string, send: Effect.Effect<A, E | RateLimited, R>): Effect.Effect<A, E | ChannelError, R> => {
      const attempt = (n: number): Effect.Effect<A, E | ChannelError, R> =>
        waitTurn(key).pipe(
          Effect.zipRight(Clock.currentTimeMillis),
          Effect.tap((now) => Effect.sync(() => nextAt.set(key, Math.max(nextAt.get(key) ?? 0, now + options.minIntervalMs)))),
          Effect.zipRight(send),
          Effect.catchIf(
            (e): e is RateLimited => e instanceof RateLimited,
            (e) =>
              n >= maxRetries
                ? Effect.fail(new ChannelError({ channel: e.channel, method: "send", status: 429, description: `still rate limited after ${n} retries` }))
                : Effect.zipRight(penalize(key, Math.max(e.retryAfterMs, options.minIntervalMs)), attempt(n + 1))
          )
        ) as Effect.Effect<A, E | ChannelError, R>
      return lock(key).withPermits(1)(attempt(0))
    }
    return { run, penalize }
  })
