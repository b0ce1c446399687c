/** Reading all of stdin (for `-` arguments). */
import { Effect } from "effect"
import { InputError } from "./errors.js"

export const readStdin: Effect.Effect<string, InputError> = Effect.async<string, InputError>((resume) => {
  const input = process.stdin
  if (input.isTTY) {
    resume(Effect.fail(new InputError({ message: "'-' reads stdin, but stdin is a terminal: pipe the text in" })))
    return
  }
  let data = ""
  const onData = (d: string) => {
    data += d
  }
  const onEnd = () => resume(Effect.succeed(data))
  const onError = (e: Error) => resume(Effect.fail(new InputError({ message: `cannot read stdin: ${e.message}` })))
  input.setEncoding("utf8")
  input.on("data", onData).once("end", onEnd).once("error", onError)
  return Effect.sync(() => {
    input.off("data", onData).off("end", onEnd).off("error", onError)
    input.pause()
  })
})
