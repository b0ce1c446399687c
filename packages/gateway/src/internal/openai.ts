/**
 * `POST /v1/chat/completions`, OpenAI-compatible, streaming (`data:` chunks then `data: [DONE]`)
 * and not. Each request is a conversation of its own (`chatcmpl-…`), owned by the caller, unless
 * the `x-sluice-conversation-id` header names one to continue (then only the last message is sent:
 * the conversation has the rest). System and developer messages are the system prompt, the other
 * messages real alternating turns; `max_tokens` / `max_completion_tokens`, `temperature`, `top_p`
 * and `stop` reach the model; `model` is an alias (`model.aliases`), one of the model choices, or
 * the default; tools pass through (OpenAI `tools` → Claude's tools, its `tool_use` → `tool_calls`,
 * streamed as `delta.tool_calls`; `tool` messages → tool results); `image_url` parts → image
 * blocks (`openaiRequest.ts` reads the request). The answer names the model that wrote it and its
 * real `usage` (also as the last chunk with `stream_options.include_usage`); `finish_reason` is
 * `length` when `max_tokens` cut it, `tool_calls` when it calls tools. A client that disconnects,
 * streaming or not, stops the run.
 */
import { randomUUID } from "node:crypto"
import { HttpLayerRouter, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { type ModelEvent, ReplyEvent } from "@sluice/core"
import { Effect, Layer, Schema, Stream } from "effect"
import * as Metrics from "../Metrics.js"
import { body, principal, sseHeaders, sseStream } from "./http.js"
import * as OpenAiRequest from "./openaiRequest.js"
import * as Requests from "./requests.js"
import type { State } from "./state.js"

const finishReason = (stopReason: string | undefined) => (stopReason === "max_tokens" ? "length" : stopReason === "tool_use" ? "tool_calls" : "stop")
const usageOf = (u: ModelEvent.Usage | undefined) => {
  const prompt = u?.inputTokens ?? 0
  const completion = u?.outputTokens ?? 0
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion }
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

const invalidResponse = (e: OpenAiRequest.InvalidRequest) => {
  Metrics.unsafeIncrement(Metrics.errors, { tag: "BadFrame" })
  return HttpServerResponse.unsafeJson(
    { error: { message: e.message, type: "invalid_request_error", param: e.param, code: e.message.startsWith("Unrecognized") ? "unknown_parameter" : "invalid_value" } },
    { status: 400 }
  )
}

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

/** The answer's message: its text (null when it only calls tools) and its tool calls. */
const messageOf = (text: string, final: (ReplyEvent.ReplyEvent & { readonly _tag: "Final" }) | undefined) => {
  const calls = final?.toolCalls ?? []
  if (calls.length === 0) return { role: "assistant", content: text, refusal: null }
  return {
    role: "assistant",
    content: text === "" ? null : text,
    refusal: null,
    tool_calls: calls.map((c) => ({ id: c.id, type: "function", function: { name: c.name, arguments: c.arguments } }))
  }
}

/**
 * Tool-call events as `delta.tool_calls` entries, as OpenAI streams them: the first names the call
 * (`index`, `id`, `type`, `function.name`, empty `arguments`), the next ones add to its arguments.
 * After a Rollback the calls already announced are not announced again (a client cannot take them
 * back); the Final of a non-streaming answer is exact.
 */
const toolDeltas = () => {
  let announced = 0
  let skipBelow = 0
  return (ev: ReplyEvent.ReplyEvent): Record<string, unknown> | undefined => {
    switch (ev._tag) {
      case "Rollback":
        skipBelow = announced
        return undefined
      case "ToolCall":
        if (ev.index < skipBelow) return undefined
        announced = Math.max(announced, ev.index + 1)
        return { index: ev.index, id: ev.id, type: "function", function: { name: ev.name, arguments: "" } }
      case "ToolCallDelta":
        return ev.index < skipBelow ? undefined : { index: ev.index, function: { arguments: ev.arguments } }
      default:
        return undefined
    }
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
      const raw = yield* body(state, Schema.Unknown)
      const b = OpenAiRequest.decode(raw)
      if (b instanceof OpenAiRequest.InvalidRequest) return invalidResponse(b)
      const given = req.headers["x-sluice-conversation-id"]
      const turn = OpenAiRequest.toTurn(b, given !== undefined, {
        aliases: state.options.modelAliases,
        choices: state.options.models,
        imageUrls: state.options.imageUrls
      })
      if (turn instanceof OpenAiRequest.InvalidRequest) return invalidResponse(turn)
      const conversationId = given ?? `chatcmpl-${randomUUID()}`
      // `stored`: the id the store keeps (ids are per principal).
      const { accepted, stored } = yield* Requests.sendAs(state, who, conversationId, turn.text, { request: turn.request })
      const created = Math.floor(Date.now() / 1000)
      // A new exchange's completion id is its conversation id (the header's); a continued one names its message.
      const id = given === undefined ? conversationId : `chatcmpl-${accepted.messageId}`
      const events = runEvents(state, stored, accepted.seq)
      const toDelta = deltas()
      // The model that answered (its stream's name), else the one asked for.
      let final: (ReplyEvent.ReplyEvent & { readonly _tag: "Final" }) | undefined
      const answeredBy = () => final?.model ?? turn.request.model ?? b.model
      const stopIfUnfinished = (finished: () => boolean) =>
        Effect.suspend(() => (finished() ? Effect.void : state.conversations.stop(stored).pipe(Effect.ignore, Effect.forkDaemon)))

      if (b.stream !== true) {
        let text = ""
        let failure: string | undefined
        let ended = false
        yield* events.pipe(
          Stream.runForEach((ev) =>
            Effect.sync(() => {
              text += toDelta(ev)
              if (ev._tag === "Final") final = ev
              if (ev._tag === "Error") failure = `${ev.error.tag}: ${ev.error.message}`
              if (ev._tag === "RunEnded") ended = true
            })
          ),
          Effect.mapError(() => Requests.refused("Internal", "conversation store failed", 500)),
          // A client that goes away before the answer stops the run.
          Effect.onInterrupt(() => stopIfUnfinished(() => ended))
        )
        if (failure !== undefined && text === "") {
          return yield* Effect.fail(Requests.refused("Internal", `model failed: ${failure}`, 502))
        }
        return HttpServerResponse.unsafeJson(
          {
            id,
            object: "chat.completion",
            created,
            model: answeredBy(),
            choices: [{ index: 0, message: messageOf(text, final), finish_reason: finishReason(final?.stopReason), logprobs: null }],
            usage: usageOf(final?.usage)
          },
          { headers: { "x-sluice-conversation-id": conversationId } }
        )
      }

      const includeUsage = b.stream_options?.include_usage === true
      const chunk = (delta: Record<string, unknown>, finish: string | null) =>
        `data: ${JSON.stringify({
          id,
          object: "chat.completion.chunk",
          created,
          model: answeredBy(),
          choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }],
          ...(includeUsage ? { usage: null } : {})
        })}\n\n`
      let finished = false
      const toolDelta = toolDeltas()
      const body$ = events.pipe(
        Stream.mapConcat((ev): ReadonlyArray<string> => {
          const d = toDelta(ev)
          const out: Array<string> = d === "" ? [] : [chunk({ content: d }, null)]
          const call = toolDelta(ev)
          if (call !== undefined) out.push(chunk({ tool_calls: [call] }, null))
          if (ev._tag === "Final") final = ev
          if (ev._tag === "Error") {
            out.push(`data: ${JSON.stringify({ error: { message: ev.error.message, type: "server_error", code: ev.error.tag } })}\n\n`)
          }
          if (ev._tag === "RunEnded") {
            finished = true
            out.push(chunk({}, finishReason(final?.stopReason)))
            if (includeUsage) {
              out.push(`data: ${JSON.stringify({ id, object: "chat.completion.chunk", created, model: answeredBy(), choices: [], usage: usageOf(final?.usage) })}\n\n`)
            }
            out.push("data: [DONE]\n\n")
          }
          return out
        }),
        Stream.ensuring(stopIfUnfinished(() => finished))
      )
      return HttpServerResponse.stream(sseStream(state, body$, chunk({ role: "assistant", content: "" }, null)), {
        contentType: "text/event-stream",
        headers: { ...sseHeaders, "x-sluice-conversation-id": conversationId }
      })
    }).pipe(Effect.catchIf((e): e is Requests.Refused => e instanceof Requests.Refused, (e) => Effect.succeed(openAiError(e))))
  )
  // The default, every model a conversation may use, and the aliases OpenAI clients may ask for.
  const ids = [...new Set(["sluice", ...state.options.models, ...Object.keys(state.options.modelAliases)])]
  const models = HttpLayerRouter.add(
    "GET",
    "/v1/models",
    // With tokens configured, a principal's token is needed (OpenAI clients send their key anyway).
    principal(state).pipe(
      Effect.as(
        HttpServerResponse.unsafeJson({
          object: "list",
          data: ids.map((id) => ({ id, object: "model", created: 0, owned_by: "sluice" }))
        })
      ),
      Effect.catchIf((e): e is Requests.Refused => e instanceof Requests.Refused, (e) => Effect.succeed(openAiError(e)))
    )
  )
  return Layer.mergeAll(completions, models)
}
