/** Shared test wiring: fakes as scoped resources, the real Conversations on the scripted model. */
import { FetchHttpClient, type HttpClient } from "@effect/platform"
import { Config, Conversations, Model, type ReplyEvent } from "@sluice/core"
import { Chunk, Effect, Layer, Stream, type Scope } from "effect"
import { type Channel, ChannelHub, Markdown, OutboundSplitter } from "../../src/index.js"

export const fake = <F extends { start: () => Promise<F>; close: () => Promise<void> }>(make: () => F): Effect.Effect<F, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.promise(() => make().start()),
    (f) => Effect.promise(() => f.close())
  )

/** Polls (real time) until `cond` holds; fails the test after `timeoutMs`. */
export const waitUntil = (what: string, cond: () => boolean, timeoutMs = 8000): Effect.Effect<void> =>
  Effect.promise(async () => {
    const until = Date.now() + timeoutMs
    while (!cond()) {
      if (Date.now() > until) throw new Error(`timed out waiting for ${what}`)
      await new Promise((r) => setTimeout(r, 10))
    }
  })

/** Builds hub + real Conversations (memory store) + scripted model + fetch HttpClient in the current scope. */
export const startHub = (
  adapter: Effect.Effect<Channel.Adapter, never, HttpClient.HttpClient>,
  options: {
    readonly config?: unknown
    readonly thinking?: boolean
    readonly words?: number
    readonly draftIntervalMs?: number
    readonly tokensPerSecond?: number
    /** Passivate idle conversations after this long (default: Conversations' 5 minutes). */
    readonly idleTimeToLive?: string
  } = {}
) =>
  Effect.gen(function* () {
    const config = Config.decodeSync(options.config ?? {})
    const adapterLayer = Layer.effect(AdapterTag, adapter).pipe(Layer.provide(FetchHttpClient.layer))
    const layer = Layer.scoped(
      ChannelHub.ChannelHub,
      Effect.flatMap(AdapterTag, (a) => ChannelHub.make({ adapters: [a], config, draftIntervalMs: options.draftIntervalMs ?? 40 }))
    ).pipe(
      Layer.provideMerge(Layer.merge(SqliteStore.layerConversationsMemory(options.idleTimeToLive === undefined ? {} : { idleTimeToLive: options.idleTimeToLive as Duration.DurationInput }), adapterLayer)),
      Layer.provide(Model.layerScripted({ tokensPerSecond: options.tokensPerSecond ?? 0, ...(options.thinking ? { thinking: true } : {}), ...(options.words ? { words: options.words } : {}) }))
    )
    const ctx = yield* Layer.build(layer).pipe(Effect.orDie)
    return {
      hub: Context.get(ctx, ChannelHub.ChannelHub),
      conversations: Context.get(ctx, Conversations.Conversations),
      adapter: Context.get(ctx, AdapterTag),
      config
    }
  })

import { Context, type Duration } from "effect"
import * as SqliteStore from "@sluice/core/sqlite/SqliteStore"
class AdapterTag extends Context.Tag("test/Adapter")<AdapterTag, Channel.Adapter>() {}

/** Waits for the conversation's first run to end and returns its events. */
export const runEvents = (conversations: Conversations.ConversationsService, id: string) =>
  Effect.gen(function* () {
    yield* waitUntilEffect(() => conversations.history(id).pipe(Effect.map((h) => h.some((m) => m.role === "assistant" && m.status !== "streaming"))))
    return yield* conversations.subscribe(id, { fromSeq: 0 }).pipe(
      Stream.takeUntil((e) => e._tag === "RunEnded"),
      Stream.runCollect,
      Effect.map(Chunk.toReadonlyArray)
    )
  })

const waitUntilEffect = (cond: () => Effect.Effect<boolean, unknown>) =>
  Effect.gen(function* () {
    for (let i = 0; i < 800; i++) {
      if (yield* cond().pipe(Effect.orElseSucceed(() => false))) return
      yield* Effect.promise(() => new Promise((r) => setTimeout(r, 10)))
    }
    return yield* Effect.die(new Error("run did not end"))
  })

/** What a user sees for a reply text on a channel: split to the limits, rendered in the dialect. */
export const expectedMessages = (text: string, caps: Channel.Capabilities, limit: number, dialect = caps.dialect) =>
  OutboundSplitter.split(text, {
    limit: Math.min(limit, caps.textChunkLimit),
    chunkMode: caps.chunkMode,
    maxLines: caps.maxLinesPerMessage,
    maxBytes: caps.maxBytes
  }).map((p) =>
    Markdown.render(p, dialect)
  )

export const blocksOf = (events: ReadonlyArray<ReplyEvent.ReplyEvent>) =>
  events.flatMap((e) => (e._tag === "Block" ? [e.text] : []))
export const finalOf = (events: ReadonlyArray<ReplyEvent.ReplyEvent>) => {
  const f = events.find((e) => e._tag === "Final")
  return f?._tag === "Final" ? f.text : ""
}
