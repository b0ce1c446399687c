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
}

export interface EntityOptions {
  /** How long an entity with no request stays (default 5 minutes). */
  readonly maxIdleTime?: Duration.DurationInput | undefined
}

/** The entity's handlers on this runner's local runtime. */
export const layer = (service: ConversationsService, host: Host, options: EntityOptions = {}) =>
  Conversation.toLayer(
    Effect.gen(function* () {
      const address = yield* Entity.CurrentAddress
      const sharding = yield* Sharding
      const id = address.entityId
      yield* Effect.orDie(host.adopt(id))
      yield* Effect.addFinalizer(() =>
        Effect.gen(function* () {
          const stillOurs = !(yield* sharding.isShutdown) && sharding.hasShardId(address.shardId)
          // Reaped for being idle while a run goes on: the run stays (this runner still owns it).
          if (stillOurs && host.busy(id)) return
          yield* host.release(id)
        })
      )
      return Conversation.of({
        Send: ({ payload }) => service.send(id, payload.text, payload.options as SendOptions),
        Stop: ({ payload }) => service.stop(id, payload.runId),
        Subscribe: ({ payload }) => service.subscribe(id, { fromSeq: payload.fromSeq }),
        History: () => service.history(id),
        Update: ({ payload }) => service.update(id, payload.patch as ConversationPatch),
        Remove: () => service.remove(id),
        Regenerate: ({ payload }) => service.regenerate(id, payload.options as SendOptions),
        Edit: ({ payload }) => service.edit(id, payload.messageId, payload.text, payload.options as SendOptions)
      })
    }),
    { concurrency: "unbounded", maxIdleTime: options.maxIdleTime ?? "5 minutes" }
  )

export type Results = {
  readonly Send: Accepted
  readonly History: ReadonlyArray<HistoryMessage>
  readonly Regenerate: Regenerated
  readonly Edit: Accepted
}
