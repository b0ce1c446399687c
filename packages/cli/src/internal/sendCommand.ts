/** `sluice send TEXT|- [--conversation ID] [--json]`: one message (`-`: from stdin), its reply on stdout, failure as exit code. */
import type { ReplyEvent } from "@sluice/core/ReplyEvent"
import { Console, Effect, Stream } from "effect"
import { ReplyFailed, UsageError } from "./errors.js"
import { readStdin } from "./stdin.js"
import * as OpenSession from "./openSession.js"

export interface SendArgs extends OpenSession.SessionArgs {
  readonly text: string
  readonly json: boolean
}

interface Outcome {
  readonly runId: string | undefined
  readonly final: string | undefined
  readonly error: { readonly tag: string; readonly message: string } | undefined
  readonly reason: string | undefined
}

type Step = readonly [Outcome, ReplyEvent | undefined]

const start: Outcome = { runId: undefined, final: undefined, error: undefined, reason: undefined }

/** Follows the log: our UserMessage names the run; only that run's events count, up to its RunEnded. */
const next = (messageId: string) => (o: Outcome, ev: ReplyEvent): Step => {
  if (o.runId === undefined) {
    const mine = ev._tag === "UserMessage" && ev.messageId === messageId
    return [mine ? { ...o, runId: ev.runId } : o, mine ? ev : undefined]
  }
  if (ev.runId !== o.runId) return [o, undefined]
  switch (ev._tag) {
    case "Final":
      return [{ ...o, final: ev.text }, ev]
    case "Rollback":
      return [{ ...o, final: undefined }, ev]
    case "Error":
      return [{ ...o, error: { tag: ev.error.tag, message: ev.error.message } }, ev]
    case "RunEnded":
      return [{ ...o, reason: ev.reason }, ev]
    default:
      return [o, ev]
  }
}

export const send = (args: SendArgs) =>
  Effect.scoped(
    Effect.gen(function* () {
      // `-` reads the message from stdin, as `preview -` does; a blank message is refused before connecting.
      const text = args.text === "-" ? (yield* readStdin).trimEnd() : args.text
      if (text.trim() === "") return yield* Effect.fail(new UsageError({ message: "the message is empty: give TEXT, or '-' with text on stdin" }))
      const session = yield* OpenSession.open(args)
      const accepted = yield* session.send(text)
      // The log from our UserMessage on: it names the run that answers it; follow that run to its end.
      const follow = next(accepted.messageId)
      const outcome = yield* session.events(accepted.seq - 1).pipe(
        Stream.mapAccum(start, (o: Outcome, ev: ReplyEvent): readonly [Outcome, Step] => {
          const step = follow(o, ev)
          return [step[0], step]
        }),
        Stream.takeUntil(([o]) => o.reason !== undefined),
        Stream.tap(([, ev]) => (args.json && ev !== undefined ? Console.log(JSON.stringify(ev)) : Effect.void)),
        Stream.runLast,
        Effect.map((last) => (last._tag === "Some" ? last.value[0] : undefined))
      )
      if (!args.json && outcome?.final !== undefined && outcome.final !== "") yield* Console.log(outcome.final)
      if (outcome?.error !== undefined) return yield* new ReplyFailed(outcome.error)
      if (outcome?.reason === undefined) {
        return yield* new ReplyFailed({ tag: "Incomplete", message: "the event stream ended before the reply did" })
      }
      if (outcome.reason !== "completed") {
        return yield* new ReplyFailed({ tag: "ReplyIncomplete", message: `the reply ended: ${outcome.reason}` })
      }
    })
  )
