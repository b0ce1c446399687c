/**
 * An OpenAI chat completions request, read as the OpenAI API reads it, and turned into a turn:
 * system and developer messages become the system prompt; user, assistant and tool messages real
 * turns (images as image blocks, an assistant's `tool_calls` as tool calls, `tool` messages as
 * tool results in the user turn after them); `tools` / `tool_choice` / `parallel_tool_calls` the
 * model's tools; sampling parameters go to the model. What it cannot honour is a 400 naming the
 * parameter, never silently ignored; names the API does not know are refused as it refuses them.
 */
import type { Conversations, Model } from "@sluice/core"
import * as Protocol from "@sluice/core/Protocol"
import { Either, Schema } from "effect"

const TextPart = Schema.Struct({ type: Schema.Literal("text"), text: Schema.String })
const ImageUrlPart = Schema.Struct({
  type: Schema.Literal("image_url"),
  image_url: Schema.Struct({ url: Schema.String, detail: Schema.optional(Schema.String) })
})
const Content = Schema.Union(Schema.String, Schema.Array(Schema.Union(TextPart, ImageUrlPart, Schema.Struct({ type: Schema.String }))))
const ToolCall = Schema.Struct({
  id: Schema.String,
  type: Schema.optional(Schema.Literal("function")),
  function: Schema.Struct({ name: Schema.String, arguments: Schema.String })
})
const Message = Schema.Struct({
  role: Schema.String,
  content: Schema.optionalWith(Schema.NullOr(Content), { default: () => null }),
  name: Schema.optional(Schema.String),
  tool_calls: Schema.optional(Schema.NullOr(Schema.Array(ToolCall))),
  tool_call_id: Schema.optional(Schema.String)
})
const FunctionTool = Schema.Struct({
  type: Schema.Literal("function"),
  function: Schema.Struct({
    name: Schema.String,
    description: Schema.optional(Schema.String),
    parameters: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.Unknown })),
    strict: Schema.optional(Schema.NullOr(Schema.Boolean))
  })
})
const ToolChoice = Schema.Union(
  Schema.Literal("none", "auto", "required"),
  Schema.Struct({ type: Schema.Literal("function"), function: Schema.Struct({ name: Schema.String }) })
)
export const ChatRequest = Schema.Struct({
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
  user: Schema.optional(Schema.NullOr(Schema.String)),
  tools: Schema.optional(Schema.NullOr(Schema.Array(FunctionTool))),
  tool_choice: Schema.optional(Schema.NullOr(ToolChoice)),
  parallel_tool_calls: Schema.optional(Schema.NullOr(Schema.Boolean))
})
export type ChatRequest = typeof ChatRequest.Type

/** OpenAI parameters this gateway knows but cannot honour: answered 400, naming the parameter. */
const UNSUPPORTED = [
  "functions",
  "function_call",
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

export class InvalidRequest {
  constructor(
    readonly param: string,
    readonly message: string
  ) {}
}
const invalid = (param: string, message: string) => new InvalidRequest(param, message)

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

/** The body as OpenAI's API reads it: unknown and unsupported parameters first, then each field's type. */
export const decode = (raw: unknown): ChatRequest | InvalidRequest => {
  const keys = checkKeys(raw)
  if (keys !== undefined) return keys
  const decoded = Schema.decodeUnknownEither(ChatRequest, { errors: "first" })(raw)
  if (Either.isRight(decoded)) return decoded.right
  const issue = Protocol.firstIssue(decoded.left)
  const param = issue === undefined || issue.path.length === 0 ? "body" : issue.path.join(".")
  return invalid(param, `${param}: ${issue?.message ?? "invalid"}`)
}

const IMAGE_TYPES = ["image/png", "image/jpeg", "image/gif", "image/webp"]
const DATA_URL = /^data:([^;,]+);base64,([A-Za-z0-9+/]+={0,2})$/
const TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/

export interface Options {
  readonly aliases: Readonly<Record<string, string>>
  readonly choices: ReadonlyArray<string>
  /** http(s) image URLs go to the model (which fetches them); otherwise only data URLs are taken. */
  readonly imageUrls: boolean
}

interface TurnOf {
  readonly role: "user" | "assistant"
  readonly content: string
  readonly parts?: ReadonlyArray<Model.Part>
}

/** A message's content as text and, with images, as blocks. */
const contentOf = (c: typeof Content.Type | null, at: string, o: Options): { text: string; parts: Array<Model.Part> | undefined } | InvalidRequest => {
  if (c === null) return { text: "", parts: undefined }
  if (typeof c === "string") return { text: c, parts: undefined }
  let text = ""
  const parts: Array<Model.Part> = []
  let images = false
  for (const [i, p] of c.entries()) {
    if (p.type === "text") {
      const t = (p as typeof TextPart.Type).text
      text += t
      if (t !== "") parts.push({ _tag: "Text", text: t })
    } else if (p.type === "image_url" && "image_url" in p) {
      const url = (p as typeof ImageUrlPart.Type).image_url.url
      const param = `${at}.content.${i}.image_url.url`
      const data = DATA_URL.exec(url)
      if (data !== null) {
        if (!IMAGE_TYPES.includes(data[1]!)) return invalid(param, `image type ${JSON.stringify(data[1])} is not supported (${IMAGE_TYPES.join(", ")})`)
        parts.push({ _tag: "Image", source: { type: "base64", mediaType: data[1]!, data: data[2]! } })
      } else if (/^https?:\/\//i.test(url)) {
        if (!o.imageUrls) return invalid(param, "image URLs are not fetched by this gateway: send the image as a data: URL (base64), or set model.imageUrls to true")
        parts.push({ _tag: "Image", source: { type: "url", url } })
      } else return invalid(param, "expected a data: URL (data:image/png;base64,…) or an http(s) URL")
      images = true
    } else return invalid(`${at}.content.${i}.type`, `content part type ${JSON.stringify(p.type)} is not supported (only "text" and "image_url")`)
  }
  return { text, parts: images ? parts : undefined }
}

/** An assistant message's tool calls as tool-use blocks (after its text). */
const toolCallsOf = (calls: ReadonlyArray<typeof ToolCall.Type>, text: string, at: string): Array<Model.Part> | InvalidRequest => {
  const parts: Array<Model.Part> = text === "" ? [] : [{ _tag: "Text", text }]
  for (const [k, call] of calls.entries()) {
    let input: unknown
    try {
      input = JSON.parse(call.function.arguments === "" ? "{}" : call.function.arguments)
    } catch {
      return invalid(`${at}.tool_calls.${k}.function.arguments`, "arguments must be JSON text of an object")
    }
    if (input === null || typeof input !== "object" || Array.isArray(input)) {
      return invalid(`${at}.tool_calls.${k}.function.arguments`, "arguments must be JSON text of an object")
    }
    parts.push({ _tag: "ToolUse", id: call.id, name: call.function.name, input })
  }
  return parts
}

const toolsOf = (b: ChatRequest): Pick<Conversations.TurnRequest, "tools" | "toolChoice"> | InvalidRequest => {
  const tools = b.tools ?? []
  const choice = b.tool_choice ?? undefined
  if (tools.length === 0) {
    if (choice !== undefined && choice !== "none") return invalid("tool_choice", "'tool_choice' is only allowed when 'tools' are specified")
    return {}
  }
  const defs: Array<Model.Tool> = []
  for (const [i, t] of tools.entries()) {
    const f = t.function
    if (!TOOL_NAME.test(f.name)) return invalid(`tools.${i}.function.name`, "a function name is 1–64 letters, digits, _ or -")
    const schema = f.parameters ?? { type: "object", properties: {} }
    if (schema.type !== "object") return invalid(`tools.${i}.function.parameters`, 'parameters must be a JSON Schema of type "object"')
    defs.push({ name: f.name, ...(f.description !== undefined ? { description: f.description } : {}), inputSchema: schema })
  }
  const disableParallel = b.parallel_tool_calls === false ? { disableParallel: true } : {}
  let toolChoice: Model.ToolChoice | undefined
  if (choice === "none") toolChoice = { _tag: "None" }
  else if (choice === "required") toolChoice = { _tag: "Any", ...disableParallel }
  else if (typeof choice === "object") {
    if (!defs.some((d) => d.name === choice.function.name)) return invalid("tool_choice", `tool_choice names ${JSON.stringify(choice.function.name)}, which is not in tools`)
    toolChoice = { _tag: "Tool", name: choice.function.name, ...disableParallel }
  } else if (b.parallel_tool_calls === false) toolChoice = { _tag: "Auto", disableParallel: true }
  return { tools: defs, ...(toolChoice !== undefined ? { toolChoice } : {}) }
}

/**
 * The request as a turn: the last turn (a user message, or the results of the tool calls before
 * it) is the one sent, the ones before it are its context. `continuing`: the conversation has the
 * history, so only the last message is sent, and tool use (which needs the whole exchange) is refused.
 */
export const toTurn = (b: ChatRequest, continuing: boolean, o: Options): { text: string; request: Conversations.TurnRequest } | InvalidRequest => {
  const system: Array<string> = []
  const turns: Array<TurnOf> = []
  let toolMessages = false
  for (const [i, m] of b.messages.entries()) {
    const at = `messages.${i}`
    const content = contentOf(m.content, at, o)
    if (content instanceof InvalidRequest) return content
    if (m.role === "system" || m.role === "developer") {
      if (content.parts !== undefined) return invalid(`${at}.content`, `${m.role} messages take text only`)
      system.push(content.text)
    } else if (m.role === "user") {
      turns.push({ role: "user", content: content.text, ...(content.parts !== undefined ? { parts: content.parts } : {}) })
    } else if (m.role === "assistant") {
      const calls = m.tool_calls ?? []
      if (calls.length === 0) turns.push({ role: "assistant", content: content.text })
      else {
        const parts = toolCallsOf(calls, content.text, at)
        if (parts instanceof InvalidRequest) return parts
        const names = calls.map((c) => c.function.name).join(", ")
        turns.push({ role: "assistant", content: content.text === "" ? `(calls ${names})` : content.text, parts })
      }
    } else if (m.role === "tool") {
      if (m.tool_call_id === undefined || m.tool_call_id === "") return invalid(`${at}.tool_call_id`, "a tool message needs the tool_call_id it answers")
      toolMessages = true
      turns.push({
        role: "user",
        content: `(result of ${m.tool_call_id}) ${content.text}`,
        parts: [{ _tag: "ToolResult", toolUseId: m.tool_call_id, content: content.text }]
      })
    } else if (m.role === "function") return invalid(`${at}.role`, 'role "function" is deprecated: use tools and role "tool"')
    else return invalid(`${at}.role`, `role must be one of "system", "developer", "user", "assistant", "tool"; got ${JSON.stringify(m.role)}`)
  }
  const last = turns[turns.length - 1]
  if (last === undefined || last.role !== "user") return invalid("messages", "the last message (after system messages) must be a user or tool message")
  const tools = toolsOf(b)
  if (tools instanceof InvalidRequest) return tools
  if (continuing && (toolMessages || tools.tools !== undefined)) {
    return invalid("messages", "tool use needs the whole exchange in each request: send it without x-sluice-conversation-id")
  }
  if (tools.tools === undefined && turns.some((t) => t.parts?.some((p) => p._tag === "ToolUse" || p._tag === "ToolResult"))) {
    return invalid("tools", "messages with tool calls or tool results need the tools they used in `tools`")
  }
  if (b.n !== undefined && b.n !== null && b.n !== 1) return invalid("n", "n must be 1: this gateway returns one choice")
  if (b.response_format && b.response_format.type !== "text") {
    return invalid("response_format", `response_format ${JSON.stringify(b.response_format.type)} is not supported (only "text")`)
  }
  const stop = b.stop === undefined || b.stop === null ? undefined : typeof b.stop === "string" ? [b.stop] : b.stop
  if (stop !== undefined && stop.length > 4) return invalid("stop", "at most 4 stop sequences")
  // The model: an alias, one of the choices, or the gateway's own default ("sluice", or unknown names of OpenAI's own models).
  const asked = b.model
  const model = o.aliases[asked] ?? (o.choices.includes(asked) ? asked : undefined)
  if (model === undefined && asked !== "sluice" && asked !== "" && !/^(gpt-|o\d|chatgpt-)/.test(asked)) {
    return invalid(
      "model",
      `The model ${JSON.stringify(asked)} does not exist; use "sluice", one of ${o.choices.map((c) => JSON.stringify(c)).join(", ")}${Object.keys(o.aliases).length > 0 ? ` or an alias (${Object.keys(o.aliases).join(", ")})` : ""}`
    )
  }
  const maxTokens = b.max_completion_tokens ?? b.max_tokens ?? undefined
  const request: Conversations.TurnRequest = {
    ...(continuing ? {} : { context: turns.slice(0, -1) }),
    ...(last.parts !== undefined ? { parts: last.parts } : {}),
    ...tools,
    ...(system.length > 0 ? { system: system.join("\n\n") } : {}),
    ...(model !== undefined ? { model } : {}),
    ...(maxTokens !== undefined ? { maxTokens } : {}),
    ...(b.temperature !== undefined && b.temperature !== null ? { temperature: b.temperature } : {}),
    ...(b.top_p !== undefined && b.top_p !== null ? { topP: b.top_p } : {}),
    ...(stop !== undefined ? { stopSequences: stop } : {})
  }
  // History keeps the sent message as text; an image-only message is named as such (a blank one is refused by the send).
  const text = last.content.trim() === "" && last.parts !== undefined ? "(image)" : last.content
  return { text, request }
}
