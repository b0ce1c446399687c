/**
 * Turns how a command ended into an exit code and one clear message for stderr — never a stack
 * trace (set SLUICE_DEBUG=1 to see the full cause of an unexpected defect).
 */
import { ValidationError } from "@effect/cli"
import { Cause, Option } from "effect"
import * as ExitCode from "../ExitCode.js"

export interface Report {
  readonly code: number
  /** What to print on stderr, if anything (usage errors were printed by @effect/cli already). */
  readonly message: string | undefined
}

const tagOf = (e: unknown): string | undefined =>
  typeof e === "object" && e !== null && "_tag" in e && typeof e._tag === "string" ? e._tag : undefined

const messageOf = (e: unknown): string => {
  if (typeof e === "object" && e !== null && "message" in e && typeof e.message === "string" && e.message !== "") {
    return e.message
  }
  if (e instanceof Error) return e.message || e.name
  try {
    return typeof e === "string" ? e : JSON.stringify(e)
  } catch {
    return String(e)
  }
}

/** Error tags of a bad configuration file (core's Config errors and Schema parse errors of it). */
const configTags = new Set(["ConfigInvalid", "InvalidConfig", "ConfigError", "ConfigDecodeError", "ConfigNotFound"])

export const codeForTag = (tag: string | undefined): number => {
  if (tag === undefined) return ExitCode.Failure
  if (configTags.has(tag) || /^Config[A-Z]/.test(tag)) return ExitCode.InvalidConfig
  if (tag === "UsageError" || tag === "InvalidPort" || tag === "InvalidClusterOptions") return ExitCode.Usage
  if (tag === "RemoteUnavailable" || tag === "Unauthorized" || tag === "AuthFailed") return ExitCode.Unavailable
  return ExitCode.Failure
}

/** One line (or a few, for key-path lists) naming what went wrong. */
export const describeError = (e: unknown): string => {
  const tag = tagOf(e)
  if (tag === "ReplyFailed" && typeof e === "object" && e !== null && "tag" in e) {
    return `${String(e.tag)}: ${messageOf(e)}`
  }
  const message = messageOf(e)
  if (tag === "UsageError" || tag === "InputError") return message
  return tag === undefined || message.startsWith(tag) ? message : `${tag}: ${message}`
}

export const fromCause = (cause: Cause.Cause<unknown>): Report => {
  if (Cause.isInterruptedOnly(cause)) return { code: ExitCode.Interrupted, message: undefined }
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure)) {
    const e = failure.value
    if (ValidationError.isValidationError(e)) return { code: ExitCode.Usage, message: undefined }
    const tag = tagOf(e)
    return { code: codeForTag(tag), message: describeError(e) }
  }
  const defect = Cause.dieOption(cause)
  if (Option.isSome(defect)) {
    const detail = process.env.SLUICE_DEBUG ? `\n${Cause.pretty(cause)}` : " (set SLUICE_DEBUG=1 for details)"
    return { code: ExitCode.Failure, message: `internal error: ${messageOf(defect.value)}${detail}` }
  }
  return { code: ExitCode.Failure, message: Cause.pretty(cause).split("\n")[0] }
}
