import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber } from "effect"
import { Gateway } from "../src/index.js"

describe("Gateway.run", () => {
  it("serves on SQLite in the data dir with the offline model, and stops when interrupted", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sluice-run-"))
    try {
      let info: Gateway.Info | undefined
      const fiber = Effect.runFork(
        Gateway.run({ port: 0, dataDir: dir, announce: false, tokens: [], onListening: (i) => (info = i) })
      )
      const t0 = Date.now()
      while (info === undefined && Date.now() - t0 < 20_000) {
        if (fiber.unsafePoll()) break
        await new Promise((r) => setTimeout(r, 50))
      }
      const early = fiber.unsafePoll()
      if (early) throw new Error(`run ended early: ${JSON.stringify(early)}`)
      const res = await fetch(`${info!.url}healthz`)
      expect(res.status).toBe(200)
      const page = await (await fetch(info!.url)).text()
      expect(page).toContain("<html")
      const exit = await Effect.runPromise(Fiber.interrupt(fiber))
      expect(Exit.isInterrupted(exit)).toBe(true)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it("refuses a non-loopback host without a token, with a clear error", async () => {
    const exit = await Effect.runPromiseExit(Gateway.run({ host: "0.0.0.0", port: 0, tokens: [], announce: false }))
    expect(Exit.isFailure(exit)).toBe(true)
    expect(String(Exit.isFailure(exit) ? exit.cause : "")).toContain("refusing to listen on 0.0.0.0 without a token")
  })
})
