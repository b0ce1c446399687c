/**
 * How a command finds the gateway that owns a data directory: once listening, the gateway writes
 * `<dataDir>/gateway.json` (`{ pid, url }`) and removes it when it stops. The data directory's
 * lock (`sluice.lock`) is what guarantees one owner; this file only tells a refused embedded
 * command where that owner can be reached (`--remote <url>`).
 *
 * @since 0.2.0
 */
import { readFileSync, unlinkSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { Effect, type Scope } from "effect"

export const FILE = "gateway.json"

export interface Running {
  readonly pid: number
  readonly url: string
}

/** Writes the file for the life of the scope. Best effort: a read-only directory only loses the hint. */
export const announce = (dataDir: string, url: string): Effect.Effect<void, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => {
      try {
        writeFileSync(join(dataDir, FILE), `${JSON.stringify({ pid: process.pid, url })}\n`)
      } catch {
        // no hint then
      }
    }),
    () =>
      Effect.sync(() => {
        if (runningOn(dataDir)?.pid !== process.pid) return
        try {
          unlinkSync(join(dataDir, FILE))
        } catch {
          // already gone
        }
      })
  )

/** The gateway announced in `dataDir`, if the file is there and well-formed (the pid is not checked). */
export const runningOn = (dataDir: string): Running | undefined => {
  try {
    const parsed = JSON.parse(readFileSync(join(dataDir, FILE), "utf8")) as { pid?: unknown; url?: unknown }
    return typeof parsed.pid === "number" && typeof parsed.url === "string" ? { pid: parsed.pid, url: parsed.url } : undefined
  } catch {
    return undefined
  }
}
