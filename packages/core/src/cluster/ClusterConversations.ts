/**
 * `Conversations` on several processes: each conversation is an `@effect/cluster` entity,
 * sharded over the runners that share one PostgreSQL database, and every runner serves any
 * caller. Above the interface nothing changes: the gateway, the channels and the CLI use the same
 * `Conversations` service as on one process.
 *
 * - Writes and streams go to the conversation's owner (the runner holding its shard), which runs
 *   it on its local runtime over the shared store (`@sluice/core/pg/PgStore`); reads that need no
 *   owner (`list`, `owner`) go to the store.
 * - `subscribe` has the same seqs and the same exact resume as on one process: a stream cut by a
 *   runner that stopped or died is resumed from the last seq it delivered, on the new owner, with
 *   no gap and no duplicate.
 * - A send is idempotent across runners: one without a `clientMessageId` gets one, so a retry
 *   after a lost answer returns the first acceptance instead of queueing the message twice.
 * - Failover: a runner that stops hands its shards over; one that is killed is detected by the
 *   others' health checks (tuned here to answer again within seconds, not the 0.60 defaults'
 *   half-minute), and the new owner closes its runs as interrupted and answers what it had
 *   accepted and not started, each once.
 *
 * @since 0.2.0
 */
import { randomUUID } from "node:crypto"
import * as RunnerAddress from "@effect/cluster/RunnerAddress"
import { Sharding } from "@effect/cluster/Sharding"
import * as ShardId from "@effect/cluster/ShardId"
import type * as ShardingConfig from "@effect/cluster/ShardingConfig"
import * as NodeClusterSocket from "@effect/platform-node/NodeClusterSocket"
import * as PgClient from "@effect/sql-pg/PgClient"
import { Cause, Chunk, Context, Deferred, Duration, Runtime, Effect, Layer, Option, type Redacted, Schedule, Stream } from "effect"
import { ClusterStatus } from "../ClusterStatus.js"
import type { Accepted, HistoryMessage, Regenerated } from "../Conversation.js"
import {
  ConversationBusy,
  ConversationNotFound,
  EventsExpired,
  MailboxFull,
  MessageNotFound,
  StoreError
} from "../ConversationError.js"
import * as Conversations from "../Conversations.js"
import { ConversationStore, type RetentionOptions } from "../ConversationStore.js"
import * as runtime from "../internal/conversations/runtime.js"
import type { Model } from "../Model.js"
import * as PgStore from "../pg/PgStore.js"
import type { ReplyEvent } from "../ReplyEvent.js"
import * as Entity from "./internal/entity.js"

export interface Options extends Conversations.Options, RetentionOptions {
  /** The PostgreSQL database every runner shares: `postgres://user:password@host:port/database`. */
  readonly databaseUrl: Redacted.Redacted<string>
  /** Where the other runners reach this one (default host 127.0.0.1). */
  readonly runnerHost?: string | undefined
  readonly runnerPort: number
  /** Where this runner listens, when not its `runnerHost` (e.g. 0.0.0.0 behind NAT). */
  readonly listenHost?: string | undefined
  /** An entity with no request for this long is put away (default 1 minute). */
  readonly entityMaxIdleTime?: Duration.DurationInput | undefined
  /** Conversations resident on this runner at most (default 10,000; see `RunnerFull`). */
  readonly maxResident?: number | undefined
  /** `@effect/cluster` settings over the tuned defaults below (`failoverSharding`). */
  readonly sharding?: Partial<ShardingConfig.ShardingConfig["Type"]> | undefined
  /** How long a call waits for a conversation's owner to answer again (failover) before failing (default 20 s). */
  readonly ownerWait?: Duration.DurationInput | undefined
}

/**
 * Health checks every second (a killed runner refuses pings at once; five retries 0.5 s apart
 * then mark it unhealthy), assignments refreshed every second, shard locks renewed every 2 s and
 * expiring after 6 s: a killed runner's conversations answer again within a few seconds.
 */
export const failoverSharding: Partial<ShardingConfig.ShardingConfig["Type"]> = {
  runnerHealthCheckInterval: Duration.seconds(1),
  refreshAssignmentsInterval: Duration.seconds(1),
  shardLockRefreshInterval: Duration.seconds(2),
  shardLockExpiration: Duration.seconds(6),
  entityTerminationTimeout: Duration.seconds(10),
  sendRetryInterval: Duration.millis(100),
  // A call to an entity on this runner passes its (plain data) payloads as they are, instead of
  // through the codecs as if it went to another runner.
  simulateRemoteSerialization: false
}

/** This runner's local runtime (the entity handlers run on it). */
class Local extends Context.Tag("@sluice/core/cluster/Local")<Local, Effect.Effect.Success<ReturnType<typeof runtime.make>>>() {}
/** Which conversations live on this runner (shared by the handlers and this runner's callers). */
class Residency extends Context.Tag("@sluice/core/cluster/Residency")<Residency, Entity.Residency>() {}

/** A call's transport died under it (retried). */
class Transient {
  readonly _tag = "Transient"
  constructor(readonly props: { readonly defect: unknown }) {}
  get message() {
    return describe(this.props.defect)
  }
}

const isDomain = (e: unknown): boolean =>
  e instanceof StoreError ||
  e instanceof MailboxFull ||
  e instanceof EventsExpired ||
  e instanceof ConversationBusy ||
  e instanceof ConversationNotFound ||
  e instanceof MessageNotFound

const describe = (e: unknown) =>
  typeof e === "object" && e !== null && "_tag" in e ? `${String(e._tag)}${"message" in e && e.message ? `: ${String(e.message)}` : ""}` : String(e)

const makeClient = (options: Options) =>
  Effect.gen(function* () {
    const store = yield* ConversationStore
    const entity = yield* Entity.Conversation.client
    const rt = yield* Local
    const residency = yield* Residency
    const wait = Duration.toMillis(Duration.decode(options.ownerWait ?? "20 seconds"))

    /**
     * A call to the owner: a cluster failure (no owner yet, owner gone) is retried until an owner
     * answers, for at most `ownerWait` in all (the cluster also holds a request while it retries on
     * its own, e.g. an owner at its cap); the conversation's own errors are the caller's.
     */
    const call = <A, E>(what: string, conversationId: string, f: () => Effect.Effect<A, E | unknown>) =>
      f().pipe(
        // A runner's socket dying mid-call surfaces as a defect of the transport: retried like the rest.
        Effect.catchAllDefect((defect) => Effect.fail(new Transient({ defect }))),
        Effect.retry({ while: (e) => !isDomain(e), schedule: Schedule.spaced("250 millis") }),
        Effect.timeoutFail({
          duration: wait,
          onTimeout: () => new StoreError({ message: `cluster: ${what} ${conversationId}: no runner answered within ${wait} ms` })
        })
      ) as Effect.Effect<A, E | StoreError>

    const send: Conversations.ConversationsService["send"] = (conversationId, text, opts = {}) =>
      call("send to", conversationId, () =>
        entity(conversationId).Send({
          text,
          // A retry after a lost answer must not queue the message again.
          options: opts.clientMessageId === undefined ? { ...opts, clientMessageId: `cluster:${randomUUID()}` } : opts
        })
      ) as Effect.Effect<Accepted, MailboxFull | StoreError>

    /**
     * The owner's stream, resumed from the last seq it delivered whenever it breaks: an owner that
     * stopped or died (a failure, a transport defect, or silence: no event and no heartbeat for
     * three heartbeats, which is how a stream cut by a runner's shutdown can look from here).
     */
    const subscribe: Conversations.ConversationsService["subscribe"] = (conversationId, opts) =>
      Stream.suspend(() => {
        let last = Math.max(0, opts?.fromSeq ?? 0)
        const fresh = (chunk: Chunk.Chunk<ReplyEvent | { readonly _tag: "Heartbeat" }>) => {
          const out: Array<ReplyEvent> = []
          for (const ev of chunk) {
            if (ev._tag === "Heartbeat" || ev.seq <= last) continue
            out.push(ev)
            last = ev.seq
          }
          return Chunk.unsafeFromArray(out)
        }
        /**
         * This runner owns it: read the local runtime directly (no RPC per chunk), once the entity
         * is active here (it adopted the conversation); the stream ends when the conversation leaves.
         */
        const here = Stream.unwrap(
          Effect.map(call("hold", conversationId, () => entity(conversationId).Hold()), () =>
            residency.owns(conversationId)
              ? // Ends when the conversation is put away here (its fan-out closes first). Nothing per
                // chunk but `fresh`: `interruptWhen` or a `merge` with a signal cost a fiber or a
                // queue hop per chunk (measured: ~380 against ~670 µs per delta at 100 streams).
                Stream.mapChunks(rt.service.subscribe(conversationId, { fromSeq: last }), fresh)
              : Stream.empty
          )
        )
        const remote = Stream.unwrapScoped(
          Effect.gen(function* () {
            const clock = yield* Effect.clock
            let heardAt = clock.unsafeCurrentTimeMillis()
            const silent = yield* Deferred.make<void>()
            yield* Effect.forkScoped(
              Effect.repeat(
                Effect.suspend(() =>
                  clock.unsafeCurrentTimeMillis() - heardAt > 3 * Entity.HEARTBEAT_MS ? Deferred.succeed(silent, undefined) : Effect.void
                ),
                Schedule.spaced(`${Entity.HEARTBEAT_MS} millis`)
              )
            )
            return (entity(conversationId).Subscribe({ fromSeq: last }) as Stream.Stream<ReplyEvent | { readonly _tag: "Heartbeat" }, unknown>).pipe(
              // Heartbeats go; and the cluster re-sends a request whose runner died to the next
              // owner as it was first made (from the original seq): what was delivered goes too.
              Stream.mapChunks((chunk) => {
                heardAt = clock.unsafeCurrentTimeMillis()
                return fresh(chunk)
              }),
              // (Not `interruptWhen`: it races every pull, a fiber per chunk.)
              Stream.merge(Stream.drain(Stream.fromEffect(Deferred.await(silent))), { haltStrategy: "either" })
            )
          })
        )
        const attempt = (): Stream.Stream<ReplyEvent, StoreError | EventsExpired> =>
          Stream.suspend(() => (residency.owns(conversationId) ? here : remote)).pipe(
            Stream.catchAllCause((cause) => {
              const failure = Cause.failureOption(cause)
              // Only a resume that can no longer be exact ends the reader; everything else (no owner
              // answering yet while shards move, the transport's defect, a store error) is resumed below.
              if (Cause.isInterruptedOnly(cause) || (Option.isSome(failure) && failure.value instanceof EventsExpired)) {
                return Stream.failCause(cause as Cause.Cause<StoreError | EventsExpired>)
              }
              return Stream.empty
            }),
            Stream.concat(
              Stream.unwrap(
                Effect.gen(function* () {
                  // A stream that ended because the conversation was deleted ends here too.
                  if (last > 0 && (yield* store.load(conversationId)) === undefined) return Stream.empty
                  yield* Effect.sleep("250 millis")
                  return attempt()
                })
              )
            )
          )
        return attempt()
      })

    const service: Conversations.ConversationsService = {
      send,
      stop: (id, runId) => call("stop", id, () => entity(id).Stop(runId === undefined ? {} : { runId })),
      subscribe,
      history: (id) => call("history of", id, () => entity(id).History()) as Effect.Effect<ReadonlyArray<HistoryMessage>, StoreError>,
      list: (o) => store.list(o),
      owner: (id) => Effect.map(store.load(id), (r) => r?.owner),
      update: (id, patch) => call("update", id, () => entity(id).Update({ patch })),
      remove: (id) => call("remove", id, () => entity(id).Remove()),
      regenerate: (id, o = {}) =>
        call("regenerate", id, () => entity(id).Regenerate({ options: o })) as Effect.Effect<
          Regenerated,
          ConversationBusy | ConversationNotFound | MessageNotFound | StoreError
        >,
      edit: (id, messageId, text, o = {}) =>
        call("edit", id, () => entity(id).Edit({ messageId, text, options: o })) as Effect.Effect<
          Accepted,
          ConversationBusy | ConversationNotFound | MessageNotFound | MailboxFull | StoreError
        >
    }
    return service
  })

/**
 * A runner: this process hosts its share of the conversations and serves every caller. Needs a
 * `Model`; provides `Conversations`, the shared `ConversationStore` and its `ClusterStatus`.
 * @category layers
 */
export const layer = (
  options: Options
): Layer.Layer<Conversations.Conversations | ConversationStore | ClusterStatus, StoreError, Model> => {
  const address = RunnerAddress.make(options.runnerHost ?? "127.0.0.1", options.runnerPort)
  const sharding = NodeClusterSocket.layer({
    storage: "sql",
    shardingConfig: {
      ...failoverSharding,
      ...options.sharding,
      runnerAddress: Option.some(address),
      ...(options.listenHost === undefined ? {} : { runnerListenAddress: Option.some(RunnerAddress.make(options.listenHost, options.runnerPort)) })
    }
  }).pipe(
    Layer.provide(PgClient.layer({ url: options.databaseUrl, applicationName: "sluice-cluster" })),
    // Runners started together on a new database race in the cluster's own table creation
    // (`CREATE TABLE IF NOT EXISTS` is not safe concurrently in PostgreSQL; it dies, not fails):
    // the loser builds again, finding the tables there.
    Layer.catchAllCause((cause) => Layer.fail(Cause.squash(cause))),
    Layer.retry(Schedule.intersect(Schedule.spaced("500 millis"), Schedule.recurs(10)))
  )
  const local = Layer.scoped(Local, runtime.make({ ...options, requeueAtStart: false }))
  const residency = Layer.scoped(
    Residency,
    Effect.flatMap(Local, (rt) => Entity.makeResidency(rt.host, { maxResident: options.maxResident }))
  )
  const entities = Layer.unwrapEffect(
    Effect.gen(function* () {
      const rt = yield* Local
      const r = yield* Residency
      // Built after the handlers, so released before them: the runner stops → every conversation
      // here is handed over before the cluster stops the entities and gives their shards away.
      const handOver = Layer.scopedDiscard(
        Effect.gen(function* () {
          yield* Effect.addFinalizer(() => r.handOver)
          // A stop signal hands over at once, before anything of the runner starts closing (the
          // cluster may give its shards away while its entities still wait for their requests).
          const runtime = yield* Effect.runtime<never>()
          const onSignal = () => void Runtime.runFork(runtime)(r.handOver)
          yield* Effect.acquireRelease(
            Effect.sync(() => {
              process.once("SIGTERM", onSignal)
              process.once("SIGINT", onSignal)
            }),
            () =>
              Effect.sync(() => {
                process.off("SIGTERM", onSignal)
                process.off("SIGINT", onSignal)
              })
          )
        })
      )
      return handOver.pipe(Layer.provide(Entity.layer(rt.service, rt.host, r, { maxIdleTime: options.entityMaxIdleTime })))
    })
  )
  const client = Layer.effect(Conversations.Conversations, makeClient(options))
  const total = options.sharding?.shardsPerGroup ?? 300
  const status = Layer.effect(
    ClusterStatus,
    Effect.map(Sharding, (sharding) => ({
      runner: `${address.host}:${address.port}`,
      shards: () => {
        let held = 0
        for (let i = 1; i <= total; i++) if (sharding.hasShardId(ShardId.make("default", i))) held++
        return { held, total }
      }
    }))
  )
  return Layer.mergeAll(client, entities, status).pipe(
    Layer.provide(residency),
    Layer.provide(local),
    Layer.provide(sharding),
    Layer.provideMerge(PgStore.layer({ ...options, url: options.databaseUrl })),
    Layer.mapError((e) => (e instanceof StoreError ? e : new StoreError({ message: `cluster: ${describe(e)}` })))
  )
}
