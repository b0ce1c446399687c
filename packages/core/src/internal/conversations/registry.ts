/**
 * The actor registry: one actor per active conversation, held through scoped leases
 * (`effect/RcMap`). `send`, `subscribe`, a local listener and the worker each hold a lease for as
 * long as they need the actor; `idleTimeToLive` after the last lease is released the actor is
 * passivated (its pending data committed, its fan-out closed) and comes back from the store on the
 * next lease. Loading is once per key (RcMap's per-key Deferred), so concurrent first leases share
 * one `store.load`.
 *
 * `peek` answers "is it active, and what is it doing" without leasing (for `stop`, `history`, `list`).
 *
 * @internal
 */
import { Clock, Duration, Effect, RcMap, type Scope } from "effect"
import type { StoreError } from "../../ConversationError.js"
import type { ConversationStoreService } from "../../ConversationStore.js"
import * as A from "./actor.js"
import type { EventLog } from "./eventLog.js"

export interface Registry {
  /** The actor, held until the scope closes. */
  readonly lease: (conversationId: string) => Effect.Effect<A.Actor, StoreError, Scope.Scope>
  /** The actor if it is active (no lease). */
  readonly peek: (conversationId: string) => A.Actor | undefined
  readonly size: () => number
  /** Drops the actor now (passivated once its last lease goes); the next lease loads it afresh. */
  readonly invalidate: (conversationId: string) => Effect.Effect<void>
}

export const make = (
  store: ConversationStoreService,
  log: EventLog,
  idleTimeToLive: Duration.Duration
): Effect.Effect<Registry, never, Scope.Scope> =>
  Effect.gen(function* () {
    const active = new Map<string, A.Actor>()
    const map = yield* RcMap.make({
      idleTimeToLive,
      lookup: (id: string) =>
        Effect.acquireRelease(
          Effect.flatMap(store.load(id), (record) =>
            Effect.map(Clock.currentTimeMillis, (now) => {
              const a = A.fromRecord(id, record, now)
              active.set(id, a)
              return a
            })
          ),
          (a) =>
            // Passivation: nothing holds it any more; what it has not committed is committed now.
            log.flush(a).pipe(
              Effect.catchAll((e) => Effect.logWarning(`conversation ${id}: could not commit on passivation`, e.message)),
              Effect.ensuring(
                Effect.sync(() => {
                  a.fanout.close()
                  if (active.get(id) === a) active.delete(id)
                })
              )
            )
        )
    })
    return {
      // A failed load must not stay cached for idleTimeToLive: drop the entry so the next lease retries.
      lease: (id) => RcMap.get(map, id).pipe(Effect.tapError(() => RcMap.invalidate(map, id))),
      peek: (id) => active.get(id),
      size: () => active.size,
      invalidate: (id) =>
        Effect.zipRight(
          RcMap.invalidate(map, id),
          Effect.sync(() => {
            // Its readers' streams end now, not when their leases go.
            active.get(id)?.fanout.close()
            active.delete(id)
          })
        )
    }
  })
