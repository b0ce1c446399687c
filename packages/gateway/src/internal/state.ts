/**
 * What every gateway surface (WS, SSE, HTTP, OpenAI) shares: resolved options, auth, the
 * Conversations service, the run tracker (concurrent-run cap, metrics) and the shutdown latch.
 */
import { ClusterStatus, ConversationFeed, Conversations } from "@sluice/core"
import type { StreamingSettings } from "@sluice/core/StreamingSettings"
import type { ReplyEvent } from "@sluice/core/ReplyEvent"
import { Clock, Deferred, Effect, Option, type Redacted } from "effect"
import type * as Auth from "../Auth.js"
import * as Metrics from "../Metrics.js"

export interface Limits {
  /** Largest HTTP request body accepted (413 above). */
  readonly maxBodyBytes: number
  /** Largest WebSocket frame accepted (close 1009 above). */
  readonly maxFrameBytes: number
  /** Per-connection client frames per second (token bucket refill rate). */
  readonly messagesPerSecond: number
  /** Per-connection burst above the rate. */
  readonly burst: number
  /** Runs in progress per principal; a send that would start another is refused. */
  readonly maxRunsPerPrincipal: number
  /** Bytes queued in a socket above which events are held back and merged into batch frames. */
  readonly sendHighWaterBytes: number
  /** Bytes of held-back events above which the client is closed with 4008. */
  readonly maxPendingBytes: number
  /** How long events may stay held back before the client is closed with 4008. */
  readonly slowConsumerMs: number
}

export const defaultLimits: Limits = {
  maxBodyBytes: 1024 * 1024,
  maxFrameBytes: 1024 * 1024,
  messagesPerSecond: 20,
  burst: 40,
  maxRunsPerPrincipal: 4,
  sendHighWaterBytes: 64 * 1024,
  maxPendingBytes: 4 * 1024 * 1024,
  slowConsumerMs: 15_000
}

export interface Resolved {
  readonly host: string
  readonly port: number
  readonly limits: Limits
  /** WebSocket protocol ping interval; a peer that misses one whole interval is closed. */
  readonly heartbeatMs: number
  /** SSE heartbeat comment interval. */
  readonly sseHeartbeatMs: number
  /** SIGTERM: how long running turns may take to finish before they are stopped. */
  readonly graceMs: number
  /** Streaming settings for messages sent through the gateway (undefined = the conversation's). */
  readonly settings: StreamingSettings | undefined
  readonly modelName: string
  readonly offline: boolean
  /** What `update.model` accepts. */
  readonly models: ReadonlyArray<string>
  /** OpenAI model names → the model that answers them. */
  readonly modelAliases: Readonly<Record<string, string>>
  /** OpenAI `image_url` parts with http(s) URLs go to the model (`model.imageUrls`); else data URLs only. */
  readonly imageUrls: boolean
  /** Also accepted by `/metrics`. */
  readonly metricsToken: Redacted.Redacted<string> | undefined
}

export class ShuttingDown extends Error {}

export interface RunInfo {
  readonly principal: string
  /** Messages accepted but whose run has not started yet. */
  pending: number
  acceptedAt: number
  firstOutput: boolean
}

export interface State {
  readonly options: Resolved
  readonly auth: Auth.Auth
  readonly conversations: Conversations.ConversationsService
  /** Callback subscriptions (the local runtime's, or one on `subscribe` for a remote one). */
  readonly feed: ConversationFeed.ConversationFeedService
  /** Conversations with a run in progress or queued, started through the gateway. */
  readonly runs: Map<string, RunInfo>
  /** Runs of the principal: tracked ones plus the slots its sends have reserved. */
  readonly runsOf: (principal: string) => number
  /**
   * A run slot for a send from its run-cap check until it is tracked (or fails), so the cap holds
   * under a burst without a lock: false when the conversation already runs or is being admitted.
   */
  readonly reserve: (principal: string, conversationId: string) => boolean
  readonly unreserve: (conversationId: string) => void
  /** Starts following a conversation's runs after an accepted send (idempotent). */
  readonly track: (conversationId: string, principal: string, accepted: Conversations.Accepted) => Effect.Effect<void>
  /** Completed at the end of shutdown, when streams are closed (SSE bodies end). */
  readonly shutdown: Deferred.Deferred<void>
  /** True from the start of shutdown: new work and new connections are refused. */
  readonly isShuttingDown: () => boolean
  /** This gateway's runner, when it is one of a cluster (its health: `/readyz`). */
  readonly cluster: Option.Option<ClusterStatus.ClusterStatusService>
  readonly beginShutdown: Effect.Effect<void>
  readonly closeStreams: Effect.Effect<void>
}

export const make = (options: Resolved, auth: Auth.Auth) =>
  Effect.gen(function* () {
    const conversations = yield* Conversations.Conversations
    const localFeed = yield* Effect.serviceOption(ConversationFeed.ConversationFeed)
    const cluster = yield* Effect.serviceOption(ClusterStatus.ClusterStatus)
    const feed = Option.isSome(localFeed) ? localFeed.value : yield* ConversationFeed.fromConversations(conversations)
    const clock = yield* Effect.clock
    const shutdown = yield* Deferred.make<void>()
    const runs = new Map<string, RunInfo>()
    const perPrincipal = new Map<string, number>()
    let stopping = false
    // Bound: one entry per send in flight (each is released when its send ends).
    const reserved = new Map<string, string>()
    const reservedBy = new Map<string, number>()

    const adjust = (principal: string, d: number) => {
      const n = (perPrincipal.get(principal) ?? 0) + d
      if (n <= 0) perPrincipal.delete(principal)
      else perPrincipal.set(principal, n)
      Metrics.unsafeGaugeAdd(Metrics.activeRuns, d)
    }

    // One callback listener per tracked conversation (no fiber, no Stream): counts and metrics are
    // updated synchronously as events get their seq; it stops itself when the last run ends.
    const following = new Set<() => void>()
    const follow = (conversationId: string, info: RunInfo, fromSeq: number) => {
      let stop: (() => void) | undefined
      let done = false
      const finish = () => {
        if (done) return
        done = true
        if (stop !== undefined) following.delete(stop)
        stop?.()
        if (runs.get(conversationId) === info) {
          runs.delete(conversationId)
          adjust(info.principal, -1)
        }
      }
      const onEvents = (events: ReadonlyArray<ReplyEvent>) => {
        for (const ev of events) {
          if (done) return
          switch (ev._tag) {
            case "UserMessage":
              info.pending++
              break
            case "RunStarted":
              info.pending = 0
              info.firstOutput = false
              Metrics.unsafeIncrement(Metrics.runsStarted)
              break
            case "Block":
            case "Draft":
            case "Final":
              if (!info.firstOutput) {
                info.firstOutput = true
                Metrics.unsafeObserve(Metrics.timeToFirstBlock, (clock.unsafeCurrentTimeMillis() - info.acceptedAt) / 1000)
              }
              break
            case "Error":
              Metrics.unsafeIncrement(Metrics.errors, { tag: ev.error.tag })
              break
            case "RunEnded":
              Metrics.unsafeIncrement(Metrics.runsEnded, { reason: ev.reason })
              if (info.pending === 0) finish()
              break
          }
        }
      }
      // A deleted conversation ends its listeners: its queued turns will never run, so stop counting.
      return feed.listen(conversationId, { fromSeq }, onEvents, finish).pipe(
        Effect.matchCauseEffect({
          onSuccess: (unlisten) =>
            Effect.sync(() => {
              if (done) return unlisten()
              stop = unlisten
              following.add(unlisten)
            }),
          onFailure: (c) => Effect.zipRight(Effect.sync(finish), Effect.logWarning("run tracker stopped", c))
        })
      )
    }
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        for (const stop of following) stop()
        following.clear()
      })
    )

    const track = (conversationId: string, principal: string, accepted: Conversations.Accepted) =>
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const existing = runs.get(conversationId)
        if (existing) {
          existing.acceptedAt = now
          return
        }
        // The UserMessage at accepted.seq is replayed, so pending counts it.
        const info: RunInfo = { principal, pending: 0, acceptedAt: now, firstOutput: false }
        runs.set(conversationId, info)
        adjust(principal, +1)
        yield* follow(conversationId, info, Math.max(0, accepted.seq - 1))
      })


    const state: State = {
      options,
      auth,
      conversations,
      feed,
      runs,
      runsOf: (p) => (perPrincipal.get(p) ?? 0) + (reservedBy.get(p) ?? 0),
      reserve: (principal, conversationId) => {
        if (runs.has(conversationId) || reserved.has(conversationId)) return false
        reserved.set(conversationId, principal)
        reservedBy.set(principal, (reservedBy.get(principal) ?? 0) + 1)
        return true
      },
      unreserve: (conversationId) => {
        const principal = reserved.get(conversationId)
        if (principal === undefined) return
        reserved.delete(conversationId)
        const n = (reservedBy.get(principal) ?? 1) - 1
        if (n <= 0) reservedBy.delete(principal)
        else reservedBy.set(principal, n)
      },
      track,
      shutdown,
      isShuttingDown: () => stopping,
      cluster,
      beginShutdown: Effect.sync(() => {
        stopping = true
      }),
      closeStreams: Deferred.succeed(shutdown, undefined).pipe(Effect.asVoid)
    }
    return state
  })
