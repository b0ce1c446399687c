/**
 * One owner per data directory: `<dataDir>/sluice.lock` holds the pid of the process that has the
 * store open. Two writers on one SQLite log would hand out the same seqs (the second one's view of
 * `next_seq` is stale), so a second process fails at once, before it runs crash recovery on a
 * database that is alive. A lock left by a process that died (SIGKILL, power loss) is stale —
 * its pid is gone — and is taken over.
 *
 * Hand-written rather than `proper-lockfile`: that library decides staleness by mtime and needs
 * a timer rewriting the file; a pid check is exact on one machine and names the holder, which is
 * what the error has to say.
 *
 * @internal
 */
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from "node:fs"
import { join } from "node:path"
import { Effect, type Scope } from "effect"
import { DataDirLocked, StoreError } from "../../ConversationError.js"

export const LOCK_FILE = "sluice.lock"

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM" // exists, owned by someone else
  }
}

const holderOf = (path: string): number | undefined => {
  try {
    const pid = Number.parseInt(readFileSync(path, "utf8").trim(), 10)
    return Number.isInteger(pid) && pid > 0 ? pid : undefined
  } catch {
    return undefined
  }
}

export const lockedMessage = (dataDir: string, pid: number): string =>
  pid === process.pid
    ? `the data directory ${dataDir} is already open in this process (a second store on it would corrupt its log)`
    : `the data directory ${dataDir} is in use by process ${pid} (a running Sluice gateway?). ` +
      "Stop it, use another --data-dir, or talk to the running gateway with --remote <url> (e.g. --remote http://127.0.0.1:8787)."

const tryAcquire = (dataDir: string): { readonly path: string } | DataDirLocked | StoreError => {
  const path = join(dataDir, LOCK_FILE)
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(path, "wx")
      try {
        writeSync(fd, `${process.pid}\n`)
      } finally {
        closeSync(fd)
      }
      return { path }
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") {
        return new StoreError({ message: `cannot lock data directory ${dataDir}: ${(e as Error).message}` })
      }
    }
    const pid = holderOf(path)
    if (pid !== undefined && alive(pid)) return new DataDirLocked({ dataDir, pid, message: lockedMessage(dataDir, pid) })
    // Stale (its process is gone) or half-written: take it over.
    try {
      unlinkSync(path)
    } catch {
      // someone else took it over first; try again
    }
  }
  return new StoreError({ message: `cannot lock data directory ${dataDir}: the lock file keeps changing` })
}

/** Holds the data directory's lock for the scope; fails with `DataDirLocked` naming the holder. */
export const acquire = (dataDir: string): Effect.Effect<void, DataDirLocked | StoreError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.suspend(() => {
      const r = tryAcquire(dataDir)
      return r instanceof StoreError || r instanceof DataDirLocked ? Effect.fail(r) : Effect.succeed(r)
    }),
    ({ path }) =>
      Effect.sync(() => {
        if (holderOf(path) === process.pid) {
          try {
            unlinkSync(path)
          } catch {
            // already gone
          }
        }
      })
  ).pipe(Effect.asVoid)

/** The pid holding `dataDir`, if a live process does (for the CLI's embedded commands). */
export const holder = (dataDir: string): number | undefined => {
  const pid = holderOf(join(dataDir, LOCK_FILE))
  return pid !== undefined && alive(pid) ? pid : undefined
}
