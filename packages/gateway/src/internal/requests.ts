/**
 * The operations behind both the WebSocket requests and the HTTP routes, with the ownership and
 * limit checks in one place so every transport refuses the same things the same way.
 */
import type { Conversations } from "@sluice/core"
import * as Protocol from "@sluice/core/Protocol"
import type { ErrorBody } from "@sluice/core/Protocol"
import { Effect } from "effect"
import * as Metrics from "../Metrics.js"
import * as Ids from "./ids.js"
import type { State } from "./state.js"

export class Refused extends Error {
  constructor(
    readonly body: ErrorBody,
    readonly status: number
  ) {
    super(body.message)
  }
}

export const refused = (code: ErrorBody["code"], message: string, status: number, retryAfterMs?: number): Refused => {
  Metrics.unsafeIncrement(Metrics.errors, { tag: code })
  return new Refused(retryAfterMs === undefined ? { code, message } : { code, message, retryAfterMs }, status)
}

/** A conversation id from a path, held to the WebSocket's rule (1–200 characters). */
export const checkId = (id: string): Effect.Effect<string, Refused> =>
  id.length >= 1 && id.length <= 200
    ? Effect.succeed(id)
    : Effect.fail(refused("BadFrame", `conversationId: ${Protocol.ID_RULE} (got ${id.length})`, 400))

export const storeFailure = (e: { readonly _tag: string; readonly message?: string }) =>
  refused("Internal", `${e._tag}: ${e.message ?? "store failure"}`, 500)

export const notFound = (conversationId: string) =>
  refused("NotFound", `conversation ${JSON.stringify(conversationId)} does not exist`, 404)

export const mailboxFull = (e: { readonly capacity: number }) =>
  refused("MailboxFull", `conversation mailbox is full (${e.capacity} messages)`, 429, 1000)

/**
 * `start` (a send, an edit, a regenerate), then its run tracked, if the principal's run cap allows
 * one more and the gateway is not shutting down: the slot is reserved synchronously at the check
 * and held until `start` ends, so the cap holds under a burst on any transport, without serialising
 * sends behind a lock.
 */
export const admitted = <A, E, R>(
  state: State,
  principal: string,
  conversationId: string,
  start: Effect.Effect<A, E, R>,
  acceptedOf: (a: A) => Conversations.Accepted
) =>
  Effect.acquireUseRelease(
    Effect.suspend((): Effect.Effect<boolean, Refused> => {
      if (state.isShuttingDown()) return Effect.fail(refused("ShuttingDown", "the gateway is shutting down", 503))
      if (state.reserve(principal, conversationId)) {
        const cap = state.options.limits.maxRunsPerPrincipal
        if (state.runsOf(principal) <= cap) return Effect.succeed(true)
        state.unreserve(conversationId)
        return Effect.fail(refused("TooManyRuns", `at most ${cap} runs at a time per principal; wait for one to finish or stop one`, 429))
      }
      return Effect.succeed(false) // it runs already (or is being admitted): a turn more is not a run more
    }),
    () => Effect.tap(start, (a) => state.track(conversationId, principal, acceptedOf(a))),
    (mine) => (mine ? Effect.sync(() => state.unreserve(conversationId)) : Effect.void)
  )

/**
 * The stored id of `principal`'s conversation `conversationId` (ids are per principal: `ids.ts`),
 * refused unless it exists and is the principal's, or is absent and `allowMissing`. A principal's
 * conversation made before ids were scoped is found under its plain id. Errors name the id as the
 * client gave it.
 */
export const checkOwner = (state: State, principal: string, conversationId: string, allowMissing: boolean): Effect.Effect<string, Refused> =>
  Effect.gen(function* () {
    if (Ids.reserved(conversationId)) {
      return yield* Effect.fail(refused("BadFrame", "conversationId: must not start with @ (reserved)", 400))
    }
    const ownerOf = (id: string) => state.conversations.owner(id).pipe(Effect.mapError(storeFailure))
    const stored = Ids.scoped(principal, conversationId)
    const owner = yield* ownerOf(stored)
    if (owner === principal) return stored
    if (owner !== undefined) {
      return yield* Effect.fail(refused("Forbidden", `conversation ${JSON.stringify(conversationId)} belongs to another principal`, 403))
    }
    // Not there: a conversation this principal made before ids were scoped keeps its plain id.
    if (stored !== conversationId && (yield* ownerOf(conversationId)) === principal) return conversationId
    if (allowMissing) return stored
    return yield* Effect.fail(notFound(conversationId))
  })

export interface SendExtras {
  readonly queueMode?: Conversations.QueueMode | undefined
  readonly clientMessageId?: string | undefined
  /** The turn's own model request (the OpenAI endpoint's context, system and sampling). */
  readonly request?: Conversations.TurnRequest | undefined
}

/**
 * Sends `text` as `principal`: owner and run-cap checks, then the send (`admitted`: the slot is
 * reserved at the check, so a burst of sends on any transports never starts more runs than the
 * cap allows). Blank text is refused. Gives the acceptance (with the id as the client gave it) and
 * the id the store keeps.
 */
export const sendAs = (
  state: State,
  principal: string,
  conversationId: string,
  text: string,
  extras: SendExtras = {}
): Effect.Effect<{ readonly accepted: Conversations.Accepted; readonly stored: string }, Refused> =>
  Effect.gen(function* () {
    if (state.isShuttingDown()) return yield* Effect.fail(refused("ShuttingDown", "the gateway is shutting down", 503))
    if (text.trim() === "") return yield* Effect.fail(refused("BadFrame", "text: must not be empty or only whitespace", 400))
    const stored = yield* checkOwner(state, principal, conversationId, true)
    const accepted = yield* admitted(
      state,
      principal,
      stored,
      state.conversations
        .send(stored, text, {
          owner: principal,
          ...(extras.queueMode !== undefined ? { queueMode: extras.queueMode } : {}),
          ...(extras.clientMessageId !== undefined ? { clientMessageId: extras.clientMessageId } : {}),
          ...(extras.request !== undefined ? { request: extras.request } : {}),
          ...(state.options.settings !== undefined ? { settings: state.options.settings } : {})
        })
        .pipe(
          Effect.catchTags({
            MailboxFull: (e) => Effect.fail(mailboxFull(e)),
            StoreError: (e) => Effect.fail(storeFailure(e))
          })
        ),
      (accepted) => accepted
    )
    return { accepted: { ...accepted, conversationId }, stored }
  })

/** `sendAs`, answering with the acceptance only. */
export const send = (state: State, principal: string, conversationId: string, text: string, extras: SendExtras = {}) =>
  Effect.map(sendAs(state, principal, conversationId, text, extras), (r) => r.accepted)

export const stop = (state: State, principal: string, conversationId: string, runId?: string) =>
  checkOwner(state, principal, conversationId, false).pipe(
    Effect.flatMap((stored) => state.conversations.stop(stored, runId).pipe(Effect.mapError(storeFailure))),
    Effect.map((stopped) => ({ stopped }))
  )

export const history = (state: State, principal: string, conversationId: string) =>
  checkOwner(state, principal, conversationId, false).pipe(
    Effect.flatMap((stored) => state.conversations.history(stored).pipe(Effect.mapError(storeFailure)))
  )

/** The principal's conversations, by the ids it knows them by. */
export const list = (state: State, principal: string) =>
  state.conversations.list({ owner: principal }).pipe(
    Effect.mapError(storeFailure),
    Effect.map((all) => all.map((c) => ({ ...c, conversationId: Ids.external(principal, c.conversationId) })))
  )
