/** Retry delays shared by the adapters' receive loops. @internal */

export interface Backoff {
  readonly initialMs: number
  readonly maxMs: number
}

/**
 * Delay before retry `attempt` (0-based) after consecutive failures: `initialMs · 2^attempt`,
 * capped at `maxMs`, times a jitter in [0.5, 1) so many gateways do not retry in step.
 * `jitter` is a draw from `Random.next` in [0, 1).
 */
export const delayMs = (attempt: number, jitter: number, backoff: Backoff = { initialMs: 1000, maxMs: 60_000 }): number =>
  Math.round(Math.min(backoff.maxMs, backoff.initialMs * 2 ** Math.min(attempt, 30)) * (0.5 + jitter / 2))
