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
import { Sharding } from "@effect/cluster/Sharding"
import * as Rpc from "@effect/rpc/Rpc"
import { type Duration, Effect, Schema } from "effect"
import type { Accepted, ConversationPatch, HistoryMessage, Regenerated, SendOptions } from "../../Conversation.js"
import {
  ConversationBusy,
  ConversationNotFound,
  EventsExpired,
  MailboxFull,
  MessageNotFound,
  StoreError
} from "../../ConversationError.js"
import type { ConversationsService } from "../../Conversations.js"
import { ReplyEvent } from "../../ReplyEvent.js"

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
    success: ReplyEvent,
    error: Schema.Union(StoreError, EventsExpired),
    stream: true
  }),
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

export interface Host {
  readonly adopt: (conversationId: string) => Effect.Effect<void, StoreError>
  readonly release: (conversationId: string) => Effect.Effect<void>
  readonly busy: (conversationId: string) => boolean
  /** Nothing going on here: no run, no queued turn, no reader. */
  readonly idle: (conversationId: string) => boolean
}

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
export const layer = (service: ConversationsService, host: Host, options: EntityOptions = {}) => {
  const cap = Math.max(1, options.maxResident ?? 10_000)
  /** Resident conversations, least recently used first (a Map keeps insertion order). */
  const resident = new Map<string, true>()
  const touch = (id: string) => {
    resident.delete(id)
    resident.set(id, true)
  }
  /** Room for `id`: at the cap, the least recently used idle conversation is put away. */
  const makeRoom = (id: string) =>
    Effect.gen(function* () {
      if (resident.has(id) || resident.size < cap) return
      for (const old of resident.keys()) {
        if (!host.idle(old)) continue
        resident.delete(old)
        yield* host.release(old)
        return
      }
      return yield* Effect.die(new RunnerFull({ message: `this runner holds its cap of ${cap} conversations, every one busy` }))
    })
  return Conversation.toLayer(
    Effect.gen(function* () {
      const address = yield* Entity.CurrentAddress
      const sharding = yield* Sharding
      const id = address.entityId
      yield* makeRoom(id)
      yield* Effect.orDie(host.adopt(id))
      touch(id)
      yield* Effect.addFinalizer(() =>
        Effect.gen(function* () {
          const stillOurs = !(yield* sharding.isShutdown) && sharding.hasShardId(address.shardId)
          // Reaped for being idle while a run goes on: the run stays (this runner still owns it).
          if (stillOurs && host.busy(id)) return
          resident.delete(id)
          yield* host.release(id)
        })
      )
      /** Every request counts as use (and brings back an actor the cap put away). */
      const using = <A>(a: A): A => {
        touch(id)
        return a
      }
      return Conversation.of({
        Send: ({ payload }) => using(service.send(id, payload.text, payload.options as SendOptions)),
        Stop: ({ payload }) => using(service.stop(id, payload.runId)),
        Subscribe: ({ payload }) => using(service.subscribe(id, { fromSeq: payload.fromSeq })),
        History: () => using(service.history(id)),
        Update: ({ payload }) => using(service.update(id, payload.patch as ConversationPatch)),
        Remove: () => using(service.remove(id)),
        Regenerate: ({ payload }) => using(service.regenerate(id, payload.options as SendOptions)),
        Edit: ({ payload }) => using(service.edit(id, payload.messageId, payload.text, payload.options as SendOptions))
      })
    }),
    { concurrency: "unbounded", maxIdleTime: options.maxIdleTime ?? "1 minute" }
  )
}

export type Results = {
  readonly Send: Accepted
  readonly History: ReadonlyArray<HistoryMessage>
  readonly Regenerate: Regenerated
  readonly Edit: Accepted
}
