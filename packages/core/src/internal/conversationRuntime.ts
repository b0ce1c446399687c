/**
 * The Conversations runtime: a registry of actors (plain objects), a worker fiber per actor only
 * while it has turns, one sweeper fiber that passivates idle actors, and a write-behind event
 * log that keeps resume exact.
 *
 * @internal
 */
import { randomUUID } from "node:crypto"
import {
  Cause,
  type Chunk,
  Deferred,
  Duration,
  Effect,
  Exit,
  Fiber,
  FiberId,
  PubSub,
  Schedule,
  Stream
} from "effect"
import { type Accepted, type ConversationSummary, type MessageRecord, type SendOptions, titleOf } from "../Conversation.js"
import { type EventsExpired, MailboxFull, StoreError } from "../ConversationError.js"
import type { ConversationsService } from "../Conversations.js"
import { type Commit, ConversationStore } from "../ConversationStore.js"
import { Model, type ChatMessage, type ModelRequest } from "../Model.js"
import * as ModelError from "../ModelError.js"
import * as Pipeline from "../Pipeline.js"
import type { Options } from "../Conversations.js"
import * as Reasoning from "../Reasoning.js"
import { applyDraft, type Payload, type ReplyEvent, type RunEndReason } from "../ReplyEvent.js"
import * as StreamingSettings from "../StreamingSettings.js"
import * as A from "./actor.js"

/** The layer options, documented on `Conversations.Options`. */
export type RuntimeOptions = Options

type Body = ReplyEvent extends infer E ? (E extends ReplyEvent ? Omit<E, "seq" | "conversationId" | "runId" | "at"> : never) : never

export const make = (options: RuntimeOptions = {}) =>
  Effect.gen(function* () {
    const store = yield* ConversationStore
    const model = yield* Model
    const scope = yield* Effect.scope
    const clock = yield* Effect.clock
    const capacity = Math.max(1, options.mailboxCapacity ?? 32)
    const ttl = Duration.decode(options.idleTimeToLive ?? "5 minutes")
    const sweepEvery = options.sweepInterval
      ? Duration.decode(options.sweepInterval)
      : Duration.millis(Math.min(30_000, Math.max(1_000, Duration.toMillis(ttl) / 4)))
    const actors = new Map<string, A.Actor>()
    const loading = new Map<string, Deferred.Deferred<A.Actor, StoreError>>()
    const now = () => clock.unsafeCurrentTimeMillis()

    // ---- registry -------------------------------------------------------------------------

    const acquire = (id: string): Effect.Effect<A.Actor, StoreError> =>
      Effect.suspend(() => {
        const found = actors.get(id)
        if (found !== undefined) {
          found.refs++
          return Effect.succeed(found)
        }
        const inProgress = loading.get(id)
        if (inProgress !== undefined) {
          return Effect.map(Deferred.await(inProgress), (a) => {
            a.refs++
            return a
          })
        }
        const d = Deferred.unsafeMake<A.Actor, StoreError>(FiberId.none)
        loading.set(id, d)
        return store.load(id).pipe(
          Effect.map((record) => {
            const a = A.fromRecord(id, record, now())
            actors.set(id, a)
            a.refs++
            return a
          }),
          Effect.onExit((exit) => {
            loading.delete(id)
            return Deferred.done(d, exit)
          })
        )
      })

    const release = (a: A.Actor) =>
      Effect.sync(() => {
        a.refs--
        a.lastActive = now()
      })

    const withActor = <X, E>(id: string, f: (a: A.Actor) => Effect.Effect<X, E>) =>
      Effect.acquireUseRelease(acquire(id), f, release)

    const sweep = Effect.suspend(() => {
      const cutoff = now() - Duration.toMillis(ttl)
      const closing: Array<PubSub.PubSub<ReplyEvent>> = []
      for (const [id, a] of actors) {
        if (a.lastActive <= cutoff && A.isIdle(a)) {
          actors.delete(id)
          if (a.pubsub !== undefined) closing.push(a.pubsub)
        }
      }
      return closing.length === 0 ? Effect.void : Effect.forEach(closing, PubSub.shutdown, { discard: true })
    })
    yield* Effect.forkIn(Effect.repeat(sweep, Schedule.spaced(sweepEvery)), scope)

    // ---- events and the write-behind log --------------------------------------------------

    const event = (a: A.Actor, runId: string, body: Body): ReplyEvent => {
      const ev = { ...body, seq: a.nextSeq++, conversationId: a.id, runId, at: now() } as ReplyEvent
      a.pending.push(ev)
      a.updatedAt = ev.at
      a.dirtyConversation = true
      return ev
    }

    /**
     * Subscribers get an event once it is committed, never before: a client must not see an event
     * that a crash could take back (after a restart, recovery gives its seq to another event). The
     * single writer commits in seq order, so live order is seq order. The cost is one group commit
     * of latency (tens of µs); a run already waits for its commit before its next chunk.
     */
    const publish = (a: A.Actor, events: ReadonlyArray<ReplyEvent>) => {
      for (const ev of events) {
        a.pubsub?.unsafeOffer(ev)
        if (a.listeners !== undefined) for (const l of a.listeners) l(ev)
      }
    }

    // Group commit. Every flush joins the batch being collected; ONE writer fiber takes it once the
    // fibers that were ready have run (so concurrent conversations share it) and writes it as one
    // transaction. A flush returns when its actor's data (everything it had when the batch was
    // taken) is committed. The single writer is also what keeps each log contiguous and in order.
    interface Batch {
      readonly actors: Set<A.Actor>
      /** Completed after the write, with the actors whose data could not be committed. */
      readonly done: Deferred.Deferred<ReadonlyMap<A.Actor, StoreError>>
    }
    let collecting: Batch | undefined
    let writing: Batch | undefined
    const wake = yield* Effect.makeLatch(false)

    const hasDirty = (a: A.Actor) =>
      a.dirtyConversation || a.pending.length > 0 || a.dirtyMessages !== undefined || a.dirtyRuns !== undefined

    const flush = (a: A.Actor): Effect.Effect<void, StoreError> =>
      Effect.suspend(() => {
        if (!hasDirty(a) && !writing?.actors.has(a) && !collecting?.actors.has(a)) return Effect.void
        let b = collecting
        if (b === undefined) {
          b = collecting = { actors: new Set(), done: Deferred.unsafeMake(FiberId.none) }
          wake.unsafeOpen()
        }
        b.actors.add(a)
        return Effect.flatMap(Deferred.await(b.done), (failed) => {
          const e = failed.get(a)
          return e === undefined ? Effect.void : Effect.fail(e)
        })
      })

    /** Moves what the actor has not yet committed into a commit (in seq order); undefined if nothing. */
    const take = (a: A.Actor) => {
      if (!hasDirty(a)) return undefined
      const events = a.pending
      const messages = a.dirtyMessages
      const runs = a.dirtyRuns
      a.inFlight = events
      a.pending = []
      a.dirtyMessages = undefined
      a.dirtyRuns = undefined
      a.dirtyConversation = false
      const commit: Commit = {
        conversation: A.toRecord(a),
        events,
        messages: messages === undefined ? [] : [...messages.values()],
        runs: runs === undefined ? [] : [...runs.values()]
      }
      const settle = (ok: boolean) => {
        a.inFlight = A.EMPTY
        if (ok) {
          a.exists = true
          publish(a, events)
          return
        }
        // Put it back so the next flush retries it (still in seq order).
        a.pending = [...events, ...a.pending]
        if (messages !== undefined) for (const m of messages.values()) if (!a.dirtyMessages?.has(m.id)) A.markMessage(a, m)
        if (runs !== undefined) for (const r of runs.values()) if (!a.dirtyRuns?.has(r.id)) A.markRun(a, r)
        a.dirtyConversation = true
      }
      return { actor: a, commit, settle }
    }

    const storeErrorOf = (cause: Cause.Cause<StoreError>): StoreError => {
      const f = Cause.failureOption(cause)
      if (f._tag === "Some") return f.value
      const d = Cause.squash(cause)
      return new StoreError({ message: d instanceof Error ? d.message : String(d) })
    }

    const writeBatch = (b: Batch) =>
      Effect.gen(function* () {
        writing = b
        const parts = [...b.actors].flatMap((a) => take(a) ?? [])
        const failed = new Map<A.Actor, StoreError>()
        if (parts.length > 0) {
          const all = yield* Effect.exit(store.commitMany(parts.map((p) => p.commit)))
          if (Exit.isSuccess(all)) for (const p of parts) p.settle(true)
          else if (parts.length === 1) {
            parts[0]!.settle(false)
            failed.set(parts[0]!.actor, storeErrorOf(all.cause))
          } else {
            // One bad commit must not fail the others: retry them one by one.
            for (const p of parts) {
              const one = yield* Effect.exit(store.commit(p.commit))
              p.settle(Exit.isSuccess(one))
              if (Exit.isFailure(one)) failed.set(p.actor, storeErrorOf(one.cause))
            }
          }
        }
        writing = undefined
        yield* Deferred.succeed(b.done, failed)
      }).pipe(Effect.uninterruptible)

    const takeCollecting = Effect.suspend(() => {
      const b = collecting
      collecting = undefined
      return b === undefined ? Effect.void : writeBatch(b)
    })
    // On shutdown (runs after the writer is interrupted): write what is still collected.
    yield* Effect.addFinalizer(() => takeCollecting)
    yield* Effect.forkIn(
      Effect.forever(Effect.zipRight(Effect.zipRight(Effect.zipRight(wake.await, wake.close), Effect.yieldNow()), takeCollecting)),
      scope
    )

    // ---- runs -----------------------------------------------------------------------------

    const buildRequest = (a: A.Actor, runId: string) =>
      Effect.map(store.messages(a.id), (stored): ModelRequest => {
        const later = new Set(a.queue?.map((t) => t.runId))
        const messages: Array<ChatMessage> = []
        for (const m of stored) {
          if (m.text === "" || m.status === "failed") continue
          if (m.role === "user" && m.runId !== undefined && later.has(m.runId)) continue
          if (m.role === "assistant" && m.runId === runId) continue
          const last = messages[messages.length - 1]
          if (last !== undefined && last.role === m.role) {
            messages[messages.length - 1] = { role: m.role, content: `${last.content}\n\n${m.text}` }
          } else if (last !== undefined || m.role === "user") {
            messages.push({ role: m.role, content: m.text })
          }
        }
        return options.system === undefined ? { messages } : { messages, system: options.system }
      })

    const onChunk = (a: A.Actor, run: A.Run) => (chunk: Chunk.Chunk<Payload>) =>
      Effect.suspend(() => {
        // The reply's row is rewritten (whole text) only when a Block, Final or Rollback arrives, not
        // per Draft: per delta that is O(n²) bytes for a long reply. The Drafts in the log hold the
        // rest; crash recovery rebuilds the partial text from them (see sqliteStore `recover`).
        let rewrite = false
        for (const p of chunk) {
          switch (p._tag) {
            case "Rollback": {
              const discardFromSeq = run.attemptFirstSeq ?? a.nextSeq
              event(a, run.runId, { _tag: "Rollback", discardFromSeq, attempt: p.attempt, reason: p.reason })
              run.attemptFirstSeq = undefined
              run.blocks = []
              run.draft = undefined
              rewrite = true
              break
            }
            case "Final":
              run.final = p.text
              event(a, run.runId, p)
              rewrite = true
              break
            default: {
              const ev = event(a, run.runId, p)
              run.attemptFirstSeq ??= ev.seq
              if (p._tag === "Block") {
                run.blocks.push(p.text)
                rewrite = true
              } else if (p._tag === "Draft") run.draft = applyDraft(run.draft ?? "", p)
            }
          }
        }
        if (rewrite) {
          run.message = { ...run.message, text: run.final ?? A.visibleText(run) }
          A.markMessage(a, run.message)
        }
        return flush(a)
      })

    const errorInfo = (cause: Cause.Cause<unknown>) => {
      const failure = Cause.failureOption(cause)
      if (failure._tag === "Some" && Schema_isModelError(failure.value)) {
        return { tag: failure.value._tag, message: failure.value.message, retryable: ModelError.isRetryable(failure.value) }
      }
      const squashed = Cause.squash(cause)
      return { tag: "Defect", message: squashed instanceof Error ? squashed.message : String(squashed), retryable: false }
    }

    const runTurn = (a: A.Actor, turn: A.Turn) =>
      Effect.uninterruptibleMask((restore) =>
        Effect.gen(function* () {
          const pinned = turn.level === undefined ? undefined : (Math.min(4, Math.max(1, Math.round(turn.level))) as Reasoning.Level)
          const plan = Reasoning.plan(turn.messages.map((m) => m.text).join("\n\n"), {
            ...options.reasoning,
            pinnedLevel: pinned ?? options.reasoning?.pinnedLevel
          })
          const started = event(a, turn.runId, { _tag: "RunStarted", level: plan.level, model: plan.model })
          const message: MessageRecord = {
            id: `${turn.runId}:reply`,
            conversationId: a.id,
            seq: started.seq,
            role: "assistant",
            text: "",
            runId: turn.runId,
            status: "streaming",
            interrupted: false,
            at: started.at
          }
          const run: A.Run = {
            runId: turn.runId,
            fiber: undefined,
            stopReason: undefined,
            ended: yield* Deferred.make<void>(),
            record: { id: turn.runId, conversationId: a.id, firstSeq: started.seq, status: "running", startedAt: started.at },
            message,
            attemptFirstSeq: undefined,
            blocks: [],
            draft: undefined,
            final: undefined,
            raw: ""
          }
          a.run = run
          A.markRun(a, run.record)
          A.markMessage(a, message)
          // The turn's user messages and the run are in the store before the request is built.
          const setup = yield* Effect.exit(Effect.zipRight(flush(a), buildRequest(a, turn.runId)))
          const settings = a.settings ?? StreamingSettings.defaults
          const tracker = Reasoning.track(plan)
          let progressed = false
          const progress = (u: Reasoning.Update | undefined) => {
            if (u === undefined) return
            const ev = event(a, run.runId, u)
            run.attemptFirstSeq ??= ev.seq
            progressed = true
          }
          progress(tracker.initial())
          const work: Effect.Effect<void, unknown> = Exit.isSuccess(setup)
            ? model.stream(Reasoning.apply(plan, setup.value)).pipe(
                Stream.mapChunksEffect((chunk) => {
                  progressed = false
                  for (const ev of chunk) {
                    if (ev._tag === "TextDelta") run.raw += ev.text
                    else if (ev._tag === "Rollback" || ev._tag === "MessageStart") run.raw = ""
                    progress(tracker.next(ev))
                  }
                  // A progress change (e.g. "reasoning" before the first token) goes out now, not
                  // with the next output: events are published when committed.
                  return progressed ? Effect.as(flush(a), chunk) : Effect.succeed(chunk)
                }),
                Stream.tapError(() => Effect.sync(() => progress(tracker.failed()))),
                Pipeline.make(settings),
                Stream.runForEachChunk(onChunk(a, run))
              )
            : Effect.failCause(setup.cause)
          const fiber = yield* Effect.fork(restore(work))
          run.fiber = fiber
          if (run.stopReason !== undefined) yield* Fiber.interruptFork(fiber)
          const awaited = yield* Effect.exit(restore(Fiber.await(fiber)))
          const exit = Exit.isSuccess(awaited) ? awaited.value : yield* Fiber.interrupt(fiber)

          let reason: RunEndReason
          if (Exit.isSuccess(exit)) {
            reason = "completed"
            if (run.final === undefined) {
              run.final = run.raw.length > 0 ? run.raw : A.visibleText(run)
              event(a, run.runId, { _tag: "Final", text: run.final })
            }
            run.message = { ...run.message, text: run.final, status: "complete" }
          } else if (Cause.isInterruptedOnly(exit.cause)) {
            reason = run.stopReason ?? "interrupted"
            const text = run.raw.length >= A.visibleText(run).length ? run.raw : A.visibleText(run)
            event(a, run.runId, { _tag: "Final", text, interrupted: true })
            run.message = { ...run.message, text, status: "interrupted", interrupted: true }
          } else {
            reason = "failed"
            event(a, run.runId, { _tag: "Error", error: errorInfo(exit.cause) })
            run.message = { ...run.message, text: run.final ?? A.visibleText(run), status: "failed" }
          }
          event(a, run.runId, { _tag: "RunEnded", reason })
          run.record = { ...run.record, status: reason, endedAt: now() }
          A.markRun(a, run.record)
          A.markMessage(a, run.message)
          a.run = undefined
          yield* Effect.exit(flush(a))
          yield* Deferred.succeed(run.ended, undefined)
        })
      )

    const drain = (a: A.Actor): Effect.Effect<void> =>
      Effect.suspend(() => {
        const turn = a.queue?.shift()
        if (turn === undefined) {
          a.worker = false
          return Effect.void
        }
        a.queued -= turn.messages.length
        return Effect.zipRight(runTurn(a, turn), drain(a))
      })

    const ensureWorker = (a: A.Actor) =>
      Effect.suspend(() => {
        if (a.worker) return Effect.void
        a.worker = true
        a.refs++
        return Effect.asVoid(
          Effect.forkIn(
            drain(a).pipe(
              Effect.onExit(() =>
                Effect.sync(() => {
                  a.worker = false
                })
              ),
              Effect.ensuring(release(a))
            ),
            scope
          )
        )
      })

    // ---- the service ----------------------------------------------------------------------

    const send = (conversationId: string, text: string, opts: SendOptions = {}): Effect.Effect<Accepted, MailboxFull | StoreError> =>
      withActor(conversationId, (a) =>
        Effect.gen(function* () {
          if (a.queued >= capacity) return yield* Effect.fail(new MailboxFull({ conversationId, capacity }))
          if (opts.queueMode !== undefined) a.queueMode = opts.queueMode
          if (opts.settings !== undefined) a.settings = opts.settings
          if (a.owner === undefined && opts.owner !== undefined) a.owner = opts.owner
          if (a.title === "") a.title = titleOf(text)
          const mode = a.queueMode
          a.queue ??= []
          let turn = mode === "collect" ? a.queue[a.queue.length - 1] : undefined
          if (turn === undefined) {
            turn = { runId: randomUUID(), messages: [], level: undefined }
            if (mode === "interrupt") a.queue.unshift(turn)
            else a.queue.push(turn)
          }
          if (opts.level !== undefined) turn.level = opts.level
          const messageId = randomUUID()
          turn.messages.push({ messageId, text })
          a.queued++
          const ev = event(a, turn.runId, { _tag: "UserMessage", messageId, text })
          A.markMessage(a, {
            id: messageId,
            conversationId,
            seq: ev.seq,
            role: "user",
            text,
            runId: turn.runId,
            status: "complete",
            interrupted: false,
            at: ev.at
          })
          if (mode === "interrupt" && a.run !== undefined) {
            a.run.stopReason ??= "interrupted"
            if (a.run.fiber !== undefined) yield* Fiber.interruptFork(a.run.fiber)
          }
          yield* ensureWorker(a)
          yield* flush(a)
          return { conversationId, messageId, seq: ev.seq }
        })
      )

    const stop = (conversationId: string, runId?: string): Effect.Effect<boolean, StoreError> =>
      Effect.suspend(() => {
        const a = actors.get(conversationId)
        const run = a?.run
        if (run === undefined || (runId !== undefined && runId !== run.runId)) return Effect.succeed(false)
        run.stopReason ??= "stopped"
        return Effect.gen(function* () {
          if (run.fiber !== undefined) yield* Fiber.interrupt(run.fiber)
          yield* Deferred.await(run.ended)
          return true
        })
      })

    const subscribe = (conversationId: string, opts?: { readonly fromSeq?: number | undefined }) =>
      Stream.unwrapScoped(
        Effect.gen(function* () {
          const fromSeq = Math.max(0, opts?.fromSeq ?? 0)
          const a = yield* Effect.acquireRelease(acquire(conversationId), release)
          if (a.pubsub === undefined) {
            const ps = yield* PubSub.unbounded<ReplyEvent>()
            a.pubsub ??= ps
          }
          // Live first, then the log: an event is published when it is committed, so whatever is
          // not in the log yet is still to come live; the seq filter drops what is in both.
          const live = yield* PubSub.subscribe(a.pubsub)
          const logged = yield* store.events(conversationId, fromSeq)
          const upTo = logged.length > 0 ? logged[logged.length - 1]!.seq : fromSeq
          return Stream.concat(
            Stream.fromIterable(logged),
            Stream.fromQueue(live).pipe(Stream.filter((ev) => ev.seq > upTo))
          )
        })
      )

    // A callback subscriber: registered before the log is read (live first, as in `subscribe`),
    // buffering live events until the replay is delivered. No fiber, queue or Stream per listener:
    // a gateway holding 10k sockets pays a closure and a Set entry for each.
    const listen = (
      conversationId: string,
      opts: { readonly fromSeq?: number | undefined } | undefined,
      onEvents: (events: ReadonlyArray<ReplyEvent>) => void
    ): Effect.Effect<() => void, StoreError | EventsExpired> =>
      Effect.uninterruptibleMask((restore) =>
        Effect.gen(function* () {
          const fromSeq = Math.max(0, opts?.fromSeq ?? 0)
          const a = yield* acquire(conversationId)
          let buffered: Array<ReplyEvent> | undefined = []
          let last = fromSeq
          let listening = true
          const unlisten = () => {
            if (!listening) return
            listening = false
            a.listeners?.delete(listener)
            if (a.listeners?.size === 0) a.listeners = undefined
            a.refs--
            a.lastActive = now()
          }
          const push = (events: ReadonlyArray<ReplyEvent>) => {
            try {
              onEvents(events)
            } catch {
              unlisten() // a broken listener must not break the run that publishes
            }
          }
          const listener = (ev: ReplyEvent) => {
            if (buffered !== undefined) buffered.push(ev)
            else if (ev.seq > last) {
              last = ev.seq
              push([ev])
            }
          }
          a.listeners ??= new Set()
          a.listeners.add(listener)
          const logged = yield* restore(store.events(conversationId, fromSeq)).pipe(Effect.onError(() => Effect.sync(unlisten)))
          const replay: Array<ReplyEvent> = []
          for (const source of [logged, buffered]) {
            for (const ev of source) {
              if (ev.seq <= last) continue
              replay.push(ev)
              last = ev.seq
            }
          }
          buffered = undefined
          if (replay.length > 0) push(replay)
          return unlisten
        })
      )

    /** The stored history; a reply being written shows its live text (its row lags, see onChunk). */
    const history = (conversationId: string) =>
      Effect.map(store.history(conversationId), (ms) => {
        const run = actors.get(conversationId)?.run
        if (run === undefined) return ms
        const id = run.message.id
        return ms.map((m) => (m.messageId === id && m.status === "streaming" ? { ...m, text: run.final ?? A.visibleText(run) } : m))
      })

    const list = (opts?: { readonly owner?: string | undefined }) =>
      Effect.map(store.list(opts), (rows): ReadonlyArray<ConversationSummary> =>
        rows.map((r) => {
          const a = actors.get(r.conversationId)
          if (a === undefined) return r
          return { ...r, lastSeq: Math.max(r.lastSeq, a.nextSeq - 1), running: a.run !== undefined || a.queued > 0 }
        })
      )

    const owner = (conversationId: string) =>
      Effect.suspend(() => {
        const a = actors.get(conversationId)
        if (a?.owner !== undefined) return Effect.succeed(a.owner)
        return Effect.map(store.load(conversationId), (r) => r?.owner)
      })

    const service: ConversationsService = { send, stop, subscribe, listen, history, list, owner }
    return {
      service,
      /** Active (not passivated) actors; for tests and benches. */
      active: () => actors.size,
      isActive: (id: string) => actors.has(id),
      /** Activate an actor without sending (benches). */
      activate: (id: string) => Effect.asVoid(withActor(id, () => Effect.void)),
      sweep
    }
  })

const Schema_isModelError = (u: unknown): u is ModelError.ModelError =>
  typeof u === "object" &&
  u !== null &&
  "_tag" in u &&
  ["RateLimited", "Overloaded", "Internal", "Network", "Timeout", "Auth", "BadRequest"].includes((u as { _tag: string })._tag)

export type Runtime = Effect.Effect.Success<ReturnType<typeof make>>
