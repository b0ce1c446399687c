import { spawn } from "node:child_process"
import { existsSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Layer, Scope } from "effect"
import * as SqliteStore from "../src/sqlite/SqliteStore.js"

const child = fileURLToPath(new URL("./fixtures/holdStoreChild.ts", import.meta.url))

/** Starts a process holding the store on `dataDir`; resolves once it is open. */
const holder = (dataDir: string) =>
  new Promise<{ pid: number; kill: () => Promise<void> }>((resolve, reject) => {
    const p = spawn(process.execPath, ["--import", "tsx", child, dataDir], { stdio: ["ignore", "pipe", "inherit"] })
    const timer = setTimeout(() => {
      p.kill("SIGKILL")
      reject(new Error("holder did not open the store within 30 s"))
    }, 30_000)
    let out = ""
    p.stdout.on("data", (d: Buffer) => {
      out += d.toString()
      if (out.includes("READY")) {
        clearTimeout(timer)
        resolve({
          pid: p.pid!,
          kill: () =>
            new Promise((done) => {
              p.once("exit", () => done())
              p.kill("SIGKILL")
            })
        })
      } else if (out.includes("FAILED")) reject(new Error(out))
    })
  })

describe("one owner per data directory", () => {
  it.scoped("a second process fails at once naming the holder's pid and --remote; a killed holder's lock is taken over", () =>
    Effect.gen(function* () {
      const dataDir = mkdtempSync(join(tmpdir(), "sluice-lock-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dataDir, { recursive: true, force: true })))
      const h = yield* Effect.promise(() => holder(dataDir))
      const refused = yield* Effect.scoped(Layer.build(SqliteStore.layer({ dataDir }))).pipe(Effect.flip)
      expect(refused._tag).toBe("DataDirLocked")
      if (refused._tag !== "DataDirLocked") return
      expect(refused.pid).toBe(h.pid)
      expect(refused.message).toContain(String(h.pid))
      expect(refused.message).toContain("--remote")
      yield* Effect.promise(() => h.kill())
      // SIGKILL leaves the lock file behind; its pid is gone, so it is stale and taken over.
      expect(existsSync(join(dataDir, "sluice.lock"))).toBe(true)
      const scope = yield* Scope.make()
      yield* Layer.buildWithScope(SqliteStore.layer({ dataDir }), scope)
      // and, while this process holds it, a second store in this process is refused too
      const again = yield* Effect.scoped(Layer.build(SqliteStore.layer({ dataDir }))).pipe(Effect.flip)
      expect(again._tag).toBe("DataDirLocked")
      yield* Scope.close(scope, Exit.void)
      expect(existsSync(join(dataDir, "sluice.lock"))).toBe(false)
    }), 60_000)
})
