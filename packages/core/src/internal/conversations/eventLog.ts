/**
 * The event log's writer: group commit, off the run loop.
 *
 * A run (or a send) appends events to its actor (`pending`) and calls `mark`: the actor joins the
 * batch being collected, and the run goes on with its next chunk without waiting. ONE writer fiber
 * takes the batch once per turn of the event loop (after the I/O that was ready has been handled,
 * so every delta that arrived in that turn shares one transaction) and writes it as one
 * transaction. Once committed, the events go to the actor's fan-out (publish after commit: a client
 * never sees an event a crash could take back; after a restart recovery would give its seq to
 * another event). The single writer also keeps each conversation's log contiguous and in seq order.
 *
 * `flush` waits for the actor's data to be committed: a send (a message is accepted only once
 * committed), the end of a run, and a run whose uncommitted backlog passed `maxBacklog` (so a
 * store slower than the model slows the run instead of growing memory).
 *
 * A failed commit puts the actor's data back (still in seq order) for the next batch; the failure
 * is returned to whoever flushes.
 *
 * @internal
 */
import { Cause, Deferred, Effect, Exit, FiberId, type Scope } from "effect"
import { StoreError } from "../../ConversationError.js"
import type { Commit, ConversationStoreService } from "../../ConversationStore.js"
import type { ReplyEvent } from "../../ReplyEvent.js"
import * as A from "./actor.js"

export interface EventLog {
  /**
   * The actor's uncommitted data goes into the next group commit (does not wait). A reply
   * checkpoint alone (`replyDirty`, nothing else) does not start one: it rides along with the next
   * commit that happens anyway, unless `force`.
   */
  readonly mark: (a: A.Actor, force?: boolean) => void
  /** Everything the actor has now, committed (or the store's failure). */
  readonly flush: (a: A.Actor) => Effect.Effect<void, StoreError>
  /** Uncommitted events of the actor (what `maxBacklog` bounds). */
  readonly backlog: (a: A.Actor) => number
}

interface Batch {
  readonly actors: Set<A.Actor>
  /** Completed after the write, with the actors whose data could not be committed. */
  readonly done: Deferred.Deferred<ReadonlyMap<A.Actor, StoreError>>
}

/** Waits for the event loop's check phase: the I/O that was ready has been handled. */
const afterIo: Effect.Effect<void> = Effect.async<void>((resume) => {
  const t = setImmediate(() => resume(Effect.void))
  return Effect.sync(() => clearImmediate(t))
})

/** Data that must be committed soon (every event but a Draft is published only once committed). */
const mustCommit = (a: A.Actor) =>
  a.dirtyConversation || a.pending.length > 0 || a.dirtyMessages !== undefined || a.dirtyRuns !== undefined

const hasDirty = (a: A.Actor) => a.replyDirty || mustCommit(a)

const isDraft = (e: ReplyEvent) => e._tag === "Draft"

const storeErrorOf = (cause: Cause.Cause<StoreError>): StoreError => {
  const f = Cause.failureOption(cause)
  if (f._tag === "Some") return f.value
  const d = Cause.squash(cause)
  return new StoreError({ message: d instanceof Error ? d.message : String(d) })
}

export const make = (store: ConversationStoreService): Effect.Effect<EventLog, never, Scope.Scope> =>
  Effect.gen(function* () {
    let collecting: Batch | undefined
    let writing: Batch | undefined
    /** Actors with only a reply checkpoint to write: taken into the next batch, which they do not start. */
    const riders = new Set<A.Actor>()
    const wake = yield* Effect.makeLatch(false)

    const join = (a: A.Actor): Batch => {
      let b = collecting
      if (b === undefined) {
        b = collecting = { actors: new Set(), done: Deferred.unsafeMake(FiberId.none) }
        wake.unsafeOpen()
      }
      b.actors.add(a)
      return b
    }

    const mark = (a: A.Actor, force = false) => {
      if (force || mustCommit(a)) join(a)
      else if (a.replyDirty) riders.add(a)
    }

    const flush = (a: A.Actor): Effect.Effect<void, StoreError> =>
      Effect.suspend(() => {
        if (!hasDirty(a) && !writing?.actors.has(a) && !collecting?.actors.has(a)) return Effect.void
        const b = join(a)
        return Effect.flatMap(Deferred.await(b.done), (failed) => {
          const e = failed.get(a)
          return e === undefined ? Effect.void : Effect.fail(e)
        })
      })

    /** Moves what the actor has not yet committed into a commit (in seq order); undefined if nothing. */
    const take = (a: A.Actor) => {
      if (!hasDirty(a)) return undefined
      if (a.replyDirty) {
        a.replyDirty = false
        const run = a.run
        if (run !== undefined) {
          run.message = { ...run.message, text: run.final ?? A.visibleText(run) }
          run.checkpoint = run.draft?.length ?? 0
          A.markMessage(a, run.message)
        }
      }
      const events = a.pending
      const messages = a.dirtyMessages
      const runs = a.dirtyRuns
      const conversationChanged = a.dirtyConversation || !a.exists
      a.inFlight = events
      a.pending = []
      a.dirtyMessages = undefined
      a.dirtyRuns = undefined
      a.dirtyConversation = false
      const conversation = A.toRecord(a)
      const commit: Commit = {
        conversation,
        conversationChanged,
        // Drafts that waited behind an uncommitted event are published with it, never stored.
        events: events.some(isDraft) ? events.filter((e) => !isDraft(e)) : events,
        messages: messages === undefined ? [] : [...messages.values()],
        runs: runs === undefined ? [] : [...runs.values()]
      }
      const settle = (ok: boolean) => {
        a.inFlight = A.EMPTY
        if (ok) {
          a.exists = true
          if (conversationChanged) a.reserved = Math.max(a.reserved, conversation.nextSeq)
          return events
        }
        // Put it back so the next flush retries it (still in seq order).
        a.pending = [...events, ...a.pending]
        if (messages !== undefined) for (const m of messages.values()) if (!a.dirtyMessages?.has(m.id)) A.markMessage(a, m)
        if (runs !== undefined) for (const r of runs.values()) if (!a.dirtyRuns?.has(r.id)) A.markRun(a, r)
        if (conversationChanged) a.dirtyConversation = true
        return undefined
      }
      return { actor: a, commit, settle }
    }

    const writeBatch = (b: Batch) =>
      Effect.gen(function* () {
        for (const a of riders) b.actors.add(a)
        riders.clear()
        writing = b
        const parts = [...b.actors].flatMap((a) => take(a) ?? [])
        const failed = new Map<A.Actor, StoreError>()
        const committed: Array<[A.Actor, ReadonlyArray<ReplyEvent>]> = []
        if (parts.length > 0) {
          const all = yield* Effect.exit(store.commitMany(parts.map((p) => p.commit)))
          if (Exit.isSuccess(all)) for (const p of parts) committed.push([p.actor, p.settle(true)!])
          else if (parts.length === 1) {
            parts[0]!.settle(false)
            failed.set(parts[0]!.actor, storeErrorOf(all.cause))
          } else {
            // One bad commit must not fail the others: retry them one by one.
            for (const p of parts) {
              const one = yield* Effect.exit(store.commit(p.commit))
              const events = p.settle(Exit.isSuccess(one))
              if (events !== undefined) committed.push([p.actor, events])
              if (Exit.isFailure(one)) failed.set(p.actor, storeErrorOf(one.cause))
            }
          }
        }
        writing = undefined
        // Fan-out after the transaction, outside it: offers to bounded outboxes, never a wait.
        for (const [a, events] of committed) a.fanout.publish(events)
        yield* Deferred.succeed(b.done, failed)
      }).pipe(Effect.uninterruptible)

    const takeCollecting = Effect.suspend(() => {
      const b = collecting
      collecting = undefined
      return b === undefined ? Effect.void : writeBatch(b)
    })
    // On shutdown (runs after the writer is interrupted): write what is still collected.
    yield* Effect.addFinalizer(() => takeCollecting)
    yield* Effect.forkScoped(Effect.forever(Effect.zipRight(Effect.zipRight(Effect.zipRight(wake.await, wake.close), afterIo), takeCollecting)))

    return { mark, flush, backlog: (a) => a.pending.length + a.inFlight.length }
  })
