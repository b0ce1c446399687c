/**
 * `POST /v1/chat/completions`, OpenAI-compatible, streaming (`data:` chunks then `data: [DONE]`)
 * and not. Each request is a conversation of its own (`chatcmpl-…`), owned by the caller, unless
 * the `x-sluice-conversation-id` header names one to continue. A client that disconnects
 * mid-stream stops the run.
 */
import { randomUUID } from "node:crypto"
import { HttpLayerRouter, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { ReplyEvent } from "@sluice/core"
import { Effect, Layer, Schema, Stream } from "effect"
import { body, principal, sseHeaders, sseStream } from "./http.js"
import * as Requests from "./requests.js"
import type { State } from "./state.js"

const Content = Schema.Union(
  Schema.String,
  Schema.Array(Schema.Struct({ type: Schema.String, text: Schema.optional(Schema.String) }))
)
const ChatRequest = Schema.Struct({
  model: Schema.optionalWith(Schema.String, { default: () => "sluice" }),
  messages: Schema.NonEmptyArray(Schema.Struct({ role: Schema.String, content: Schema.NullOr(Content) })),
  stream: Schema.optionalWith(Schema.Boolean, { default: () => false })
})

const textOf = (c: typeof Content.Type | null): string =>
  c === null ? "" : typeof c === "string" ? c : c.map((p) => p.text ?? "").join("")

/** One message as is; several as a transcript the model can read. */
const promptOf = (messages: ReadonlyArray<{ role: string; content: typeof Content.Type | null }>, continuing: boolean) => {
  const last = messages[messages.length - 1]!
  if (continuing || messages.length === 1) return textOf(last.content)
  return messages.map((m) => `${m.role}: ${textOf(m.content)}`).join("\n\n")
}

const openAiError = (e: Requests.Refused) =>
  HttpServerResponse.unsafeJson(
    {
      error: {
        message: e.body.message,
        type: e.status === 401 ? "authentication_error" : e.status === 429 ? "rate_limit_exceeded" : "invalid_request_error",
        code: e.body.code,
        param: null
      }
    },
    { status: e.status }
  )

/** Turns reply events into text deltas (Drafts grow the text at an offset; Blocks are pieces; Final is whole). */
const deltas = () => {
  let sent = ""
  let sawDraft = false
  let sawBlock = false
  /** After a Rollback: the new attempt's text, sent on only where it continues what was sent. */
  let retry: string | undefined
  return (ev: ReplyEvent.ReplyEvent): string => {
    let next: string | undefined
    if (ev._tag === "Rollback") {
      retry = ""
      return ""
    }
    if (ev._tag === "Draft") {
      sawDraft = true
      if (retry === undefined && ev.offset === sent.length) {
        // The common case: exactly the new text, without re-reading what was sent.
        sent += ev.text
        return ev.text
      }
      next = ReplyEvent.applyDraft(retry ?? sent, ev)
      if (retry !== undefined) retry = next
    } else if (ev._tag === "Block" && !sawDraft) {
      next = sent + (sawBlock ? "\n\n" : "") + ev.text
      sawBlock = true
    } else if (ev._tag === "Final") next = ev.text
    if (next === undefined || !next.startsWith(sent) || next.length === sent.length) return ""
    const d = next.slice(sent.length)
    sent = next
    return d
  }
}

/** Events of the run that answers the message accepted at `seq`, ending with its RunEnded. */
const runEvents = (state: State, conversationId: string, seq: number) => {
  let runId: string | undefined
  return state.conversations.subscribe(conversationId, { fromSeq: seq }).pipe(
    Stream.filter((ev) => {
      if (runId === undefined && ev._tag === "RunStarted") runId = ev.runId
      return runId !== undefined && ev.runId === runId
    }),
    Stream.takeUntil((ev) => ev._tag === "RunEnded")
  )
}

export const routes = (state: State) => {
  const completions = HttpLayerRouter.add(
    "POST",
    "/v1/chat/completions",
    Effect.gen(function* () {
      const req = yield* HttpServerRequest.HttpServerRequest
      const who = yield* principal(state)
      const b = yield* body(state, ChatRequest)
      const given = req.headers["x-sluice-conversation-id"]
      const conversationId = given ?? `chatcmpl-${randomUUID()}`
      const accepted = yield* Requests.send(state, who, conversationId, promptOf(b.messages, given !== undefined))
      const created = Math.floor(Date.now() / 1000)
      const id = `chatcmpl-${accepted.messageId}`
      const events = runEvents(state, conversationId, accepted.seq)
      const toDelta = deltas()

      if (!b.stream) {
        let text = ""
        let failure: string | undefined
        yield* events.pipe(
          Stream.runForEach((ev) =>
            Effect.sync(() => {
              text += toDelta(ev)
              if (ev._tag === "Error") failure = `${ev.error.tag}: ${ev.error.message}`
            })
          ),
          Effect.mapError(() => Requests.refused("Internal", "conversation store failed", 500))
        )
        if (failure !== undefined && text === "") {
          return yield* Effect.fail(Requests.refused("Internal", `model failed: ${failure}`, 502))
        }
        return HttpServerResponse.unsafeJson({
          id,
          object: "chat.completion",
          created,
          model: b.model,
          choices: [{ index: 0, message: { role: "assistant", content: text }, finish_reason: "stop", logprobs: null }],
          usage: { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 }
        }, { headers: { "x-sluice-conversation-id": conversationId } })
      }

      const chunk = (delta: Record<string, string>, finish: string | null) =>
        `data: ${JSON.stringify({
          id,
          object: "chat.completion.chunk",
          created,
          model: b.model,
          choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }]
        })}\n\n`
      let finished = false
      const body$ = events.pipe(
        Stream.mapConcat((ev): ReadonlyArray<string> => {
          const d = toDelta(ev)
          const out: Array<string> = d === "" ? [] : [chunk({ content: d }, null)]
          if (ev._tag === "Error") {
            out.push(`data: ${JSON.stringify({ error: { message: ev.error.message, type: "server_error", code: ev.error.tag } })}\n\n`)
          }
          if (ev._tag === "RunEnded") {
            finished = true
            out.push(chunk({}, "stop"), "data: [DONE]\n\n")
          }
          return out
        }),
        Stream.ensuring(
          Effect.suspend(() =>
            finished ? Effect.void : state.conversations.stop(conversationId).pipe(Effect.ignore, Effect.forkDaemon)
          )
        )
      )
      return HttpServerResponse.stream(sseStream(state, body$, chunk({ role: "assistant", content: "" }, null)), {
        contentType: "text/event-stream",
        headers: { ...sseHeaders, "x-sluice-conversation-id": conversationId }
      })
    }).pipe(Effect.catchIf((e): e is Requests.Refused => e instanceof Requests.Refused, (e) => Effect.succeed(openAiError(e))))
  )
  const models = HttpLayerRouter.add(
    "GET",
    "/v1/models",
    Effect.succeed(
      HttpServerResponse.unsafeJson({
        object: "list",
        data: [{ id: "sluice", object: "model", created: 0, owned_by: "sluice" }]
      })
    )
  )
  return Layer.mergeAll(completions, models)
}
