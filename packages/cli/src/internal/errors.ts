import { Schema } from "effect"

/** Input the command could not read (a missing file, stdin that is a TTY with nothing piped). */
export class InputError extends Schema.TaggedError<InputError>()("InputError", {
  message: Schema.String
}) {}

/** The gateway (`--remote`) could not be reached, or refused us. */
export class RemoteUnavailable extends Schema.TaggedError<RemoteUnavailable>()("RemoteUnavailable", {
  message: Schema.String
}) {}

/** A reply ended in failure: the error event's tag and message. */
export class ReplyFailed extends Schema.TaggedError<ReplyFailed>()("ReplyFailed", {
  tag: Schema.String,
  message: Schema.String
}) {}

/** A command line that parses but cannot work (nothing to act on). Exit code 2, like parse errors. */
export class UsageError extends Schema.TaggedError<UsageError>()("UsageError", {
  message: Schema.String
}) {}
