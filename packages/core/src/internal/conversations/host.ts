/**
 * Hosting one conversation among several processes that share a store (a cluster runner): the
 * runtime's side of a conversation arriving (`adopt`) and leaving (`release`), and what the
 * cluster asks of it before putting an entity away (`busy`, `idle`).
 *
 * @internal
 */
import { Deferred, Effect, Fiber } from "effect"
import type { UnansweredTurn } from "../../Conversation.js"
import type { StoreError } from "../../ConversationError.js"
import type { ConversationStoreService } from "../../ConversationStore.js"
import type { Registry } from "./registry.js"

export interface Host {
  /**
   * This process now owns the conversation: unless its actor is already here, close what a dead
   * owner left running (`ConversationStore.recover`) and queue the turns it accepted and never
   * started, each once.
   */
  readonly adopt: (conversationId: string) => Effect.Effect<void, StoreError>
  /**
   * This process no longer owns it: its readers' streams end, queued turns are dropped from
   * memory (they stay unanswered in the store, for the next owner), a running run ends as
   * interrupted and is committed, and the actor goes, so nothing here writes it again.
   */
  readonly release: (conversationId: string) => Effect.Effect<void>
  /** It has work here (a run, or turns queued). */
  readonly busy: (conversationId: string) => boolean
  /** Nothing going on here: no run, no queued turn, no reader. */
  readonly idle: (conversationId: string) => boolean
}

export const make = (deps: {
  readonly registry: Registry
  readonly store: ConversationStoreService
  readonly requeueTurns: (turns: ReadonlyArray<UnansweredTurn>) => Effect.Effect<void, StoreError>
}): Host => {
  const { registry, store, requeueTurns } = deps
  return {
    adopt: (conversationId) =>
      Effect.suspend(() => {
        if (registry.peek(conversationId) !== undefined) return Effect.void
        return Effect.zipRight(store.recover?.(conversationId) ?? Effect.void, Effect.flatMap(store.unanswered(conversationId), requeueTurns))
      }),
    release: (conversationId) =>
      Effect.gen(function* () {
        const a = registry.peek(conversationId)
        if (a === undefined) return
        // Its readers first: their streams end now, so they resume on the next owner while the
        // run below winds down (what it still publishes here nobody reads; the log has it).
        a.fanout.close()
        yield* a.sendLock.withPermits(1)(
          Effect.sync(() => {
            a.queue = []
            a.queued = 0
          })
        )
        const run = a.run
        if (run !== undefined) {
          run.stopReason ??= "interrupted"
          if (run.fiber !== undefined) yield* Fiber.interrupt(run.fiber)
          yield* Deferred.await(run.ended)
        }
        yield* registry.invalidate(conversationId)
      }),
    busy: (conversationId) => {
      const a = registry.peek(conversationId)
      return a !== undefined && (a.run !== undefined || a.queued > 0)
    },
    idle: (conversationId) => {
      const a = registry.peek(conversationId)
      return a === undefined || (a.run === undefined && a.queued === 0 && a.fanout.size === 0)
    }
  }
}
