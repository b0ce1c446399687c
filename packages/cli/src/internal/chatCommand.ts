/**
 * `sluice chat`: an interactive terminal chat. The history shows first; each reply streams in as
 * blocks, with a spinner and reasoning progress bar while the model works. Ctrl-C stops the
 * current reply (the program keeps running); a second Ctrl-C quits; Ctrl-D on an empty line quits.
 * Without a TTY (stdin piped) it reads one message per line and answers each in turn.
 */
import type { ReplyEvent } from "@sluice/core/ReplyEvent"
import * as readline from "node:readline"
import { Effect, Fiber, Option, Queue, Schedule, Stream } from "effect"
import * as TerminalRenderer from "../TerminalRenderer.js"
import * as OpenSession from "./openSession.js"
import { stdoutColor } from "./plainConsole.js"
import type { Session } from "./session.js"

type Input = { readonly _tag: "Line"; readonly text: string } | { readonly _tag: "Interrupt" } | { readonly _tag: "Eof" }

const HISTORY_SHOWN = 20

export const chat = (args: OpenSession.SessionArgs) =>
  Effect.scoped(
    Effect.gen(function* () {
      const tty = process.stdin.isTTY === true && process.stdout.isTTY === true
      const style: TerminalRenderer.Style = { color: tty && stdoutColor() }
      const session = yield* OpenSession.open(args)
      const inputs = yield* Queue.unbounded<Input>()
      const rl = yield* Effect.acquireRelease(
        Effect.sync(() => {
          const rl = readline.createInterface({ input: process.stdin, output: process.stdout, terminal: tty, prompt: "› " })
          rl.on("line", (text) => Queue.unsafeOffer(inputs, { _tag: "Line", text }))
          rl.on("close", () => Queue.unsafeOffer(inputs, { _tag: "Eof" }))
          if (tty) rl.on("SIGINT", () => Queue.unsafeOffer(inputs, { _tag: "Interrupt" }))
          return rl
        }),
        (rl) => Effect.sync(() => rl.close())
      )
      let spinnerShown = false
      const write = (s: string) =>
        Effect.sync(() => {
          if (s === "") return
          if (spinnerShown) process.stdout.write(TerminalRenderer.clearLine)
          spinnerShown = false
          process.stdout.write(s)
        })

      // header and history
      const offline = session.offline ? TerminalRenderer.dim(" (offline demo model; set ANTHROPIC_API_KEY for Claude)", style) : ""
      yield* write(
        `${TerminalRenderer.bold("sluice chat", style)} · conversation ${session.conversationId} · ${session.model}${offline}\n` +
          TerminalRenderer.dim(
            tty ? "Enter sends · Ctrl-C stops a reply, twice quits · Ctrl-D quits\n\n" : "one message per line\n\n",
            style
          )
      )
      const history = yield* session.history
      if (history.length > HISTORY_SHOWN) {
        yield* write(TerminalRenderer.dim(`(${history.length - HISTORY_SHOWN} earlier messages)\n\n`, style))
      }
      if (history.length > 0) yield* write(`${TerminalRenderer.history(history.slice(-HISTORY_SHOWN), style)}\n`)

      if (session.status !== undefined) {
        yield* session.status.pipe(
          Stream.runForEach((s) =>
            write(
              TerminalRenderer.yellow(s === "reconnecting" ? "(connection lost — reconnecting…)\n" : "(reconnected; resuming)\n", style)
            )
          ),
          Effect.forkScoped
        )
      }

      let armed = false // a Ctrl-C was pressed: the next one quits
      const pending: Array<Input> = []
      const nextInput = Effect.suspend(() => {
        const p = pending.shift()
        return p !== undefined ? Effect.succeed(p) : Queue.take(inputs)
      })
      const prompt = Effect.sync(() => {
        if (tty) rl.prompt()
      })

      yield* prompt
      while (true) {
        const input = yield* nextInput
        if (input._tag === "Eof") break
        if (input._tag === "Interrupt") {
          if (armed) break
          armed = true
          yield* write(`\n${TerminalRenderer.dim("(press Ctrl-C again to quit)", style)}\n`)
          yield* prompt
          continue
        }
        const text = input.text.trim()
        armed = false
        if (text === "") {
          yield* prompt
          continue
        }
        const ended = yield* reply(session, text, style, tty, write, inputs, pending, (shown) => {
          spinnerShown = shown
        })
        if (ended === "quit") break
        // A reply stopped by Ctrl-C said "Ctrl-C again quits": the next one does, at the prompt too.
        armed = ended === "stopped"
        yield* prompt
      }
      yield* write("\n")
    })
  )

/** Sends one message and renders its run until it ends; handles Ctrl-C while it runs. */
const reply = (
  session: Session,
  text: string,
  style: TerminalRenderer.Style,
  tty: boolean,
  write: (s: string) => Effect.Effect<void>,
  inputs: Queue.Queue<Input>,
  pending: Array<Input>,
  setSpinner: (shown: boolean) => void
): Effect.Effect<"done" | "stopped" | "quit"> =>
  Effect.gen(function* () {
    const accepted = yield* session.send(text).pipe(Effect.either)
    if (accepted._tag === "Left") {
      yield* write(TerminalRenderer.red(`⚠ ${accepted.left._tag}: ${accepted.left.message}\n\n`, style))
      return "done" as const
    }
    let state = TerminalRenderer.initial
    let tick = 0
    let runId: string | undefined
    const render = session.events(accepted.right.seq - 1).pipe(
      Stream.filter((ev: ReplyEvent) => {
        if (runId === undefined) {
          if (ev._tag === "UserMessage" && ev.messageId === accepted.right.messageId) runId = ev.runId
          return false
        }
        return ev.runId === runId
      }),
      Stream.takeUntil((ev) => ev._tag === "RunEnded"),
      Stream.runForEach((ev) => {
        const [next, out] = TerminalRenderer.onEvent(state, ev, style)
        state = next
        return write(out)
      }),
      Effect.catchAll((e) => write(TerminalRenderer.red(`⚠ ${e._tag}: ${e.message}\n\n`, style))),
      Effect.asVoid
    )
    const spin = Effect.sync(() => {
      process.stdout.write(TerminalRenderer.spinner(tick++, state.progress, style))
      setSpinner(true)
    }).pipe(Effect.repeat(Schedule.spaced("100 millis")))
    const spinner = tty ? yield* Effect.fork(Effect.delay(spin, "150 millis")) : undefined
    const renderer = yield* Effect.fork(render)
    let stopping = false
    // wait for the run to end, or for Ctrl-C
    while (true) {
      const winner = yield* Effect.raceFirst(
        Fiber.join(renderer).pipe(Effect.as(Option.none<Input>())),
        Queue.take(inputs).pipe(Effect.map(Option.some))
      )
      if (Option.isNone(winner)) break
      const input = winner.value
      if (input._tag !== "Interrupt") {
        pending.push(input) // typed (or stdin ended) while the reply streams: handled after it
        continue
      }
      if (stopping) {
        if (spinner !== undefined) yield* Fiber.interrupt(spinner)
        yield* Fiber.interrupt(renderer)
        yield* session.stop.pipe(Effect.ignore)
        return "quit" as const
      }
      stopping = true
      yield* write(`${TerminalRenderer.dim("(stopping the reply — Ctrl-C again quits)", style)}\n`)
      yield* session.stop.pipe(Effect.ignore, Effect.fork)
    }
    if (spinner !== undefined) yield* Fiber.interrupt(spinner)
    yield* write("") // clears the spinner line if it is showing
    return stopping ? ("stopped" as const) : ("done" as const)
  })
