/**
 * Connects channel adapters to Conversations.
 *
 * Inbound: every message (pulled by an adapter's `inbound` stream, or pushed through a webhook)
 * becomes `Conversations.send(conversationId, text, { owner, settings })` with
 * `conversationId = <channel>:<account>:<chat>[:<thread>]`, `owner = <channel>:<account>` and the
 * settings `Config.resolve(config, { agentId, channel, accountId })` gives. The first message of a
 * conversation starts its delivery: a subscription from that message's seq, delivered to the chat
 * by `ChannelDelivery` until the hub closes (one delivery fiber per conversation, so replies of
 * successive messages stay in order).
 *
 * Chat commands handled here, not sent to the model: `/reasoning stream` | `/reasoning off`
 * (show reasoning in the Telegram draft).
 *
 * Webhooks: `webhook(channel, account, request)` runs the adapter's pure verification/parsing and
 * hands the messages it yields to `receive` — a request that fails verification never reaches a
 * conversation. The gateway mounts it (packages/gateway/src/Webhooks.ts).
 *
 * @since 0.1.0
 */
import { Config, Conversations } from "@sluice/core"
import { Context, Effect, FiberMap, Layer, type Scope, Stream } from "effect"
import { type Adapter, conversationId, type InboundMessage, ownerOf } from "./Channel.js"
import * as ChannelDelivery from "./ChannelDelivery.js"
import type { WebhookRequest, WebhookResult } from "./Webhook.js"

export interface Options {
  readonly adapters: ReadonlyArray<Adapter>
  readonly config?: Config.Config | undefined
  readonly agentId?: string | undefined
  /** Spacing of Telegram draft updates (tests make it small). */
  readonly draftIntervalMs?: number | undefined
}

export interface Service {
  readonly adapters: ReadonlyArray<Adapter>
  /** Handles one inbound message; undefined when it was a chat command. */
  readonly receive: (message: InboundMessage) => Effect.Effect<Conversations.Accepted | undefined, Conversations.MailboxFull | Conversations.StoreError>
  readonly webhook: (channel: string, accountId: string, request: WebhookRequest) => Effect.Effect<WebhookResult>
}

export class ChannelHub extends Context.Tag("@sluice/channels/ChannelHub")<ChannelHub, Service>() {}

const key = (channel: string, accountId: string) => `${channel}:${accountId}`

/** Builds the hub and runs every adapter's inbound stream in the scope. */
export const make = (options: Options): Effect.Effect<Service, never, Conversations.Conversations | Scope.Scope> =>
  Effect.gen(function* () {
    const conversations = yield* Conversations.Conversations
    const byKey = new Map(options.adapters.map((a) => [key(a.channel, a.accountId), a]))
    const deliveries = yield* FiberMap.make<string>()
    const reasoning = new Map<string, boolean>()
    const config = options.config ?? Config.empty

    const receive = (m: InboundMessage) =>
      Effect.gen(function* () {
        const adapter = byKey.get(key(m.channel, m.accountId))
        const id = conversationId(m)
        const command = /^\/reasoning(?:@\w+)?\s+(stream|on|off)\s*$/i.exec(m.text.trim())
        if (command !== null && adapter !== undefined) {
          const on = command[1]!.toLowerCase() !== "off"
          reasoning.set(id, on)
          const ack = on ? "Reasoning will stream in the draft." : "Reasoning stays hidden."
          yield* adapter.send(m, { formatted: ack, plain: ack }).pipe(Effect.ignore)
          return undefined
        }
        const settings = Config.resolve(config, { agentId: options.agentId, channel: m.channel, accountId: m.accountId })
        const accepted = yield* conversations.send(id, m.text, { owner: ownerOf(m.channel, m.accountId), settings })
        if (adapter !== undefined) {
          const target = { chatId: m.chatId, threadId: m.threadId, isPrivate: m.isPrivate }
          yield* FiberMap.run(
            deliveries,
            id,
            ChannelDelivery.deliver(
              {
                adapter,
                target,
                settings,
                reasoningStream: () => reasoning.get(id) === true,
                draftIntervalMs: options.draftIntervalMs
              },
              conversations.subscribe(id, { fromSeq: accepted.seq })
            ),
            { onlyIfMissing: true }
          )
        }
        return accepted
      })

    const webhook = (channel: string, accountId: string, request: WebhookRequest): Effect.Effect<WebhookResult> => {
      const adapter = byKey.get(key(channel, accountId))
      if (adapter?.webhook === undefined) return Effect.succeed({ status: 404, body: "not found", messages: [] })
      const result = adapter.webhook(request)
      return Effect.forEach(result.messages, (m) => receive(m).pipe(Effect.catchAll((e) => Effect.logWarning("inbound message not accepted", e))), {
        discard: true
      }).pipe(Effect.as(result))
    }

    for (const adapter of options.adapters) {
      yield* adapter.inbound.pipe(
        Stream.runForEach((m) => receive(m).pipe(Effect.catchAll((e) => Effect.logWarning("inbound message not accepted", e)))),
        Effect.catchAll((e) => Effect.logError(`${adapter.channel}:${adapter.accountId} inbound stopped`, e)),
        Effect.forkScoped
      )
    }
    return { adapters: options.adapters, receive, webhook }
  })

export const layer = (options: Options): Layer.Layer<ChannelHub, never, Conversations.Conversations> =>
  Layer.scoped(ChannelHub, make(options))
