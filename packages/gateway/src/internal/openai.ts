/**
 * `POST /v1/chat/completions`, OpenAI-compatible, streaming (`data:` chunks then `data: [DONE]`)
 * and not. Each request is a conversation of its own (`chatcmpl-…`), owned by the caller, unless
 * the `x-sluice-conversation-id` header names one to continue (then only the last message is sent:
 * the conversation has the rest). System and developer messages are the system prompt, the other
 * messages real alternating turns; `max_tokens` / `max_completion_tokens`, `temperature`, `top_p`
 * and `stop` reach the model; `model` is an alias (`model.aliases`), one of the model choices, or
 * the default; the answer names the model that wrote it and its real `usage` (also as the last
 * chunk with `stream_options.include_usage`), and `finish_reason` is `length` when `max_tokens`
 * cut it. A client that disconnects, streaming or not, stops the run.
 */
import { randomUUID } from "node:crypto"
import { HttpLayerRouter, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { type Conversations, type ModelEvent, ReplyEvent } from "@sluice/core"
import * as Protocol from "@sluice/core/Protocol"
import { Effect, Either, Layer, Schema, Stream } from "effect"
import * as Metrics from "../Metrics.js"
import { body, principal, sseHeaders, sseStream } from "./http.js"
import * as Requests from "./requests.js"
import type { State } from "./state.js"

/**
 * What the endpoint takes, as the OpenAI API defines it. Parameters it cannot honour (tools, n > 1,
 * JSON output, logprobs, penalties…) are refused with a 400 naming them, never silently ignored;
 * names the API does not know are refused as the API refuses them.
 */
const TextPart = Schema.Struct({ type: Schema.Literal("text"), text: Schema.String })
const Content = Schema.Union(Schema.String, Schema.Array(Schema.Union(TextPart, Schema.Struct({ type: Schema.String }))))
const Message = Schema.Struct({
  role: Schema.String,
  content: Schema.optionalWith(Schema.NullOr(Content), { default: () => null }),
  name: Schema.optional(Schema.String)
})
const ChatRequest = Schema.Struct({
  model: Schema.optionalWith(Schema.String, { default: () => "sluice" }),
  messages: Schema.NonEmptyArray(Message),
  stream: Schema.optionalWith(Schema.NullOr(Schema.Boolean), { default: () => false }),
  stream_options: Schema.optional(Schema.NullOr(Schema.Struct({ include_usage: Schema.optional(Schema.Boolean) }))),
  max_tokens: Schema.optional(Schema.NullOr(Schema.Int.pipe(Schema.positive()))),
  max_completion_tokens: Schema.optional(Schema.NullOr(Schema.Int.pipe(Schema.positive()))),
  temperature: Schema.optional(Schema.NullOr(Schema.Number.pipe(Schema.between(0, 2)))),
  top_p: Schema.optional(Schema.NullOr(Schema.Number.pipe(Schema.between(0, 1)))),
  stop: Schema.optional(Schema.NullOr(Schema.Union(Schema.String, Schema.Array(Schema.String)))),
  n: Schema.optional(Schema.NullOr(Schema.Int)),
  response_format: Schema.optional(Schema.NullOr(Schema.Struct({ type: Schema.String }))),
  metadata: Schema.optional(Schema.NullOr(Schema.Record({ key: Schema.String, value: Schema.String }))),
  user: Schema.optional(Schema.NullOr(Schema.String))
})
type ChatRequest = typeof ChatRequest.Type

/** OpenAI parameters this gateway knows but cannot honour: answered 400, naming the parameter. */
const UNSUPPORTED = [
  "tools",
  "tool_choice",
  "functions",
  "function_call",
  "parallel_tool_calls",
  "logprobs",
  "top_logprobs",
  "logit_bias",
  "presence_penalty",
  "frequency_penalty",
  "seed",
  "audio",
  "modalities",
  "prediction",
  "reasoning_effort",
  "service_tier",
  "store",
  "web_search_options"
]
const KNOWN = new Set(Object.keys(ChatRequest.fields))

const invalid = (param: string, message: string) => new InvalidRequest(param, message)
class InvalidRequest {
  constructor(
    readonly param: string,
    readonly message: string
  ) {}
}

/** The raw body's keys first (unknown and unsupported parameters), then the schema. */
const checkKeys = (raw: unknown): InvalidRequest | undefined => {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) return undefined
  for (const [k, v] of Object.entries(raw)) {
    if (UNSUPPORTED.includes(k)) {
      if (v === null || (Array.isArray(v) && v.length === 0) || (k.endsWith("_penalty") && v === 0)) continue
      return invalid(k, `${k} is not supported by this gateway`)
    }
    if (!KNOWN.has(k)) return invalid(k, `Unrecognized request argument supplied: ${k}`)
  }
  return undefined
}

const textOf = (c: typeof Content.Type | null, at: string): string | InvalidRequest => {
  if (c === null) return ""
  if (typeof c === "string") return c
  let out = ""
  for (const [i, p] of c.entries()) {
    if (p.type !== "text") return invalid(`${at}.content.${i}.type`, `content part type ${JSON.stringify(p.type)} is not supported (only "text")`)
    out += (p as { text: string }).text
  }
  return out
}

/**
 * The request as a turn: system and developer messages become the system prompt; the other
 * messages are real alternating turns (the last one, a user message, is the one sent; the ones
 * before are its context); sampling parameters go to the model.
 */
const toTurn = (b: ChatRequest, continuing: boolean, aliases: Readonly<Record<string, string>>, choices: ReadonlyArray<string>) => {
  const system: Array<string> = []
  const turns: Array<{ role: "user" | "assistant"; content: string }> = []
  for (const [i, m] of b.messages.entries()) {
    const at = `messages.${i}`
    const text = textOf(m.content, at)
    if (text instanceof InvalidRequest) return text
    if (m.role === "system" || m.role === "developer") system.push(text)
    else if (m.role === "user" || m.role === "assistant") turns.push({ role: m.role, content: text })
    else if (m.role === "tool" || m.role === "function") return invalid(`${at}.role`, `role ${JSON.stringify(m.role)} needs tools, which are not supported by this gateway`)
    else return invalid(`${at}.role`, `role must be one of "system", "developer", "user", "assistant"; got ${JSON.stringify(m.role)}`)
  }
  const last = turns[turns.length - 1]
  if (last === undefined || last.role !== "user") return invalid("messages", "the last message (after system messages) must be a user message")
  if (b.n !== undefined && b.n !== null && b.n !== 1) return invalid("n", "n must be 1: this gateway returns one choice")
  if (b.response_format && b.response_format.type !== "text") {
    return invalid("response_format", `response_format ${JSON.stringify(b.response_format.type)} is not supported (only "text")`)
  }
  const stop = b.stop === undefined || b.stop === null ? undefined : typeof b.stop === "string" ? [b.stop] : b.stop
  if (stop !== undefined && stop.length > 4) return invalid("stop", "at most 4 stop sequences")
  // The model: an alias, one of the choices, or the gateway's own default ("sluice", or unknown names of OpenAI's own models).
  const asked = b.model
  const model = aliases[asked] ?? (choices.includes(asked) ? asked : undefined)
  if (model === undefined && asked !== "sluice" && asked !== "" && !/^(gpt-|o\d|chatgpt-)/.test(asked)) {
    return invalid("model", `The model ${JSON.stringify(asked)} does not exist; use "sluice", one of ${choices.map((c) => JSON.stringify(c)).join(", ")}${Object.keys(aliases).length > 0 ? ` or an alias (${Object.keys(aliases).join(", ")})` : ""}`)
  }
  const maxTokens = b.max_completion_tokens ?? b.max_tokens ?? undefined
  const request: Conversations.TurnRequest = {
    ...(continuing ? {} : { context: turns.slice(0, -1) }),
    ...(system.length > 0 ? { system: system.join("\n\n") } : {}),
    ...(model !== undefined ? { model } : {}),
    ...(maxTokens !== undefined ? { maxTokens } : {}),
    ...(b.temperature !== undefined && b.temperature !== null ? { temperature: b.temperature } : {}),
    ...(b.top_p !== undefined && b.top_p !== null ? { topP: b.top_p } : {}),
    ...(stop !== undefined ? { stopSequences: stop } : {})
  }
  return { text: last.content, request }
}

const finishReason = (stopReason: string | undefined) => (stopReason === "max_tokens" ? "length" : "stop")
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

const invalidResponse = (e: InvalidRequest) => {
  Metrics.unsafeIncrement(Metrics.errors, { tag: "BadFrame" })
  return HttpServerResponse.unsafeJson(
    { error: { message: e.message, type: "invalid_request_error", param: e.param, code: e.message.startsWith("Unrecognized") ? "unknown_parameter" : "invalid_value" } },
    { status: 400 }
  )
}

/** The body as OpenAI's API reads it: unknown and unsupported parameters first, then each field's type. */
const decodeRequest = (raw: unknown): ChatRequest | InvalidRequest => {
  const keys = checkKeys(raw)
  if (keys !== undefined) return keys
  const decoded = Schema.decodeUnknownEither(ChatRequest, { errors: "first" })(raw)
  if (Either.isRight(decoded)) return decoded.right
  const issue = Protocol.firstIssue(decoded.left)
  const param = issue === undefined || issue.path.length === 0 ? "body" : issue.path.join(".")
  return invalid(param, `${param}: ${issue?.message ?? "invalid"}`)
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
      const b = decodeRequest(raw)
      if (b instanceof InvalidRequest) return invalidResponse(b)
      const given = req.headers["x-sluice-conversation-id"]
      const turn = toTurn(b, given !== undefined, state.options.modelAliases, state.options.models)
      if (turn instanceof InvalidRequest) return invalidResponse(turn)
      const conversationId = given ?? `chatcmpl-${randomUUID()}`
      const accepted = yield* Requests.send(state, who, conversationId, turn.text, { request: turn.request })
      const created = Math.floor(Date.now() / 1000)
      // A new exchange's completion id is its conversation id (the header's); a continued one names its message.
      const id = given === undefined ? conversationId : `chatcmpl-${accepted.messageId}`
      const events = runEvents(state, conversationId, accepted.seq)
      const toDelta = deltas()
      // The model that answered (its stream's name), else the one asked for.
      let final: (ReplyEvent.ReplyEvent & { readonly _tag: "Final" }) | undefined
      const answeredBy = () => final?.model ?? turn.request.model ?? b.model
      const stopIfUnfinished = (finished: () => boolean) =>
        Effect.suspend(() => (finished() ? Effect.void : state.conversations.stop(conversationId).pipe(Effect.ignore, Effect.forkDaemon)))

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
            choices: [{ index: 0, message: { role: "assistant", content: text }, finish_reason: finishReason(final?.stopReason), logprobs: null }],
            usage: usageOf(final?.usage)
          },
          { headers: { "x-sluice-conversation-id": conversationId } }
        )
      }

      const includeUsage = b.stream_options?.include_usage === true
      const chunk = (delta: Record<string, string>, finish: string | null) =>
        `data: ${JSON.stringify({
          id,
          object: "chat.completion.chunk",
          created,
          model: answeredBy(),
          choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }],
          ...(includeUsage ? { usage: null } : {})
        })}\n\n`
      let finished = false
      const body$ = events.pipe(
        Stream.mapConcat((ev): ReadonlyArray<string> => {
          const d = toDelta(ev)
          const out: Array<string> = d === "" ? [] : [chunk({ content: d }, null)]
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
