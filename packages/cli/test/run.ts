/** Runs the real `sluice` binary as a child process, bounded in time. */
import { spawn } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

export const bin = fileURLToPath(new URL("../bin/sluice.js", import.meta.url))

export interface Result {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

export interface RunOptions {
  readonly cwd?: string
  readonly env?: Record<string, string | undefined>
  readonly input?: string
  readonly timeoutMs?: number
}

/** Environment without anything that would reach a real model or an outside config. */
export const cleanEnv = (extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "1" }
  for (const k of Object.keys(env)) {
    if (k.startsWith("SLUICE_") || k.startsWith("ANTHROPIC_") || k === "FORCE_COLOR") delete env[k]
  }
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k]
    else env[k] = v
  }
  return env
}

// The machine has 2 cores shared with others: at most 2 CLI processes at a time.
let running = 0
const waiting: Array<() => void> = []
const acquire = (): Promise<void> => {
  if (running < 2) {
    running++
    return Promise.resolve()
  }
  return new Promise((resolve) => waiting.push(resolve)) // the releaser hands its slot over
}
const release = () => {
  const next = waiting.shift()
  if (next) next()
  else running--
}

export const sluice = async (args: ReadonlyArray<string>, options: RunOptions = {}): Promise<Result> => {
  await acquire()
  try {
    return await spawnSluice(args, options)
  } finally {
    release()
  }
}

const spawnSluice = (args: ReadonlyArray<string>, options: RunOptions): Promise<Result> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], {
      cwd: options.cwd ?? tmpdir(),
      env: cleanEnv(options.env),
      stdio: ["pipe", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d))
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d))
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      reject(new Error(`sluice ${args.join(" ")} timed out\nstdout: ${stdout}\nstderr: ${stderr}`))
    }, options.timeoutMs ?? 45_000)
    child.on("error", reject)
    child.on("close", (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr })
    })
    child.stdin.end(options.input ?? "")
  })

export const tempDir = (): { readonly path: string; readonly [Symbol.dispose]: () => void } => {
  const path = mkdtempSync(join(tmpdir(), "sluice-cli-"))
  return { path, [Symbol.dispose]: () => rmSync(path, { recursive: true, force: true }) }
}

/** No stack trace frames in what a user sees. */
export const noStack = (s: string): boolean => !/\n\s+at .+[:(]/.test(s) && !s.includes("node:internal")
