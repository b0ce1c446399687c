/**
 * Why a model stream failed. Handled by tag; every error is serializable (it crosses the wire
 * as a `ReplyEvent` of type `Error`).
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

export class RateLimited extends Schema.TaggedError<RateLimited>()("RateLimited", {
  message: Schema.String,
  /** What the server asked for (`retry-after`), if it said. */
  retryAfterMs: Schema.optional(Schema.Number)
}) {}

export class Overloaded extends Schema.TaggedError<Overloaded>()("Overloaded", {
  message: Schema.String,
  retryAfterMs: Schema.optional(Schema.Number)
}) {}

export class Internal extends Schema.TaggedError<Internal>()("Internal", {
  message: Schema.String,
  status: Schema.optional(Schema.Number)
}) {}

export class Network extends Schema.TaggedError<Network>()("Network", { message: Schema.String }) {}

export class Timeout extends Schema.TaggedError<Timeout>()("Timeout", {
  message: Schema.String,
  which: Schema.Literal("connect", "firstToken", "idle", "total"),
  afterMs: Schema.Number
}) {}

export class Auth extends Schema.TaggedError<Auth>()("Auth", { message: Schema.String }) {}

export class BadRequest extends Schema.TaggedError<BadRequest>()("BadRequest", {
  message: Schema.String,
  status: Schema.optional(Schema.Number)
}) {}

export const ModelError = Schema.Union(RateLimited, Overloaded, Internal, Network, Timeout, Auth, BadRequest)
export type ModelError = typeof ModelError.Type

/** Errors worth another attempt. */
export const isRetryable = (e: ModelError): boolean =>
  e._tag === "RateLimited" || e._tag === "Overloaded" || e._tag === "Internal" || e._tag === "Network"
