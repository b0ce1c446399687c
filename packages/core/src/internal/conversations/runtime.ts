/**
 * The Conversations runtime, assembled from its single-owner parts: the registry (actors behind
 * scoped leases, passivation), the event log (group commit off the run loop, publish after
 * commit), the run loop (worker, runs) and each actor's fan-out (bounded outboxes, local
 * listeners). This module holds the service operations: `send`, `stop`, `subscribe`, `history`,
 * `list`, `owner`, and the local feed's `listen`.
 *
 * @internal
 */
import { randomUUID } from "node:crypto"
import { Chunk, Deferred, Duration, Effect, Exit, Fiber, Option, Runtime, Scope, Stream } from "effect"
import {
  type Accepted,
  type ConversationPatch,
  type ConversationSummary,
  type MessageRecord,
  type Regenerated,
  type SendOptions,
  titleOf,
  type UnansweredTurn
} from "../../Conversation.js"
import {
  ConversationBusy,
  ConversationNotFound,
  type EventsExpired,
  MailboxFull,
  MessageNotFound,
  StoreError
} from "../../ConversationError.js"
import type { ConversationFeedService } from "../../ConversationFeed.js"
import type { ConversationsService, Options } from "../../Conversations.js"
import { ConversationStore } from "../../ConversationStore.js"
import { Model } from "../../Model.js"
import { Outbox } from "../../Outbox.js"
import type { ReplyEvent } from "../../ReplyEvent.js"
import * as A from "./actor.js"
import { mergeBySeq } from "./draftLog.js"
import * as EventLog from "./eventLog.js"
import * as Host from "./host.js"
import * as Registry from "./registry.js"
import * as RunLoop from "./runLoop.js"

const lastReplyIndex = (ms: ReadonlyArray<MessageRecord>): number => {
  for (let i = ms.length - 1; i >= 0; i--) if (ms[i]!.role === "assistant") return i
  return -1
}

/** The layer options, documented on `Conversations.Options`. */
export interface RuntimeOptions extends Options {
  /**
   * Queue the turns the store holds unanswered for every conversation when the runtime starts
   * (default true). A runtime that shares its store with other processes (a cluster runner) takes
   * conversations over one at a time instead (`adopt`).
   */
  readonly requeueAtStart?: boolean | undefined
}

export const make = (options: RuntimeOptions = {}) =>
  Effect.gen(function* () {
    const store = yield* ConversationStore
    const model = yield* Model
    const scope = yield* Effect.scope
    const clock = yield* Effect.clock
    const runtime = yield* Effect.runtime<never>()
    const capacity = Math.max(1, options.mailboxCapacity ?? 32)
    const ttl = Duration.decode(options.idleTimeToLive ?? "5 minutes")
    const now = () => clock.unsafeCurrentTimeMillis()

    const log = yield* EventLog.make(store)
    const registry = yield* Registry.make(store, log, ttl)
    const loop = RunLoop.make({ store, model, log, registry, options, now, scope })

    // ---- send ------------------------------------------------------------------------------

    /**
     * Under the actor's send lock: an earlier send with the same key answers for this one; else
     * the message is committed, and only then queued (a failure means nothing was queued).
     */
    const sendLocked = (
      a: A.Actor,
      text: string,
      opts: SendOptions,
      rewind?: { readonly fromSeq: number; readonly superseded: ReadonlyArray<MessageRecord> }
    ): Effect.Effect<Accepted, MailboxFull | StoreError> =>
      Effect.gen(function* () {
        const conversationId = a.id
        if (opts.clientMessageId !== undefined) {
          const found = yield* store.findClientMessage(conversationId, opts.clientMessageId)
          if (found !== undefined) return { conversationId, messageId: found.messageId, seq: found.seq, duplicate: true }
        }
        if (a.queued >= capacity) return yield* Effect.fail(new MailboxFull({ conversationId, capacity }))
        const before = { queueMode: a.queueMode, settings: a.settings, owner: a.owner, title: a.title }
        if (opts.queueMode !== undefined) a.queueMode = opts.queueMode
        if (opts.settings !== undefined) a.settings = opts.settings
        if (a.owner === undefined && opts.owner !== undefined) a.owner = opts.owner
        if (a.title === "") a.title = titleOf(text)
        const mode = a.queueMode
        // The worker takes turns under this lock too, so a queued turn stays queued until we are done.
        const last = a.queue?.[a.queue.length - 1]
        const joined = mode === "collect" && opts.request === undefined && last?.request === undefined ? last : undefined
        const turn: A.Turn = joined ?? {
          runId: randomUUID(),
          messages: [],
          level: undefined,
          epoch: a.epoch,
          ...(opts.request === undefined ? {} : { request: opts.request })
        }
        const messageId = randomUUID()
        const mark = a.pending.length
        const firstSeq = a.nextSeq
        if (rewind !== undefined) supersede(a, turn.runId, rewind.fromSeq, rewind.superseded)
        const ev = loop.event(a, turn.runId, { _tag: "UserMessage", messageId, text })
        A.markMessage(a, {
          id: messageId,
          conversationId,
          seq: ev.seq,
          role: "user",
          text,
          runId: turn.runId,
          status: "complete",
          interrupted: false,
          at: ev.at,
          ...(opts.clientMessageId === undefined ? {} : { clientMessageId: opts.clientMessageId }),
          ...(opts.request === undefined ? {} : { callerBound: true })
        })
        // A run that reads the history while this commits must not take the message as its own.
        if (joined === undefined) a.accepting = turn.runId
        const committed = yield* Effect.exit(log.flush(a))
        a.accepting = undefined
        if (Exit.isFailure(committed)) {
          // Not accepted: take the message (and a rewind) back out of what will be retried.
          takeBack(a, mark, firstSeq, [messageId, ...(rewind?.superseded ?? []).map((m) => m.id)])
          Object.assign(a, before)
          return yield* Effect.failCause(committed.cause)
        }
        if (opts.level !== undefined) turn.level = opts.level
        turn.messages.push({ messageId, text })
        a.queued++
        if (joined === undefined) {
          a.queue ??= []
          if (mode === "interrupt") a.queue.unshift(turn)
          else a.queue.push(turn)
        }
        if (mode === "interrupt" && a.run !== undefined) {
          a.run.stopReason ??= "interrupted"
          if (a.run.fiber !== undefined) yield* Fiber.interruptFork(a.run.fiber)
        }
        yield* loop.ensureWorker(a)
        return { conversationId, messageId, seq: ev.seq }
      })

    /** `f` on the actor, holding a lease on it and its send lock. */
    const locked = <A, E>(conversationId: string, f: (a: A.Actor) => Effect.Effect<A, E>) =>
      Effect.scoped(Effect.flatMap(registry.lease(conversationId), (a) => a.sendLock.withPermits(1)(f(a))))

    const send = (conversationId: string, text: string, opts: SendOptions = {}): Effect.Effect<Accepted, MailboxFull | StoreError> =>
      locked(conversationId, (a) => sendLocked(a, text, opts))

    /**
     * A commit failed: the events appended since `mark` (seqs from `firstSeq`) and the marked
     * messages come back out of what the next flush retries.
     */
    const takeBack = (a: A.Actor, mark: number, firstSeq: number, messageIds: ReadonlyArray<string>) => {
      const ours = new Set(a.pending.slice(mark))
      a.pending = a.pending.filter((e) => !ours.has(e))
      for (const id of messageIds) a.dirtyMessages?.delete(id)
      if (a.nextSeq === firstSeq + ours.size) a.nextSeq = firstSeq
    }

    /** Stops a run (it ends `stopped`) and waits until it has ended. */
    const stopRun = (run: A.Run) =>
      Effect.gen(function* () {
        run.stopReason ??= "stopped"
        if (run.fiber !== undefined) yield* Fiber.interrupt(run.fiber)
        yield* Deferred.await(run.ended)
      })

    // ---- managing a conversation: update, remove, regenerate, edit ---------------------------

    /** Under the send lock: the messages from `fromSeq` on are superseded (a Rewound event says so). */
    const supersede = (a: A.Actor, runId: string, fromSeq: number, messages: ReadonlyArray<MessageRecord>) => {
      loop.event(a, runId, { _tag: "Rewound", fromSeq })
      for (const m of messages) A.markMessage(a, { ...m, superseded: true })
    }

    /** The stored messages, once everything of the actor is committed; refuses while it is busy. */
    const settledMessages = (a: A.Actor) =>
      Effect.gen(function* () {
        if (a.run !== undefined || a.queued > 0) return yield* Effect.fail(new ConversationBusy({ conversationId: a.id }))
        yield* log.flush(a)
        if (!a.exists) return yield* Effect.fail(new ConversationNotFound({ conversationId: a.id }))
        return (yield* store.messages(a.id)).filter((m) => m.superseded !== true)
      })

    const update = (conversationId: string, patch: ConversationPatch) =>
      locked(conversationId, (a) =>
        Effect.gen(function* () {
          yield* log.flush(a)
          if (!a.exists) return yield* Effect.fail(new ConversationNotFound({ conversationId }))
          const before = { title: a.title, system: a.system, model: a.model }
          if (patch.title !== undefined && titleOf(patch.title) !== "") a.title = titleOf(patch.title)
          if (patch.system !== undefined) a.system = patch.system.trim() === "" ? undefined : patch.system
          if (patch.model !== undefined) a.model = patch.model.trim() === "" ? undefined : patch.model.trim()
          a.dirtyConversation = true
          log.mark(a)
          yield* Effect.tapError(log.flush(a), () => Effect.sync(() => Object.assign(a, before)))
        })
      )

    const remove = (conversationId: string) =>
      locked(conversationId, (a) =>
        Effect.gen(function* () {
          yield* log.flush(a)
          const existed = a.exists // loaded from its row, or committed since
          a.queue = undefined
          a.queued = 0
          if (a.run !== undefined) yield* stopRun(a.run)
          yield* log.flush(a)
          yield* store.remove(conversationId)
          A.reset(a, now())
          a.fanout.end() // subscribers and listeners of the deleted conversation end
          return existed
        })
      )

    const regenerate = (conversationId: string, opts: SendOptions = {}) =>
      locked(conversationId, (a): Effect.Effect<Regenerated, ConversationBusy | ConversationNotFound | MessageNotFound | StoreError> =>
        Effect.gen(function* () {
          const ms = yield* settledMessages(a)
          const last = ms[ms.length - 1]
          if (last === undefined) {
            return yield* Effect.fail(new MessageNotFound({ conversationId, reason: "the conversation has no message to answer" }))
          }
          // The last run's reply goes; its user messages are answered again.
          const reply = last.role === "assistant" ? last : undefined
          const asked =
            reply === undefined
              ? ms.slice(lastReplyIndex(ms) + 1)
              : ms.filter((m) => m.role === "user" && m.runId === reply.runId)
          if (asked.length === 0) {
            return yield* Effect.fail(new MessageNotFound({ conversationId, reason: "the last reply answers no user message" }))
          }
          const turn: A.Turn = {
            runId: randomUUID(),
            messages: asked.map((m) => ({ messageId: m.id, text: m.text })),
            level: opts.level,
            epoch: a.epoch
          }
          const mark = a.pending.length
          const firstSeq = a.nextSeq
          const superseded = reply === undefined ? [] : [reply]
          if (reply !== undefined) supersede(a, turn.runId, reply.seq, superseded)
          log.mark(a)
          yield* Effect.tapError(log.flush(a), () => Effect.sync(() => takeBack(a, mark, firstSeq, superseded.map((m) => m.id))))
          const seq = a.nextSeq - 1
          a.queue ??= []
          a.queue.push(turn)
          a.queued += turn.messages.length
          yield* loop.ensureWorker(a)
          return { conversationId, runId: turn.runId, seq }
        })
      )

    const edit = (conversationId: string, messageId: string, text: string, opts: SendOptions = {}) =>
      locked(conversationId, (a): Effect.Effect<Accepted, ConversationBusy | ConversationNotFound | MessageNotFound | MailboxFull | StoreError> =>
        Effect.gen(function* () {
          const ms = yield* settledMessages(a)
          const target = ms.find((m) => m.id === messageId)
          if (target === undefined || target.role !== "user") {
            return yield* Effect.fail(
              new MessageNotFound({ conversationId, messageId, reason: target === undefined ? "no such message" : "only a user message can be edited" })
            )
          }
          const superseded = ms.filter((m) => m.seq >= target.seq)
          return yield* sendLocked(a, text, opts, { fromSeq: target.seq, superseded })
        })
      )

    const stop = (conversationId: string, runId?: string): Effect.Effect<boolean, StoreError> =>
      Effect.suspend(() => {
        const run = registry.peek(conversationId)?.run
        if (run === undefined || (runId !== undefined && runId !== run.runId)) return Effect.succeed(false)
        return Effect.as(stopRun(run), true)
      })

    // ---- subscribe (Stream, bounded outbox, catch-up from the log) ---------------------------

    const outboxOptions = { maxEvents: options.outboxCapacity }

    /**
     * What a reader registered on `a`'s fan-out has missed after `afterSeq`: the log, with the
     * running attempt's Drafts (published, never stored) merged in, up to `upTo` — the last seq
     * published when the reader asks. Everything published later reaches the reader live, in seq
     * order; the log's events past `upTo` (committed, not yet published) are left to that.
     */
    const catchUp = (a: A.Actor, afterSeq: number) =>
      Effect.suspend(() => {
        const upTo = a.fanout.lastPublished
        const drafts = a.fanout.drafts.since(afterSeq)
        return Effect.map(store.events(a.id, afterSeq), (logged) => {
          let n = logged.length
          while (n > 0 && logged[n - 1]!.seq > upTo) n--
          return { events: mergeBySeq(n === logged.length ? logged : logged.slice(0, n), drafts), upTo }
        })
      })

    const subscribe = (conversationId: string, opts?: { readonly fromSeq?: number | undefined }) =>
      Stream.unwrapScoped(
        Effect.gen(function* () {
          let last = Math.max(0, opts?.fromSeq ?? 0)
          const a = yield* registry.lease(conversationId)
          const box = new Outbox(outboxOptions)
          // Live first, then the log: an event is published once committed, so whatever is not in
          // the log yet will come live; the seq filter drops what is in both.
          yield* Effect.acquireRelease(
            Effect.sync(() => a.fanout.addOutbox(box)),
            () => Effect.sync(() => a.fanout.removeOutbox(box))
          )
          const fresh = (events: ReadonlyArray<ReplyEvent>): Chunk.Chunk<ReplyEvent> => {
            let i = 0
            while (i < events.length && events[i]!.seq <= last) i++
            if (i === events.length) return Chunk.empty()
            const out = i === 0 ? events : events.slice(i)
            last = out[out.length - 1]!.seq
            return Chunk.unsafeFromArray(out as Array<ReplyEvent>)
          }
          const caughtUp = ({ events, upTo }: { readonly events: ReadonlyArray<ReplyEvent>; readonly upTo: number }) => {
            const out = fresh(events)
            last = Math.max(last, upTo)
            return out
          }
          const replay = caughtUp(yield* catchUp(a, last))
          const pull: Effect.Effect<Chunk.Chunk<ReplyEvent>, Option.Option<StoreError | EventsExpired>> = Effect.suspend(() => {
            if (box.overflowed) {
              // The reader fell more than the outbox behind: catch up from the log (and the
              // running attempt's Drafts), then live again.
              box.reset()
              return catchUp(a, last).pipe(Effect.map(caughtUp), Effect.mapError(Option.some))
            }
            const waiting = box.takeAll()
            if (waiting.length > 0) return Effect.succeed(fresh(waiting))
            if (box.closed) return Effect.fail(Option.none())
            return Effect.zipRight(box.wait, pull)
          })
          return Stream.concat(Stream.fromChunk(replay), Stream.repeatEffectChunkOption(pull))
        })
      )

    // ---- the local feed: callback listeners (no fiber, queue or Stream per listener) ----------

    const listen: ConversationFeedService["listen"] = (conversationId, opts, onEvents, onEnd) =>
      Effect.uninterruptibleMask((restore) =>
        Effect.gen(function* () {
          const fromSeq = Math.max(0, opts?.fromSeq ?? 0)
          const leaseScope = yield* Scope.make()
          const release = () => Runtime.runFork(runtime)(Scope.close(leaseScope, Exit.void))
          const a = yield* restore(registry.lease(conversationId)).pipe(
            Scope.extend(leaseScope),
            Effect.onError(() => Effect.sync(release))
          )
          let buffered: Array<ReplyEvent> | undefined = []
          let last = fromSeq
          let listening = true
          const unlisten = () => {
            if (!listening) return
            listening = false
            a.fanout.removeListener(listener)
            release()
          }
          const push = (events: ReadonlyArray<ReplyEvent>) => {
            if (!listening) return
            try {
              onEvents(events)
            } catch {
              unlisten() // a broken listener must not break the commit that publishes
            }
          }
          const listener = (events: ReadonlyArray<ReplyEvent>) => {
            if (buffered !== undefined) {
              for (const ev of events) buffered.push(ev)
              return
            }
            let i = 0
            while (i < events.length && events[i]!.seq <= last) i++
            if (i === events.length) return
            const out = i === 0 ? events : events.slice(i)
            last = out[out.length - 1]!.seq
            push(out)
          }
          a.fanout.addListener(listener, () => {
            unlisten()
            onEnd?.()
          })
          const missed = yield* restore(catchUp(a, fromSeq)).pipe(Effect.onError(() => Effect.sync(unlisten)))
          const replay: Array<ReplyEvent> = []
          for (const ev of missed.events) {
            if (ev.seq <= last) continue
            replay.push(ev)
            last = ev.seq
          }
          // What was published while the log was read: only what came after the catch-up's end.
          last = Math.max(last, missed.upTo)
          for (const ev of buffered) {
            if (ev.seq <= last) continue
            replay.push(ev)
            last = ev.seq
          }
          buffered = undefined
          if (replay.length > 0) push(replay)
          return unlisten
        })
      )

    // ---- reads -----------------------------------------------------------------------------

    /** The stored history; a reply being written shows its live text (its row lags, see runLoop). */
    const history = (conversationId: string) =>
      Effect.map(store.history(conversationId), (ms) => {
        const run = registry.peek(conversationId)?.run
        if (run === undefined) return ms
        const id = run.message.id
        return ms.map((m) => (m.messageId === id && m.status === "streaming" ? { ...m, text: run.final ?? A.visibleText(run) } : m))
      })

    const list = (opts?: { readonly owner?: string | undefined }) =>
      Effect.map(store.list(opts), (rows): ReadonlyArray<ConversationSummary> =>
        rows.map((r) => {
          const a = registry.peek(r.conversationId)
          if (a === undefined) return r
          // The row's next seq may be a reservation (see actor.ts): the actor knows the real one.
          return { ...r, lastSeq: a.nextSeq - 1, running: a.run !== undefined || a.queued > 0 }
        })
      )

    const owner = (conversationId: string) =>
      Effect.suspend(() => {
        const a = registry.peek(conversationId)
        if (a?.owner !== undefined) return Effect.succeed(a.owner)
        return Effect.map(store.load(conversationId), (r) => r?.owner)
      })

    // ---- start-up: answer what an earlier process accepted and never started -------------------

    /**
     * Turns committed and acknowledged, still queued when the last process stopped (a crash, or a
     * shutdown with messages waiting behind a run): queued again, in their order, with the runId
     * their UserMessage already carries, so each accepted message is answered exactly once.
     */
    const requeueTurns = (turns: ReadonlyArray<UnansweredTurn>) => Effect.gen(function* () {
      if (turns.length === 0) return
      const byConversation = new Map<string, Array<(typeof turns)[number]>>()
      for (const t of turns) {
        const list = byConversation.get(t.conversationId) ?? []
        byConversation.set(t.conversationId, list)
        list.push(t)
      }
      yield* Effect.forEach(
        byConversation,
        ([conversationId, list]) =>
          locked(conversationId, (a) =>
            Effect.suspend(() => {
              a.queue ??= []
              for (const t of list) {
                a.queue.push({ runId: t.runId, messages: t.messages.map((m) => ({ ...m })), level: undefined, epoch: a.epoch })
                a.queued += t.messages.length
              }
              return loop.ensureWorker(a)
            })
          ),
        { discard: true }
      )
      yield* Effect.logInfo(`queued again ${turns.length} turns of ${byConversation.size} conversations accepted before the last stop`)
    })
    if (options.requeueAtStart !== false) {
      yield* Effect.flatMap(store.unanswered(), requeueTurns).pipe(
        Effect.catchAll((e) => Effect.logWarning("could not queue the turns accepted before the last stop", e.message))
      )
    }

    const host = Host.make({ registry, store, requeueTurns })

    const service: ConversationsService = { send, stop, subscribe, history, list, owner, update, remove, regenerate, edit }
    const feed: ConversationFeedService = { listen }
    return {
      service,
      feed,
      /** Active (not passivated) actors; for tests and benches. */
      active: () => registry.size(),
      isActive: (id: string) => registry.peek(id) !== undefined,
      /** Events waiting in each subscriber's outbox of an active conversation (tests). */
      outboxLengths: (id: string) => registry.peek(id)?.fanout.outboxLengths() ?? [],
      /** Activate an actor without sending (benches). */
      activate: (id: string) => Effect.scoped(Effect.asVoid(registry.lease(id))),
      host
    }
  })
