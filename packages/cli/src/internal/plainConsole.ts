/**
 * A Console that drops ANSI styling when the stream it writes to is not a terminal (or NO_COLOR
 * is set), so help and errors piped into files or other programs are plain text.
 */
import { type Console, Effect } from "effect"

// biome-ignore lint/suspicious/noControlCharactersInRegex: matching ANSI escapes is the point
const ansi = /\u001b\[[0-9;]*[A-Za-z]/g

export const stripAnsi = (s: string): string => s.replace(ansi, "")

const colorOn = (stream: NodeJS.WriteStream): boolean =>
  process.env.NO_COLOR === undefined && process.env.FORCE_COLOR !== "0" && (stream.isTTY === true || process.env.FORCE_COLOR !== undefined)

const plainArgs = (args: ReadonlyArray<unknown>) => args.map((a) => (typeof a === "string" ? stripAnsi(a) : a))

export const stdoutColor = (): boolean => colorOn(process.stdout)
export const stderrColor = (): boolean => colorOn(process.stderr)

export const wrap = (base: Console.Console): Console.Console => {
  const out = stdoutColor()
  const err = stderrColor()
  if (out && err) return base
  const log = (...args: ReadonlyArray<unknown>) => base.log(...(out ? args : plainArgs(args)))
  const error = (...args: ReadonlyArray<unknown>) => base.error(...(err ? args : plainArgs(args)))
  return {
    ...base,
    log,
    info: log,
    error,
    warn: error,
    unsafe: {
      ...base.unsafe,
      log: (...args: ReadonlyArray<unknown>) => base.unsafe.log(...(out ? args : plainArgs(args))),
      error: (...args: ReadonlyArray<unknown>) => base.unsafe.error(...(err ? args : plainArgs(args)))
    }
  }
}

export const withPlainConsole = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.flatMap(Effect.console, (base) => Effect.withConsole(self, wrap(base)))
