/**
 * Entry point of the `sluice` binary (run through bin/sluice.js, or `node --import tsx`).
 * SIGINT/SIGTERM interrupt the command (its finalizers run), then the process exits with 130/143.
 */
import { Effect, Fiber, RuntimeFlags, RuntimeFlagsPatch } from "effect"
import * as Cli from "./Cli.js"
import * as ExitCode from "./ExitCode.js"

// The reader went away (`sluice send … | head -1`): stop quietly, as a Unix tool does.
process.stdout.on("error", (e: NodeJS.ErrnoException) => {
  if (e.code === "EPIPE") process.exit(0)
  throw e
})

// SLUICE_FIBER_METRICS=1: Effect counts its fibers (effect_fiber_active, _started, _successes,
// _failures on /metrics), at a small cost per fiber: for finding a leak, off by default.
const withFiberMetrics = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  process.env.SLUICE_FIBER_METRICS === "1" ? Effect.withRuntimeFlagsPatch(effect, RuntimeFlagsPatch.enable(RuntimeFlags.RuntimeMetrics)) : effect

const fiber = Effect.runFork(withFiberMetrics(Cli.runNode(process.argv.slice(2))))

let signalled: number | undefined
const onSignal = (code: number) => () => {
  if (signalled !== undefined) process.exit(signalled) // a second signal: stop waiting for finalizers
  signalled = code
  Effect.runFork(Fiber.interrupt(fiber))
}
const onInt = onSignal(ExitCode.Interrupted)
const onTerm = onSignal(ExitCode.Terminated)
process.on("SIGINT", onInt)
process.on("SIGTERM", onTerm)
// keep the process alive while the command runs (it may wait on nothing but a timer or a signal)
const keepAlive = setInterval(() => {}, 2 ** 31 - 1)

fiber.addObserver((exit) => {
  clearInterval(keepAlive)
  process.off("SIGINT", onInt)
  process.off("SIGTERM", onTerm)
  const code = signalled ?? (exit._tag === "Success" ? exit.value : ExitCode.Failure)
  process.exitCode = code
  // flush stdout/stderr before leaving; don't wait for handles a library may have leaked
  process.stdout.write("", () => process.stderr.write("", () => process.exit(code)))
})
