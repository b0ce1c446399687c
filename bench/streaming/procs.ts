/** Child processes for the streaming benchmark: started, read, measured (/proc) and always stopped. */
import { type ChildProcess, spawn } from "node:child_process"
import { readFileSync } from "node:fs"
import { createServer } from "node:net"
import { createInterface } from "node:readline"

const live = new Set<ChildProcess>()
const stopAll = () => {
  for (const p of live) p.kill("SIGKILL")
}
process.on("exit", stopAll)
process.on("SIGINT", () => {
  stopAll()
  process.exit(130)
})

export interface Proc {
  readonly child: ChildProcess
  /** Resolves with the next stdout line that satisfies `test`. */
  readonly line: (test: (line: string) => boolean, timeoutMs: number) => Promise<string>
  readonly stop: () => Promise<void>
  /** Writes one line to the child's stdin. */
  readonly send: (line: string) => void
  /** Lines of its stdout and stderr so far that look like a stack frame (`    at f (file.js:1:2)`). */
  readonly stackFrames: () => number
}

const stackFrame = /^\s+at .*:\d+:\d+\)?$/

export const start = (args: ReadonlyArray<string>, env: Record<string, string>, cwd?: string): Proc => {
  const child = spawn(process.execPath, args, { cwd, env: { ...process.env, ...env }, stdio: ["pipe", "pipe", "pipe"] })
  live.add(child)
  const waiters: Array<{ test: (l: string) => boolean; resolve: (l: string) => void }> = []
  let stderr = ""
  let frames = 0
  child.stderr!.on("data", (d) => {
    stderr = (stderr + String(d)).slice(-4000)
  })
  createInterface({ input: child.stderr! }).on("line", (l) => {
    if (stackFrame.test(l)) frames++
  })
  createInterface({ input: child.stdout! }).on("line", (l) => {
    if (stackFrame.test(l)) frames++
    const i = waiters.findIndex((w) => w.test(l))
    if (i >= 0) waiters.splice(i, 1)[0]!.resolve(l)
  })
  const exited = new Promise<void>((r) => child.once("exit", () => r()))
  return {
    child,
    line: (test, timeoutMs) =>
      new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`${args.join(" ")}: no output in ${timeoutMs} ms; stderr: ${stderr}`)), timeoutMs)
        waiters.push({ test, resolve: (l) => {
            clearTimeout(t)
            resolve(l)
          }
        })
        void exited.then(() => reject(new Error(`${args.join(" ")} exited; stderr: ${stderr}`)))
      }),
    send: (line) => void child.stdin!.write(`${line}\n`),
    stackFrames: () => frames,
    stop: async () => {
      if (child.exitCode === null) {
        child.kill("SIGTERM")
        const t = setTimeout(() => child.kill("SIGKILL"), 5000)
        await exited
        clearTimeout(t)
      }
      live.delete(child)
    }
  }
}

/** User and system (kernel: syscalls, socket and file writes) CPU so far, in µs. */
export const cpuSplit = (pid: number): { readonly user: number; readonly system: number } => {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  return { user: Number(fields[11]) * 10_000, system: Number(fields[12]) * 10_000 } // utime, stime in 1/100 s
}

/** CPU (user + system, µs) of the process's main thread alone (the event loop; the rest is GC, JIT and I/O threads). */
export const mainThreadMicros = (pid: number): number => {
  const stat = readFileSync(`/proc/${pid}/task/${pid}/stat`, "utf8")
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  return (Number(fields[11]) + Number(fields[12])) * 10_000
}

/** Resident memory of a process, in bytes. */
export const rssBytes = (pid: number): number => {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))
  return m === null ? 0 : Number(m[1]) * 1024
}

export const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer()
    s.listen(0, "127.0.0.1", () => {
      const a = s.address()
      const port = typeof a === "object" && a ? a.port : 0
      s.close(() => resolve(port))
    })
  })
