/**
 * A conversation as an `@effect/cluster` entity: one RPC per `Conversations` operation that
 * changes or streams it, served by the runner that owns the conversation's shard, which runs it
 * on its own local runtime (the same actor, run loop and log as one process) over the shared
 * PostgreSQL store.
 *
 * Choices, around `@effect/cluster` 0.60.2's known defects (research/platforms-2026-12.md §3):
 * - No RPC is persisted: persisted streaming RPCs can lose their last reply id on 0.60.2, and the
 *   store already makes sends idempotent (`clientMessageId`), so a send retried through another
 *   runner after a crash is answered by the committed acceptance, never run twice.
 * - `concurrency: "unbounded"`: a streaming Subscribe must not block Send or Stop (the cluster's
 *   default mailbox of one would); the local actor orders the conversation's work itself.
 * - Ownership: the entity's start adopts the conversation (recovery of a dead owner's runs, its
 *   unanswered turns queued again); its end releases it when the shard left this runner (or the
 *   runner stops), so exactly one process writes a conversation. An entity reaped only for being
 *   idle while its run goes on leaves the run alone (the next message finds the actor here).
 *
 * @internal
 */
import * as Entity from "@effect/cluster/Entity"
import * as EntityId from "@effect/cluster/EntityId"
import { Sharding } from "@effect/cluster/Sharding"
import * as Rpc from "@effect/rpc/Rpc"
import { Deferred, type Duration, Effect, Exit, FiberId, Schedule, Schema, Stream } from "effect"
import type { ConversationPatch, SendOptions } from "../../Conversation.js"
import {
  ConversationBusy,
  ConversationNotFound,
  EventsExpired,
  MailboxFull,
  MessageNotFound,
  StoreError
} from "../../ConversationError.js"
import type { ConversationsService } from "../../Conversations.js"
import type { Host } from "../../internal/conversations/host.js"

/** Sent on a Subscribe stream every `HEARTBEAT_MS`, so a reader can tell a quiet conversation from a dead stream. */
export const HEARTBEAT_MS = 2000
const heartbeat = { _tag: "Heartbeat" } as const

/** Plain data (JSON-safe records the runtime already defines); typed at the edges below. */
const Data = Schema.Any

export const Conversation = Entity.make("SluiceConversation", [
  Rpc.make("Send", {
    payload: { text: Schema.String, options: Data },
    success: Data,
    error: Schema.Union(MailboxFull, StoreError)
  }),
  Rpc.make("Stop", { payload: { runId: Schema.optional(Schema.String) }, success: Schema.Boolean, error: StoreError }),
  Rpc.make("Subscribe", {
    payload: { fromSeq: Schema.Number },
    // Events are the owner's own records, not input: checked by the runtime that wrote them, so
    // here they are plain data (a Schema union decode per event was most of the hop's cost).
    success: Data,
    error: Schema.Union(StoreError, EventsExpired),
    stream: true
  }),
  /** Makes sure the conversation is active on its owner (adopted), for a reader on the same runner. */
  Rpc.make("Hold", { success: Schema.Void }),
  Rpc.make("History", { success: Data, error: StoreError }),
  Rpc.make("Update", { payload: { patch: Data }, success: Schema.Void, error: Schema.Union(ConversationNotFound, StoreError) }),
  Rpc.make("Remove", { success: Schema.Boolean, error: StoreError }),
  Rpc.make("Regenerate", {
    payload: { options: Data },
    success: Data,
    error: Schema.Union(ConversationBusy, ConversationNotFound, MessageNotFound, StoreError)
  }),
  Rpc.make("Edit", {
    payload: { messageId: Schema.String, text: Schema.String, options: Data },
    success: Data,
    error: Schema.Union(ConversationBusy, ConversationNotFound, MessageNotFound, MailboxFull, StoreError)
  })
])

export interface EntityOptions {
  /** How long an entity with no request stays (default 1 minute; its actor may stay longer, see `Conversations.Options`). */
  readonly maxIdleTime?: Duration.DurationInput | undefined
  /**
   * Conversations resident on this runner at most (default 10,000; `@effect/cluster` 0.60 has no
   * cap of its own). At the cap a new one puts away the least recently used idle one; when none
   * is idle, the new one is refused (`RunnerFull`) and its caller retries until `ownerWait`.
   */
  readonly maxResident?: number | undefined
}

/** A runner whose every resident conversation is busy refused one more (see `EntityOptions.maxResident`). */
export class RunnerFull extends Schema.TaggedError<RunnerFull>()("RunnerFull", { message: Schema.String }) {}

/** The entity's handlers on this runner's local runtime. */
/**
 * Which conversations live on this runner, shared by the entity handlers and this runner's
 * callers: least recently used first, capped, each with a signal that ends its streams when it
 * is put away here (their readers resume on the next owner).
 */
export interface Residency {
  /** This runner owns the conversation's shard now. */
  readonly owns: (conversationId: string) => boolean
  /** Completed when the conversation is put away here (or the runner stops): its streams end. */
  readonly leaving: (conversationId: string) => Deferred.Deferred<void>
  readonly touch: (conversationId: string) => void
  /** Room for one more: at the cap, the least recently used idle conversation is put away. */
  readonly makeRoom: (conversationId: string) => Effect.Effect<void>
  /** Releases it here: run interrupted and committed, actor gone (and with it its streams). */
  readonly putAway: (conversationId: string) => Effect.Effect<void>
  /** Puts every one away (the runner stops). */
  readonly handOver: Effect.Effect<void>
}

/**
 * Scoped: runs the watch that puts away the conversations whose shard left this runner (also one
 * whose entity was reaped while its run went on). `handOver` is for the runner's stop: every
 * conversation at once (runs end as interrupted, streams end, so readers resume on the next
 * owner) instead of the cluster waiting out `entityTerminationTimeout` for streams that never
 * end on their own.
 */
export const makeResidency = (host: Host, options: EntityOptions = {}) =>
  Effect.gen(function* () {
    const sharding = yield* Sharding
    const cap = Math.max(1, options.maxResident ?? 10_000)
    /** Resident conversations, least recently used first (a Map keeps insertion order), each with its leaving signal. */
    const resident = new Map<string, Deferred.Deferred<void>>()
    const owns = (id: string) => sharding.hasShardId(sharding.getShardId(EntityId.make(id), "default"))
    const leaving = (id: string) => {
      let d = resident.get(id)
      if (d === undefined) {
        d = Deferred.unsafeMake<void>(FiberId.none)
        resident.set(id, d)
      }
      return d
    }
    const touch = (id: string) => {
      const d = leaving(id)
      resident.delete(id)
      resident.set(id, d)
    }
    const putAway = (id: string) =>
      Effect.suspend(() => {
        const d = resident.get(id)
        resident.delete(id)
        if (d !== undefined) Deferred.unsafeDone(d, Exit.void)
        return host.release(id)
      })
    const makeRoom = (id: string) =>
      Effect.gen(function* () {
        if (resident.has(id) || resident.size < cap) return
        for (const old of resident.keys()) {
          if (host.idle(old)) return yield* putAway(old)
        }
        return yield* Effect.die(new RunnerFull({ message: `this runner holds its cap of ${cap} conversations, every one busy` }))
      })
    yield* Effect.forkScoped(
      Effect.repeat(
        Effect.suspend(() => {
          const gone = [...resident.keys()].filter((id) => !owns(id))
          return Effect.forEach(gone, putAway, { concurrency: "unbounded", discard: true })
        }),
        Schedule.spaced("500 millis")
      )
    )
    const handOver = Effect.suspend(() => Effect.forEach([...resident.keys()], putAway, { concurrency: "unbounded", discard: true }))
    const residency: Residency = { owns, leaving, touch, makeRoom, putAway, handOver }
    return residency
  })

/** The entity's handlers on this runner's local runtime. */
export const layer = (service: ConversationsService, host: Host, residency: Residency, options: EntityOptions = {}) =>
  Conversation.toLayer(
    Effect.gen(function* () {
      const address = yield* Entity.CurrentAddress
      const sharding = yield* Sharding
      const id = address.entityId
      yield* residency.makeRoom(id)
      yield* Effect.orDie(host.adopt(id))
      residency.touch(id)
      yield* Effect.addFinalizer(() =>
        Effect.gen(function* () {
          const stillOurs = !(yield* sharding.isShutdown) && sharding.hasShardId(address.shardId)
          // Reaped for being idle while a run goes on or a reader here follows it: it stays (this
          // runner still owns it; the residency watch puts it away if the shard leaves).
          if (stillOurs && !host.idle(id)) return
          yield* residency.putAway(id)
        })
      )
      /** Every request counts as use (and brings back an actor the cap put away). */
      const using = <A>(a: A): A => {
        residency.touch(id)
        return a
      }
      return Conversation.of({
        Send: ({ payload }) => using(service.send(id, payload.text, payload.options as SendOptions)),
        Stop: ({ payload }) => using(service.stop(id, payload.runId)),
        // Ends when the conversation is put away here: the reader resumes on the next owner. (The
        // end of the local stream alone did not always end the RPC stream during a shutdown: the
        // leaving signal does, for a queue hop per chunk on remote reads.)
        Subscribe: ({ payload }) =>
          using(
            Stream.merge(service.subscribe(id, { fromSeq: payload.fromSeq }), Stream.as(Stream.tick(`${HEARTBEAT_MS} millis`), heartbeat), {
              haltStrategy: "left"
            }).pipe(Stream.merge(Stream.drain(Stream.fromEffect(Deferred.await(residency.leaving(id)))), { haltStrategy: "either" }))
          ),
        Hold: () => Effect.sync(() => using(undefined)),
        History: () => using(service.history(id)),
        Update: ({ payload }) => using(service.update(id, payload.patch as ConversationPatch)),
        Remove: () => using(service.remove(id)),
        Regenerate: ({ payload }) => using(service.regenerate(id, payload.options as SendOptions)),
        Edit: ({ payload }) => using(service.edit(id, payload.messageId, payload.text, payload.options as SendOptions))
      })
    }),
    { concurrency: "unbounded", maxIdleTime: options.maxIdleTime ?? "1 minute" }
  )
