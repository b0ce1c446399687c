/**
 * Generated command lines for the `sluice` CLI, run in this process through `Cli.run` (what the
 * binary runs, without a process per case): fast-check (`fc.sample`, the scenario's seed) builds
 * command lines from every command and subcommand (and some that do not exist), each command's own
 * options and some it does not take, in every form (`--flag value`, `--flag=value`, repeated,
 * missing their value, after a `--`), with values good and bad (numbers out of range or not
 * numbers, empty, huge, unicode, missing files, URLs that refuse, JSON).
 *
 * Every case: `run` resolves (never throws) within 15 s (a remote client tries to reach a gateway for
 * 5 s, name resolution included, before it gives up) to a documented exit code; stderr shows no
 * stack trace, no source path and no `Internal`/`TypeError`; a usage error (exit 2) says `sluice:`
 * on one line; an option the command does not take is named as given. Nothing starts for real:
 * the gateway's `--port` is a port already taken, chat and send reach a gateway that refuses them
 * with `--remote` or use a scratch data directory with the offline model, and nothing reads stdin
 * (`-` and `--wizard` are left out).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { createServer, type Server } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect } from "effect"
import fc from "fast-check"
import { WebSocketServer } from "ws"

export interface CliFlagsOptions {
  readonly cases: number
  readonly seed: number
}

export interface CliFlagsResult {
  readonly cases: number
  readonly exits: Readonly<Record<string, number>>
  readonly failures: ReadonlyArray<string>
  readonly ms: number
}

/** Each command's options, as its `--help` lists them (`--wizard` left out: it reads the terminal). */
const COMMANDS: ReadonlyArray<{ readonly words: ReadonlyArray<string>; readonly flags: ReadonlyArray<string> }> = [
  { words: ["gateway"], flags: ["--config", "--data-dir", "--host", "--port", "-p", "--log-format", "--log-level"] },
  { words: ["send"], flags: ["--agent", "--config", "--conversation", "--data-dir", "--json", "--remote", "--token", "--log-level"] },
  { words: ["chat"], flags: ["--agent", "--config", "--conversation", "--data-dir", "--remote", "--token", "--log-level"] },
  { words: ["preview"], flags: ["--account", "--agent", "--channel", "--config", "--json", "--prompt", "--seed", "--summary", "--log-level"] },
  { words: ["config", "check"], flags: ["--config", "--log-level"] },
  { words: ["config", "show"], flags: ["--account", "--agent", "--channel", "--config", "--json", "--log-level"] },
  { words: ["config"], flags: [] },
  { words: [], flags: ["--version", "--help"] },
  { words: ["bogus"], flags: [] },
  { words: ["config", "bogus"], flags: [] }
]
const UNKNOWN = ["--bogus", "--port-", "--Port", "--data_dir", "-x", "--json=maybe", "--log-format"]
const COMMON = ["--help", "--version", "--completions"]

const STACK = /\n\s+at [^\n]*[(/]|\.(ts|js|mjs):\d+|node_modules|TypeError|ReferenceError|\bInternal\b|\[object Object\]/

export const runCliFlags = async (o: CliFlagsOptions): Promise<CliFlagsResult> => {
  const t0 = performance.now()
  const dir = mkdtempSync(join(tmpdir(), "sluice-cliflags-"))
  // A port that is taken (the gateway must fail at once, naming it) and one that refuses (remote clients).
  const taken: Server = createServer()
  // On "::" (both stacks), so a gateway on 127.0.0.1, ::1 or localhost finds it taken.
  await new Promise<void>((r) => taken.listen(0, "::", () => r()))
  const takenPort = (taken.address() as { port: number }).port
  // A "gateway" that refuses every client at once (close 4001), so remote commands fail fast; a port
  // that refuses connections would cost the remote client's 5 s start-up retry per case.
  const refusing = new WebSocketServer({ host: "127.0.0.1", port: 0 })
  refusing.on("connection", (ws) => ws.close(4001, "unauthorized"))
  await new Promise<void>((r) => refusing.on("listening", () => r()))
  const closedPort = (refusing.address() as { port: number }).port
  const config = join(dir, "sluice.json")
  writeFileSync(config, JSON.stringify({ model: { provider: "offline", offline: { tokensPerSecond: 0, words: 20 } } }))
  writeFileSync(join(dir, "broken.json"), "{ \"gateway\": { \"port\": ")
  writeFileSync(join(dir, "reply.md"), "# Hi\n\n```ts\nconst x = 1\n```\n")
  const saved = { ...process.env }
  const cwd = process.cwd()
  // Relative paths in generated values (a --data-dir of "bash") land in the scratch directory.
  process.chdir(dir)
  process.env.SLUICE_DATA_DIR = join(dir, "data")
  process.env.SLUICE_CONFIG = config
  delete process.env.ANTHROPIC_API_KEY
  delete process.env.SLUICE_TOKEN
  const { runNode } = await import("../../packages/cli/src/Cli.js")

  const value = fc.oneof(
    fc.constantFrom("", "0", "-1", "1", "65535", "65536", "99999", "abc", "1e3", "NaN", "3.5", " 80", "0x50"),
    fc.constantFrom("127.0.0.1", "::1", "0.0.0.0", "localhost", "", "not a host"),
    fc.constantFrom(config, join(dir, "broken.json"), join(dir, "missing.json"), join(dir, "reply.md"), dir, "/dev/null"),
    fc.constantFrom(`ws://127.0.0.1:${closedPort}`, `http://127.0.0.1:${closedPort}`, "ws://", "notaurl", "wss://127.0.0.1:1/v1/ws"),
    fc.constantFrom("telegram", "discord", "slack", "whatsapp", "signal", "irc", "default", "support"),
    fc.constantFrom("json", "pretty", "xml", "debug", "info", "none", "all", "bash", "zsh", "fish"),
    fc.string({ maxLength: 12 }),
    fc.string({ minLength: 2000, maxLength: 5000 }).map((s) => s.replace(/^-+/, "")),
    fc.constantFrom("🚀".repeat(50), "{\"a\":1}", "--", "-p", "hello world")
  )
  const option = (flags: ReadonlyArray<string>) =>
    fc.tuple(fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...(flags.length > 0 ? flags : COMMON)) }, { weight: 1, arbitrary: fc.constantFrom(...UNKNOWN, ...COMMON) }), value, fc.constantFrom("space", "equals", "bare")).map(([f, v, form]) =>
      form === "bare" ? [f] : form === "equals" ? [`${f}=${v}`] : [f, v]
    )
  const line = fc.constantFrom(...COMMANDS).chain((c) =>
    fc.tuple(fc.constant(c), fc.array(option(c.flags), { maxLength: 5 }), fc.array(value, { maxLength: 2 }), fc.boolean()).map(([c, opts, words, dashdash]) => {
      const argv = [...c.words, ...opts.flat(), ...(dashdash ? ["--"] : []), ...words]
      // Nothing may start for real: the gateway gets a taken port last; chat and send without --remote get a closed one.
      if (c.words[0] === "gateway") argv.push("--port", String(takenPort))
      if (c.words[0] === "chat" && !argv.some((a) => a.startsWith("--remote"))) argv.splice(1, 0, "--remote", `ws://127.0.0.1:${closedPort}`)
      if (c.words[0] === "send" && words.length === 0 && !dashdash) argv.push("hello")
      return { command: c, argv: argv.filter((a) => a !== "-" && a !== "--wizard") }
    })
  )
  const cases = fc.sample(line, { numRuns: o.cases, seed: o.seed })

  const exits: Record<string, number> = {}
  const failures: Array<string> = []
  const realOut = process.stdout.write.bind(process.stdout)
  const realErr = process.stderr.write.bind(process.stderr)
  try {
    for (const [i, c] of cases.entries()) {
      let out = ""
      let err = ""
      process.stdout.write = ((chunk: string | Uint8Array) => {
        out += typeof chunk === "string" ? chunk : Buffer.from(chunk).toString()
        return true
      }) as typeof process.stdout.write
      process.stderr.write = ((chunk: string | Uint8Array) => {
        err += typeof chunk === "string" ? chunk : Buffer.from(chunk).toString()
        return true
      }) as typeof process.stderr.write
      let code: number | "threw" | "hang"
      try {
        code = await Effect.runPromise(
          runNode(c.argv).pipe(
            Effect.timeoutTo({ duration: "15 seconds", onTimeout: () => "hang" as const, onSuccess: (x) => x }),
            Effect.catchAllDefect(() => Effect.succeed("threw" as const))
          )
        )
      } catch {
        code = "threw"
      } finally {
        process.stdout.write = realOut
        process.stderr.write = realErr
      }
      exits[String(code)] = (exits[String(code)] ?? 0) + 1
      const shown = JSON.stringify(c.argv.map((a) => (a.length > 40 ? `${a.slice(0, 20)}…(${a.length})` : a)))
      const fail = (why: string) => failures.push(`case ${i} ${shown}: ${why}; stderr ${JSON.stringify(err.slice(0, 300))}`)
      if (code === "threw" || code === "hang") {
        fail(code)
        continue
      }
      if (![0, 1, 2, 3, 4].includes(code)) fail(`exit code ${code}`)
      if (STACK.test(err)) fail("a stack trace, source path or internal error on stderr")
      if (code === 2 && err.trim() === "") fail("a usage error without a message")
      if (code !== 0 && err.trim() === "" && out.trim() === "") fail("failed without a word")
      const first = c.argv.find((a) => a.startsWith("-") && a !== "--")
      const unknown = first !== undefined && UNKNOWN.includes(first.split("=")[0]!) && !c.command.flags.includes(first.split("=")[0]!)
      const builtIn = c.argv.some((a) => /^(--help|-h|--version|--completions)(=|$)/.test(a))
      if (unknown && c.argv.indexOf(first) < (c.argv.indexOf("--") < 0 ? Infinity : c.argv.indexOf("--")) && code === 0 && !builtIn) {
        fail(`an unknown option ${first} was accepted`)
      }
    }
  } finally {
    process.env = saved
    process.chdir(cwd)
    await new Promise<void>((r) => taken.close(() => r()))
    await new Promise<void>((r) => refusing.close(() => r()))
    rmSync(dir, { recursive: true, force: true })
  }
  return { cases: cases.length, exits, failures, ms: performance.now() - t0 }
}
