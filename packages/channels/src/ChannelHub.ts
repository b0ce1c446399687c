/**
 * Connects channel adapters to Conversations.
 *
 * Inbound: every message (pulled by an adapter's `inbound` stream, or pushed through a webhook)
 * becomes `Conversations.send(conversationId, text, { owner, settings })` with
 * `conversationId = <channel>:<account>:<chat>[:<thread>]`, `owner = <channel>:<account>` and the
 * settings `Config.resolve(config, { agentId, channel, accountId })` gives. A message starts its
 * conversation's delivery unless one is running: a subscription from that message's seq, delivered
 * to the chat by `ChannelDelivery` (one delivery per conversation at a time, so replies of
 * successive messages stay in order).
 *
 * **A delivery ends when its conversation has answered everything.** A delivery reads from its
 * first message's `UserMessage` on; each `UserMessage` names the run that answers it (`runId`:
 * its own turn, or the queued turn it was collected into), so the delivery stops at a `RunEnded`
 * once every run it has seen a message for has ended and that `RunEnded` comes after the last
 * message handed to it (so a message committed just before a `RunEnded` the delivery has not read
 * yet still holds it open). It then releases its subscription, so the conversation passivates like
 * any other; the next message starts a new delivery from its own seq (after the previous one has
 * finished sending). The decision and the hand-over are synchronous on one map, so every message
 * is answered exactly once. The map holds only deliveries in progress.
 *
 * Each message is sent with its platform message id as `clientMessageId`, so the same update
 * received twice (a webhook retry, a poll restarted before its offset was confirmed, even across a
 * gateway restart) is accepted once and answered once.
 *
 * Chat commands handled here, not sent to the model: `/stop` (stops the chat's running reply; its
 * text so far is delivered; Telegram's draft stop button does the same for the reply it belongs to), `/reasoning stream` | `/reasoning off`
 * (show reasoning in the Telegram draft). The choice is kept for the most recent
 * {@link MAX_CHAT_PREFERENCES} chats; past that the oldest choice is forgotten (back to off).
 *
 * Webhooks: `webhook(channel, account, request)` runs the adapter's pure verification/parsing and
 * hands the messages it yields to `receive` — a request that fails verification never reaches a
 * conversation. The gateway mounts it (packages/gateway/src/Webhooks.ts).
 *
 * @since 0.1.0
 */
import { Config, Conversations, type ReplyEvent } from "@sluice/core"
import { Context, Effect, Fiber, FiberSet, Layer, type Scope, Stream } from "effect"
import { type Adapter, conversationId, type InboundMessage, ownerOf } from "./Channel.js"
import * as ChannelDelivery from "./ChannelDelivery.js"
import type { WebhookRequest, WebhookResult } from "./Webhook.js"

export interface Options {
  readonly adapters: ReadonlyArray<Adapter>
  readonly config?: Config.Config | undefined
  readonly agentId?: string | undefined
  /** Spacing of Telegram draft updates (tests make it small). */
  readonly draftIntervalMs?: number | undefined
  /** Re-show an unchanged Telegram draft after this long (default 20 s; drafts expire after ~30 s). */
  readonly draftRefreshMs?: number | undefined
}

export interface Service {
  readonly adapters: ReadonlyArray<Adapter>
  /** Handles one inbound message; undefined when it was a chat command. */
  readonly receive: (message: InboundMessage) => Effect.Effect<Conversations.Accepted | undefined, Conversations.MailboxFull | Conversations.StoreError>
  readonly webhook: (channel: string, accountId: string, request: WebhookRequest) => Effect.Effect<WebhookResult>
  /** Deliveries in progress (conversations still answering); 0 once every chat has its replies. */
  readonly deliveries: () => number
}

/** Chats whose `/reasoning` choice is remembered (least recently set forgotten first). */
export const MAX_CHAT_PREFERENCES = 10_000

interface Delivery {
  /** Seq of the last message handed to this delivery. */
  lastAccepted: number
  /** Its stop rule has fired: a later message needs a new delivery. */
  ending: boolean
  /** The Telegram draft it is showing, if any: a press of that draft's stop button stops the reply. */
  draft: number | undefined
  fiber: Fiber.RuntimeFiber<void> | undefined
}

/** The events a delivery answers: through the `RunEnded` that leaves none of its messages unanswered. */
const untilAnswered = (d: Delivery) => (events: Stream.Stream<ReplyEvent.ReplyEvent, unknown>) => {
  const waiting = new Set<string>()
  return Stream.takeUntil(events, (e) => {
    if (e._tag === "UserMessage") waiting.add(e.runId)
    else if (e._tag === "RunEnded") {
      waiting.delete(e.runId)
      if (waiting.size === 0 && e.seq > d.lastAccepted) {
        d.ending = true
        return true
      }
    }
    return false
  })
}

export class ChannelHub extends Context.Tag("@sluice/channels/ChannelHub")<ChannelHub, Service>() {}

const key = (channel: string, accountId: string) => `${channel}:${accountId}`

/** Builds the hub and runs every adapter's inbound stream in the scope. */
export const make = (options: Options): Effect.Effect<Service, never, Conversations.Conversations | Scope.Scope> =>
  Effect.gen(function* () {
    const conversations = yield* Conversations.Conversations
    const byKey = new Map(options.adapters.map((a) => [key(a.channel, a.accountId), a]))
    const fibers = yield* FiberSet.make<void>()
    const deliveries = new Map<string, Delivery>()
    const reasoning = new Map<string, boolean>()
    const setReasoning = (id: string, on: boolean) => {
      reasoning.delete(id)
      reasoning.set(id, on)
      if (reasoning.size > MAX_CHAT_PREFERENCES) reasoning.delete(reasoning.keys().next().value as string)
    }
    const config = options.config ?? Config.empty
    // Draft ids are unique across the hub's deliveries, so a stop pressed on an old draft never
    // matches a newer reply's.
    let draftIds = 0
    const nextDraftId = () => ++draftIds

    const receive = (m: InboundMessage) =>
      Effect.gen(function* () {
        const adapter = byKey.get(key(m.channel, m.accountId))
        const id = conversationId(m)
        if (m.stopDraft !== undefined) {
          // The stop button of a draft: stops the reply that draft shows (a press on an older draft,
          // whose reply already ended, stops nothing). The text so far is sent as the reply.
          const live = deliveries.get(id)
          if (live !== undefined && live.draft === m.stopDraft) yield* conversations.stop(id)
          return undefined
        }
        if (adapter !== undefined && /^\/stop(?:@\w+)?\s*$/i.test(m.text.trim())) {
          // Stops this chat's running reply; what it had written so far is delivered as the reply.
          const stopped = yield* conversations.stop(id)
          const ack = stopped ? "Stopped." : "Nothing is running."
          yield* adapter.send(m, { formatted: ack, plain: ack }).pipe(Effect.ignore)
          return undefined
        }
        const command = /^\/reasoning(?:@\w+)?\s+(stream|on|off)\s*$/i.exec(m.text.trim())
        if (command !== null && adapter !== undefined) {
          const on = command[1]!.toLowerCase() !== "off"
          setReasoning(id, on)
          const ack = on ? "Reasoning will stream in the draft." : "Reasoning stays hidden."
          yield* adapter.send(m, { formatted: ack, plain: ack }).pipe(Effect.ignore)
          return undefined
        }
        const settings = Config.resolve(config, { agentId: options.agentId, channel: m.channel, accountId: m.accountId })
        // The platform's message id is the idempotency key: an update delivered again (a webhook
        // retry, long polling restarted before its offset was confirmed) is not answered twice.
        const accepted = yield* conversations.send(id, m.text, {
          owner: ownerOf(m.channel, m.accountId),
          settings,
          ...(m.messageId === "" ? {} : { clientMessageId: `${m.channel}:${m.messageId}` })
        })
        if (adapter === undefined || accepted.duplicate === true) return accepted
        const current = deliveries.get(id)
        // A delivery that is not ending reads this message (published before `send` returned) and
        // will not end before it has (its last RunEnded must come after `lastAccepted`).
        if (current !== undefined && !current.ending) {
          current.lastAccepted = Math.max(current.lastAccepted, accepted.seq)
          return accepted
        }
        const d: Delivery = { lastAccepted: accepted.seq, ending: false, fiber: undefined, draft: undefined }
        deliveries.set(id, d)
        const previous = current?.fiber
        const target = { chatId: m.chatId, threadId: m.threadId, isPrivate: m.isPrivate, replyTo: m.messageId, recipientId: m.senderId, teamId: m.teamId }
        const events = conversations.subscribe(id, { fromSeq: accepted.seq - 1 }).pipe(untilAnswered(d))
        d.fiber = yield* FiberSet.run(
          fibers,
          // The previous delivery sends its last messages first, so replies stay in order.
          Effect.zipRight(
            previous === undefined ? Effect.void : Fiber.await(previous),
            ChannelDelivery.deliver(
              {
                adapter,
                target,
                settings,
                reasoningStream: () => reasoning.get(id) === true,
                draftIntervalMs: options.draftIntervalMs,
                draftRefreshMs: options.draftRefreshMs,
                nextDraftId,
                onDraft: (draft) => {
                  d.draft = draft
                }
              },
              events
            )
          ).pipe(Effect.ensuring(Effect.sync(() => deliveries.get(id) === d && deliveries.delete(id))))
        )
        return accepted
      })

    const webhook = (channel: string, accountId: string, request: WebhookRequest): Effect.Effect<WebhookResult> => {
      const adapter = byKey.get(key(channel, accountId))
      if (adapter?.webhook === undefined) return Effect.succeed({ status: 404, body: "not found", messages: [] })
      const result = adapter.webhook(request)
      return Effect.forEach(result.messages, (m) => receive(m).pipe(Effect.catchAll((e) => Effect.logWarning(`inbound message not accepted: ${e._tag}: ${e.message}`))), {
        discard: true
      }).pipe(Effect.as(result))
    }

    for (const adapter of options.adapters) {
      yield* adapter.inbound.pipe(
        Stream.runForEach((m) => receive(m).pipe(Effect.catchAll((e) => Effect.logWarning(`inbound message not accepted: ${e._tag}: ${e.message}`)))),
        Effect.catchAll((e) => Effect.logError(`${adapter.channel}:${adapter.accountId} inbound stopped (${e.method} HTTP ${e.status}: ${e.description})`)),
        Effect.forkScoped
      )
    }
    return { adapters: options.adapters, receive, webhook, deliveries: () => deliveries.size }
  })

export const layer = (options: Options): Layer.Layer<ChannelHub, never, Conversations.Conversations> =>
  Layer.scoped(ChannelHub, make(options))
