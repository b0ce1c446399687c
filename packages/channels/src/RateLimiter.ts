/**
 * Per-key (per chat) pacing and 429 handling for channel sends.
 *
 * `run(key, send)` serialises sends to one key (so nothing is reordered), spaces them at least
 * `minIntervalMs` apart, and when `send` fails with `RateLimited` waits the advertised time and
 * sends again — only a 429 is retried, and a 429 means the API did not take the message, so a retry
 * cannot duplicate it. `penalize(key, ms)` lets an adapter pause a key from response headers
 * (Discord's `X-RateLimit-Remaining: 0` + `Reset-After`). Time is the Effect Clock: TestClock drives it.
 *
 * Bounded: a key's entry lives while a send to it runs or waits, or while its pause has not passed;
 * an idle key whose pause is over is dropped (on its last send, and in a sweep once the map has
 * doubled), so a limiter that has seen a million chats holds only the busy ones.
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
  /** Keys held now (busy or still paused). */
  readonly size: () => number
}

export const make = (options: Options): Effect.Effect<RateLimiter> =>
  Effect.sync(() => {
    const maxRetries = options.maxRetries ?? 20
    const maxWaitMs = options.maxWaitMs ?? 600_000
    interface Entry {
      readonly lock: Effect.Semaphore
      /** Sends running or waiting for this key. */
      users: number
      /** No send to this key before this time (epoch ms). */
      nextAt: number
    }
    const entries = new Map<string, Entry>()
    let sweepAt = 1024
    const entry = (key: string, now: number): Entry => {
      let e = entries.get(key)
      if (e === undefined) {
        if (entries.size >= sweepAt) {
          for (const [k, x] of entries) if (x.users === 0 && x.nextAt <= now) entries.delete(k)
          sweepAt = Math.max(1024, 2 * entries.size)
        }
        e = { lock: Effect.unsafeMakeSemaphore(1), users: 0, nextAt: 0 }
        entries.set(key, e)
      }
      return e
    }
    const release = (key: string, e: Entry) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        e.users--
        if (e.users === 0 && e.nextAt <= now && entries.get(key) === e) entries.delete(key)
      })
    const waitTurn = (e: Entry) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const wait = e.nextAt - now
        return wait > 0 ? Effect.sleep(wait) : Effect.void
      })
    const pause = (e: Entry, now: number, waitMs: number) => {
      e.nextAt = Math.max(e.nextAt, now + Math.min(waitMs, maxWaitMs))
    }
    const penalize = (key: string, waitMs: number) => Effect.map(Clock.currentTimeMillis, (now) => pause(entry(key, now), now, waitMs))
    const run = <A, E, R>(key: string, send: Effect.Effect<A, E | RateLimited, R>): Effect.Effect<A, E | ChannelError, R> =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const e = entry(key, now)
        e.users++
        const attempt = (n: number): Effect.Effect<A, E | ChannelError, R> =>
          waitTurn(e).pipe(
            Effect.zipRight(Clock.currentTimeMillis),
            Effect.tap((t) => Effect.sync(() => (e.nextAt = Math.max(e.nextAt, t + options.minIntervalMs)))),
            Effect.zipRight(send),
          Effect.catchIf(
            (e): e is RateLimited => e instanceof RateLimited,
            (r) =>
              n >= maxRetries
                ? Effect.fail(new ChannelError({ channel: r.channel, method: "send", status: 429, description: `still rate limited after ${n} retries` }))
                : Effect.zipRight(
                    Effect.map(Clock.currentTimeMillis, (t) => pause(e, t, Math.max(r.retryAfterMs, options.minIntervalMs))),
                    attempt(n + 1)
                  )
          )
        ) as Effect.Effect<A, E | ChannelError, R>
        return e.lock.withPermits(1)(attempt(0)).pipe(Effect.ensuring(release(key, e)))
      })
    return { run, penalize, size: () => entries.size }
  })
