/**
 * The gateway wire protocol (WebSocket frames), versioned. The SSE endpoint carries the same
 * `ReplyEvent`s. Documented with examples in `docs/protocol.md`.
 *
 * Client frames are JSON text frames or MessagePack binary frames (either, at any time). Server
 * frames use the encoding the client chose in its `hello`.
 *
 * @since 0.1.0
 */
import { Either, ParseResult, Schema } from "effect"
import { QueueMode } from "./Conversation.js"
import { ReplyEvent } from "./ReplyEvent.js"

/** The protocol version this code speaks. A `hello` with another version is refused (close 4005). */
export const VERSION = 1

export const Encoding = Schema.Literal("json", "msgpack")
export type Encoding = typeof Encoding.Type

export const Compression = Schema.Literal("none", "permessage-deflate")
export type Compression = typeof Compression.Type

const RequestId = Schema.Union(Schema.String, Schema.Number)
/** What an id must be, said the same way on every transport (the REST path check uses it too). */
export const ID_RULE = "must be 1–200 characters"
const Id = Schema.String.pipe(Schema.minLength(1), Schema.maxLength(200)).annotations({
  message: (issue) => `${ID_RULE}${typeof issue.actual === "string" ? ` (got ${issue.actual.length})` : ""}`
})
const ConversationId = Id
/** A client's idempotency key for a send: a retry with the same key returns the first acceptance. */
export const ClientMessageId = Id

// ---------------------------------------------------------------------------------------------
// client → server
// ---------------------------------------------------------------------------------------------

/** First frame of every connection. */
export const Hello = Schema.Struct({
  type: Schema.Literal("hello"),
  protocol: Schema.Int,
  /** Bearer token; may be omitted when the gateway has no tokens (loopback, one local principal). */
  token: Schema.optional(Schema.String),
  encoding: Schema.optional(Encoding),
  /** What the client wants; deflate can only be negotiated at upgrade (`?compression=permessage-deflate`). */
  compression: Schema.optional(Compression)
})
export type Hello = typeof Hello.Type

export const Send = Schema.Struct({
  type: Schema.Literal("send"),
  id: RequestId,
  conversationId: ConversationId,
  text: Schema.String.pipe(Schema.minLength(1)),
  queueMode: Schema.optional(QueueMode),
  clientMessageId: Schema.optional(ClientMessageId)
})
export const Stop = Schema.Struct({
  type: Schema.Literal("stop"),
  id: RequestId,
  conversationId: ConversationId,
  runId: Schema.optional(Schema.String)
})
export const Subscribe = Schema.Struct({
  type: Schema.Literal("subscribe"),
  id: RequestId,
  conversationId: ConversationId,
  /** Last seq the client has; every event with a greater seq follows, exactly once. 0 = all. */
  fromSeq: Schema.optionalWith(Schema.NonNegativeInt, { default: () => 0 })
})
export const Unsubscribe = Schema.Struct({
  type: Schema.Literal("unsubscribe"),
  id: RequestId,
  conversationId: ConversationId
})
export const History = Schema.Struct({
  type: Schema.Literal("history"),
  id: RequestId,
  conversationId: ConversationId
})
export const List = Schema.Struct({ type: Schema.Literal("list"), id: RequestId })

/** Fields a conversation's owner can change (`Conversations.update`); "" clears system and model. */
export const ConversationPatch = Schema.Struct({
  title: Schema.optional(Schema.String.pipe(Schema.maxLength(200))),
  system: Schema.optional(Schema.String.pipe(Schema.maxLength(20_000))),
  /** One of the welcome's `model.choices`, or "" for the default. */
  model: Schema.optional(Schema.String.pipe(Schema.maxLength(200)))
})
export const Update = Schema.Struct({
  type: Schema.Literal("update"),
  id: RequestId,
  conversationId: ConversationId,
  ...ConversationPatch.fields
})
export const Delete = Schema.Struct({ type: Schema.Literal("delete"), id: RequestId, conversationId: ConversationId })
/** Answer the last user message(s) again; the last reply is superseded (a `Rewound` event). */
export const Regenerate = Schema.Struct({ type: Schema.Literal("regenerate"), id: RequestId, conversationId: ConversationId })
/** Replace a user message and answer it; it and everything after it are superseded. */
export const Edit = Schema.Struct({
  type: Schema.Literal("edit"),
  id: RequestId,
  conversationId: ConversationId,
  messageId: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(200)),
  text: Schema.String.pipe(Schema.minLength(1))
})
export const ExportFormat = Schema.Literal("markdown", "json")
export type ExportFormat = typeof ExportFormat.Type
/** The conversation as a file: answered with `{ filename, contentType, body }`. */
export const Export = Schema.Struct({
  type: Schema.Literal("export"),
  id: RequestId,
  conversationId: ConversationId,
  format: Schema.optionalWith(ExportFormat, { default: () => "markdown" as const })
})
/** Application-level ping for clients that cannot see protocol pings; answered with `{ now }`. */
export const Ping = Schema.Struct({ type: Schema.Literal("ping"), id: RequestId })

export const Request = Schema.Union(
  Send,
  Stop,
  Subscribe,
  Unsubscribe,
  History,
  List,
  Ping,
  Update,
  Delete,
  Regenerate,
  Edit,
  Export
)
export type Request = typeof Request.Type
export type Method = Request["type"]

export const ClientFrame = Schema.Union(Hello, Request)
export type ClientFrame = typeof ClientFrame.Type

// ---------------------------------------------------------------------------------------------
// server → client
// ---------------------------------------------------------------------------------------------

export const ErrorCode = Schema.Literal(
  "BadJson", // the frame is not JSON / MessagePack
  "BadFrame", // valid JSON, not a valid frame (the message names the field)
  "HandshakeRequired", // a request before `hello`
  "UnsupportedProtocol",
  "Unauthorized",
  "Forbidden", // the conversation belongs to another principal
  "NotFound",
  "MethodNotAllowed", // HTTP: the path is served with other methods (see the Allow header)
  "Conflict", // a run is going: regenerate / edit wait until it ends (or stop it)
  "RateLimited",
  "TooManyRuns",
  "MailboxFull",
  "PayloadTooLarge",
  "ShuttingDown",
  "Internal"
)
export type ErrorCode = typeof ErrorCode.Type

export const ErrorBody = Schema.Struct({
  code: ErrorCode,
  message: Schema.String,
  retryAfterMs: Schema.optional(Schema.Number)
})
export type ErrorBody = typeof ErrorBody.Type

export const Welcome = Schema.Struct({
  type: Schema.Literal("welcome"),
  protocol: Schema.Int,
  connectionId: Schema.String,
  principal: Schema.String,
  encoding: Encoding,
  compression: Compression,
  model: Schema.Struct({
    name: Schema.String,
    offline: Schema.Boolean,
    /** The models a conversation can be set to (`update.model`). */
    choices: Schema.optional(Schema.Array(Schema.String))
  }),
  limits: Schema.Struct({
    maxFrameBytes: Schema.Int,
    messagesPerSecond: Schema.Number,
    heartbeatMs: Schema.Int
  })
})
export type Welcome = typeof Welcome.Type

export const Response = Schema.Union(
  Schema.Struct({ type: Schema.Literal("res"), id: RequestId, ok: Schema.Literal(true), result: Schema.Unknown }),
  Schema.Struct({ type: Schema.Literal("res"), id: RequestId, ok: Schema.Literal(false), error: ErrorBody })
)
export type Response = typeof Response.Type

export const EventFrame = Schema.Struct({ type: Schema.Literal("event"), event: ReplyEvent })
/** Several events in one frame, in seq order: sent when the client falls behind. */
export const BatchFrame = Schema.Struct({ type: Schema.Literal("batch"), events: Schema.Array(ReplyEvent) })
/** A subscribed conversation was deleted: no more events come for it; the subscription is gone. */
export const EndedFrame = Schema.Struct({
  type: Schema.Literal("ended"),
  conversationId: Schema.String,
  reason: Schema.Literal("deleted")
})
/** A problem with a frame that had no usable id; the connection stays up. */
export const ErrorFrame = Schema.Struct({ type: Schema.Literal("error"), error: ErrorBody })

export const ServerFrame = Schema.Union(Welcome, Response, EventFrame, BatchFrame, EndedFrame, ErrorFrame)
export type ServerFrame = typeof ServerFrame.Type

/** WebSocket close codes the gateway uses. */
export const CloseCode = {
  Normal: 1000,
  GoingAway: 1001, // server shutting down
  TooBig: 1009, // a frame over `maxFrameBytes`
  Internal: 1011,
  BadHandshake: 4000, // first frame was not a valid `hello`, or none came in time
  Unauthorized: 4001,
  UnsupportedProtocol: 4005,
  TooSlow: 4008 // the client could not keep up even with batching
} as const

// ---------------------------------------------------------------------------------------------
// decoding
// ---------------------------------------------------------------------------------------------

const decodeFrame = Schema.decodeUnknownEither(ClientFrame, { errors: "first", onExcessProperty: "ignore" })

/** Decodes a parsed client frame; the error names the offending field. */
export const decodeClientFrame = (u: unknown): Either.Either<ClientFrame, ErrorBody> =>
  Either.mapLeft(decodeFrame(u), (e) => ({ code: "BadFrame" as const, message: describe(u, e) }))

/**
 * What a user reads of a Schema decode failure: the first issue's path and message, with Schema's
 * own names for a shape (`Struct (Encoded side)`, `readonly [...]`, `A <-> B`) said plainly, and the
 * echoed input cut short (an answer never repeats a large input back).
 * @since 0.2.0
 */
export const firstIssue = (e: ParseResult.ParseError): { readonly path: ReadonlyArray<PropertyKey>; readonly message: string } | undefined => {
  const issue = ParseResult.ArrayFormatter.formatErrorSync(e)[0]
  return issue === undefined ? undefined : { path: issue.path, message: plainMessage(issue.message) }
}

const cut = (s: string, n: number) => (s.length > n ? `${s.slice(0, n)}…` : s)
const shape = (expected: string) =>
  /^\(?Struct\b|^\{/.test(expected) ? "an object" : /^\(?(readonly )?\[|^ReadonlyArray|^Array/.test(expected) ? "an array" : /<->|Encoded side|Type side/.test(expected) ? "another shape" : cut(expected, 120)

/** `Expected <schema>, actual <input>` with the schema said plainly and the input cut short; other messages cut at 300. */
export const plainMessage = (message: string): string => {
  const m = /^Expected ([\s\S]*), actual ([\s\S]*)$/.exec(message)
  return m === null ? cut(message, 300) : `Expected ${shape(m[1]!)}, actual ${cut(m[2]!, 60)}`
}

const describe = (u: unknown, e: ParseResult.ParseError): string => {
  const issues = ParseResult.ArrayFormatter.formatErrorSync(e).map((i) => ({ ...i, message: plainMessage(i.message) }))
  const type = typeof u === "object" && u !== null && "type" in u ? String((u as { type: unknown }).type) : undefined
  if (type === undefined) return "frame has no \"type\" field"
  const first = issues.find((i) => i.path.length > 0 && i.path[0] !== "type") ?? issues[0]
  if (first === undefined) return "invalid frame"
  if (first.path.length === 0 || first.path[0] === "type") return `unknown frame type ${JSON.stringify(type)}`
  return `${type}.${first.path.join(".")}: ${first.message}`
}
