/**
 * The run loop: the worker that drains an actor's mailbox, one turn (run) at a time, and what a
 * run does — build the request from the stored messages, stream the model through the pipeline,
 * turn its output into events, and decide how the run ends (Final / Error, RunEnded).
 *
 * Per chunk the run appends events and marks the actor for the next group commit without waiting
 * for it (the writer batches every conversation's deltas of one event-loop turn into one
 * transaction); it waits only when its uncommitted backlog passes `maxBacklog`, and at the end of
 * the run, so `RunEnded` is committed before the worker takes the next turn.
 *
 * @internal
 */
import { Cause, Deferred, Effect, Exit, Fiber, type Scope } from "effect"
import type { MessageRecord } from "../../Conversation.js"
import type { ConversationStoreService } from "../../ConversationStore.js"
import type { Options } from "../../Conversations.js"
import type { ChatMessage, ModelRequest, ModelService, Part } from "../../Model.js"
import * as ModelError from "../../ModelError.js"
import * as Reasoning from "../../Reasoning.js"
import { applyDraft, type Payload, type ReplyEvent, type RunEndReason } from "../../ReplyEvent.js"
import * as StreamingSettings from "../../StreamingSettings.js"
import * as PipelineDriver from "../pipelineDriver.js"
import * as A from "./actor.js"
import type { EventLog } from "./eventLog.js"
import type { Registry } from "./registry.js"

type Body = ReplyEvent extends infer E ? (E extends ReplyEvent ? Omit<E, "seq" | "conversationId" | "runId" | "at"> : never) : never

/** Uncommitted events per actor above which a run waits for the writer. */
export const MAX_BACKLOG = 512

/**
 * How far ahead of the next seq the conversation's row reserves seqs for Drafts published before
 * any commit (renewed at half-way, by the next group commit). After a crash, seqs go on from the
 * reservation, so they can jump by up to this much; they never repeat.
 */
export const RESERVE_AHEAD = 1024

/**
 * The running reply's row is rewritten from its preview when that grew by a step since the last
 * time — the first text at once, then a quarter, at least `CHECKPOINT_MIN`, at most `CHECKPOINT_CHARS` characters — with
 * the next commit, and by a commit of its own at two steps: what a crash can lose of it. (Growing
 * by a quarter, the rewrites of a reply of n characters add up to ~5n; the cap bounds the loss on
 * long replies.)
 */
const CHECKPOINT_MIN = 16
const CHECKPOINT_CHARS = 2048

export interface RunLoop {
  /** Appends an event (seq, time) to the actor; committed by the next group commit. */
  readonly event: (a: A.Actor, runId: string, body: Body) => ReplyEvent
  /** Starts the actor's worker if it has none (it holds a lease while it runs). */
  readonly ensureWorker: (a: A.Actor) => Effect.Effect<void>
}

export const make = (deps: {
  readonly store: ConversationStoreService
  readonly model: ModelService
  readonly log: EventLog
  readonly registry: Registry
  readonly options: Options
  readonly now: () => number
  readonly scope: Scope.Scope
}): RunLoop => {
  const { store, model, log, registry, options, now, scope } = deps

  const event = (a: A.Actor, runId: string, body: Body): ReplyEvent => {
    // One shape for every Draft (the hot path); the other events spread their body.
    const ev = (
      body._tag === "Draft"
        ? { _tag: "Draft", offset: body.offset, text: body.text, seq: a.nextSeq++, conversationId: a.id, runId, at: now() }
        : { ...body, seq: a.nextSeq++, conversationId: a.id, runId, at: now() }
    ) as ReplyEvent
    a.updatedAt = ev.at
    if (ev._tag === "Draft") {
      // A preview, never stored: published now, unless an earlier event is still uncommitted (then
      // after it, in order) or its seq is not yet covered by the committed reservation.
      if (ev.seq + RESERVE_AHEAD / 2 >= a.reserving) {
        a.reserving = ev.seq + RESERVE_AHEAD
        a.dirtyConversation = true
      }
      if (a.pending.length === 0 && a.inFlight.length === 0 && ev.seq < a.reserved) a.fanout.publish([ev])
      else a.pending.push(ev)
      return ev
    }
    a.pending.push(ev)
    // A progress update alone leaves the conversation's row as it is (the log has the seq); every
    // other event, RunEnded included, rewrites it.
    if (ev._tag !== "ReasoningUpdate") a.dirtyConversation = true
    return ev
  }

  const buildRequest = (a: A.Actor, turn: A.Turn) =>
    Effect.map(store.messages(a.id), (stored): ModelRequest => {
      // Turns still to run, and one being accepted (committed but not yet queued): not this run's.
      const later = new Set(a.queue?.map((t) => t.runId))
      if (a.accepting !== undefined) later.add(a.accepting)
      const messages: Array<ChatMessage> = []
      const r = turn.request
      // Consecutive turns of one role are one message (Anthropic wants them alternating).
      // Content blocks (images, tool calls and results) merge as blocks, text as text.
      const push = (role: ChatMessage["role"], content: string, parts?: ReadonlyArray<Part>) => {
        const last = messages[messages.length - 1]
        if (last !== undefined && last.role === role) {
          const merged = `${last.content}\n\n${content}`
          messages[messages.length - 1] =
            last.parts === undefined && parts === undefined
              ? { role, content: merged }
              : { role, content: merged, parts: [...(last.parts ?? asParts(last.content)), ...(parts ?? asParts(content))] }
        } else if (last !== undefined || role === "user" || r?.context !== undefined) {
          messages.push(parts === undefined ? { role, content } : { role, content, parts })
        }
      }
      for (const m of r?.context ?? []) if (m.content !== "" || m.parts !== undefined) push(m.role, m.content, m.parts)
      for (const m of stored) {
        if (m.text === "" || m.status === "failed" || m.superseded === true) continue
        if (m.role === "user" && m.runId !== undefined && later.has(m.runId)) continue
        if (m.role === "assistant" && m.runId === turn.runId) continue
        push(m.role, m.text, m.role === "user" && m.runId === turn.runId ? r?.parts : undefined)
      }
      const system = r?.system ?? a.system ?? options.system
      const model = r?.model ?? a.model
      return {
        messages,
        ...(system === undefined ? {} : { system }),
        ...(model === undefined ? {} : { model }),
        ...(r?.maxTokens === undefined ? {} : { maxTokens: r.maxTokens }),
        ...(r?.temperature === undefined ? {} : { temperature: r.temperature }),
        ...(r?.topP === undefined ? {} : { topP: r.topP }),
        ...(r?.stopSequences === undefined ? {} : { stopSequences: r.stopSequences }),
        ...(r?.tools === undefined ? {} : { tools: r.tools }),
        ...(r?.toolChoice === undefined ? {} : { toolChoice: r.toolChoice })
      }
    })

  /** Payloads → events (synchronous: the pipeline driver calls it from the run and its idle timer). */
  const onPayloads = (a: A.Actor, run: A.Run) => (chunk: ReadonlyArray<Payload>) => {
    // The reply's row is rewritten (whole text) only when a Block, Final or Rollback arrives, not
    // per Draft: per delta that is O(n²) bytes for a long reply. The Drafts in the log hold the
    // rest; crash recovery rebuilds the partial text from them (see the SQLite store's `recover`).
    let rewrite = false
    let force = false
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
          event(a, run.runId, withModel(run, p))
          rewrite = true
          break
        default: {
          const ev = event(a, run.runId, p)
          run.attemptFirstSeq ??= ev.seq
          if (p._tag === "Block") {
            run.blocks.push(p.text)
            rewrite = true
          } else if (p._tag === "Draft") {
            run.draft = applyDraft(run.draft ?? "", p)
            // Drafts are not stored: the reply's row is the partial text crash recovery keeps. A
            // checkpoint is due after a step; it rides with the next commit, or forces one at 2 steps.
            const grown = run.draft.length - run.checkpoint
            // The first text is due at once (it rides with the seq reservation the first Draft commits).
            const step = run.checkpoint === 0 ? 1 : Math.min(CHECKPOINT_CHARS, Math.max(CHECKPOINT_MIN, run.checkpoint >> 2))
            if (grown >= step) a.replyDirty = true
            if (grown >= 2 * step) force = true
          }
        }
      }
    }
    if (rewrite) a.replyDirty = true
    log.mark(a, force)
  }

  /** Backpressure after a chunk: wait for the writer only when the backlog is too large. */
  const backpressure = (a: A.Actor) => (): Effect.Effect<void, unknown> | undefined =>
    log.backlog(a) > MAX_BACKLOG ? log.flush(a) : undefined

  const errorInfo = (cause: Cause.Cause<unknown>) => {
    const failure = Cause.failureOption(cause)
    if (failure._tag === "Some" && isModelError(failure.value)) {
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
        const started = event(a, turn.runId, { _tag: "RunStarted", level: plan.level, model: a.model ?? plan.model })
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
          checkpoint: 0,
          final: undefined,
          raw: "",
          model: undefined
        }
        a.run = run
        A.markRun(a, run.record)
        A.markMessage(a, message)
        // The run is in the store before the request is built (the turn's messages already are:
        // a send is accepted only once committed).
        const setup = yield* Effect.exit(Effect.zipRight(log.flush(a), buildRequest(a, turn)))
        const settings = a.settings ?? StreamingSettings.defaults
        const tracker = Reasoning.track(plan)
        const progress = (u: Reasoning.Update | undefined) => {
          if (u === undefined) return
          const ev = event(a, run.runId, u)
          run.attemptFirstSeq ??= ev.seq
          log.mark(a)
        }
        progress(tracker.initial())
        const work: Effect.Effect<void, unknown> = Exit.isSuccess(setup)
          ? PipelineDriver.run(settings, { model, request: Reasoning.apply(plan, setup.value) }, {
              onInput: (chunk) => {
                for (const ev of chunk) {
                  if (ev._tag === "TextDelta") run.raw += ev.text
                  else if (ev._tag === "ToolUseStart") run.toolCalls = [...(run.toolCalls ?? []), { id: ev.id, name: ev.name, arguments: "" }]
                  else if (ev._tag === "ToolInputDelta") {
                    const call = run.toolCalls?.[run.toolCalls.length - 1]
                    if (call !== undefined) call.arguments += ev.partialJson
                  } else if (ev._tag === "MessageStart") {
                    run.raw = ""
                    run.toolCalls = undefined
                    run.model = ev.model
                    run.usage = ev.usage
                    run.modelStopReason = undefined
                  } else if (ev._tag === "MessageDelta") {
                    // cumulative on the wire; the input count may only be in the MessageStart
                    run.usage = { ...ev.usage, inputTokens: Math.max(ev.usage.inputTokens, run.usage?.inputTokens ?? 0) }
                    run.modelStopReason = ev.stopReason ?? undefined
                  } else if (ev._tag === "Rollback") {
                    run.raw = ""
                    run.toolCalls = undefined
                  }
                  progress(tracker.next(ev))
                }
              },
              onInputFailure: () => progress(tracker.failed()),
              emit: onPayloads(a, run),
              afterEmit: backpressure(a)
            })
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
            event(a, run.runId, withModel(run, { _tag: "Final", text: run.final }))
          }
          run.message = { ...run.message, text: run.final, status: "complete" }
        } else if (Cause.isInterruptedOnly(exit.cause)) {
          reason = run.stopReason ?? "interrupted"
          const text = run.raw.length >= A.visibleText(run).length ? run.raw : A.visibleText(run)
          event(a, run.runId, withModel(run, { _tag: "Final", text, interrupted: true }))
          run.message = { ...run.message, text, status: "interrupted", interrupted: true }
        } else {
          reason = "failed"
          const error = errorInfo(exit.cause)
          event(a, run.runId, { _tag: "Error", error })
          run.message = { ...run.message, text: run.final ?? A.visibleText(run), status: "failed", error: { tag: error.tag, message: error.message } }
        }
        event(a, run.runId, { _tag: "RunEnded", reason })
        // The run's Drafts are all below nextSeq now: the reservation goes (the row keeps the real next seq).
        a.reserved = a.reserving = a.nextSeq
        run.record = { ...run.record, status: reason, endedAt: now() }
        A.markRun(a, run.record)
        A.markMessage(a, run.message)
        a.run = undefined
        yield* Effect.exit(log.flush(a))
        yield* Deferred.succeed(run.ended, undefined)
      })
    )

  /** The next turn, taken under the send lock (a send in the middle of its commit finishes first). */
  const nextTurn = (a: A.Actor) =>
    a.sendLock.withPermits(1)(
      Effect.sync(() => {
        const turn = a.queue?.shift()
        if (turn === undefined) a.worker = false
        else a.queued -= turn.messages.length
        return turn
      })
    )

  const drain = (a: A.Actor): Effect.Effect<void> =>
    Effect.flatMap(nextTurn(a), (turn) => {
      if (turn === undefined) return Effect.void
      // A turn queued before the conversation was deleted is not run.
      return turn.epoch === a.epoch ? Effect.zipRight(runTurn(a, turn), drain(a)) : drain(a)
    })

  const ensureWorker = (a: A.Actor) =>
    Effect.suspend(() => {
      if (a.worker) return Effect.void
      a.worker = true
      return Effect.asVoid(
        Effect.forkIn(
          Effect.scoped(Effect.zipRight(registry.lease(a.id), drain(a))).pipe(
            // A drain that finished cleared `worker` itself, under the send lock; anything else
            // (a failed lease, shutdown) clears it here so the next send starts a worker again.
            Effect.onExit((exit) =>
              Exit.isSuccess(exit)
                ? Effect.void
                : Effect.sync(() => {
                    a.worker = false
                  })
            ),
            Effect.catchAll((e) => Effect.logWarning(`conversation ${a.id}: worker could not start`, e.message))
          ),
          scope
        )
      )
    })

  return { event, ensureWorker }
}

/** A Final with the model that wrote it, when its stream named one. */
const withModel = <F extends { readonly _tag: "Final" }>(run: A.Run, final: F): F => ({
  ...final,
  ...(run.model === undefined ? {} : { model: run.model }),
  ...(run.usage === undefined ? {} : { usage: run.usage }),
  ...(run.modelStopReason === undefined ? {} : { stopReason: run.modelStopReason }),
  ...(run.toolCalls === undefined ? {} : { toolCalls: run.toolCalls.map((c) => ({ ...c, arguments: c.arguments === "" ? "{}" : c.arguments })) })
})

const asParts = (text: string): Array<Part> => (text === "" ? [] : [{ _tag: "Text", text }])

const isModelError = (u: unknown): u is ModelError.ModelError =>
  typeof u === "object" &&
  u !== null &&
  "_tag" in u &&
  ["RateLimited", "Overloaded", "Internal", "Network", "Timeout", "Auth", "BadRequest"].includes((u as { _tag: string })._tag)
