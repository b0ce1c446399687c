/**
 * SIGTERM on a real gateway process: running turns get the grace period, then are stopped and
 * persisted as interrupted; sockets close with 1001; the process exits.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "@effect/vitest"
import { connect } from "./support/harness.js"

const serve = fileURLToPath(new URL("./support/serve.ts", import.meta.url))

const launch = (dataDir: string) =>
  new Promise<{ child: ChildProcess; url: string; wsUrl: string }>((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", serve, dataDir, "1000"], {
      stdio: ["ignore", "pipe", "pipe"]
    })
    let out = ""
    let err = ""
    child.stdout!.on("data", (d) => {
      out += d
      const line = out.split("\n").find((l) => l.startsWith("{"))
      if (line) resolve({ child, ...JSON.parse(line) })
    })
    child.stderr!.on("data", (d) => {
      err += d
      if (process.env.SLUICE_DEBUG) process.stderr.write(d)
    })
    child.once("exit", (code) => reject(new Error(`gateway exited early (${code}): ${err}`)))
  })

const exited = (child: ChildProcess) =>
  new Promise<number | null>((resolve) => {
    if (child.exitCode !== null) return resolve(child.exitCode)
    child.once("exit", (code) => resolve(code))
  })

describe("graceful shutdown", () => {
  it("SIGTERM: stop accepting, stop the running turn after the grace period, close with 1001, persist it interrupted", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sluice-shutdown-"))
    let child: ChildProcess | undefined
    try {
      const gw = await launch(dir)
      child = gw.child
      const c = await connect(gw.wsUrl)
      const sent = await c.request({ type: "send", conversationId: "long", text: "Write a very long answer" })
      await c.request({ type: "subscribe", conversationId: "long", fromSeq: sent.result.seq - 1 })
      await c.until(() => c.events("long").some((e) => e._tag === "Draft" || e._tag === "Block"), 30_000, "output")
      child.kill("SIGTERM")
      await c.until(() => c.closed, 20_000, "close")
      expect(c.closed!.code).toBe(1001)
      // The client saw the run end before the socket closed.
      const ended = c.events("long").find((e) => e._tag === "RunEnded")
      expect(ended?.reason === "stopped" || ended?.reason === "interrupted").toBe(true)
      const code = await exited(child)
      expect(code === 0 || code === 130 || code === 143 || code === null).toBe(true)
      // New connections are refused once it is gone.
      await expect(fetch(`${gw.url}healthz`)).rejects.toThrow()

      // A restarted gateway on the same data dir shows the reply as interrupted.
      const again = await launch(dir)
      child = again.child
      const d = await connect(again.wsUrl)
      const h = await d.request({ type: "history", conversationId: "long" })
      const assistant = h.result.find((m: any) => m.role === "assistant")
      expect(assistant.interrupted).toBe(true)
      expect(assistant.text.length).toBeGreaterThan(0)
      d.close()
      child.kill("SIGTERM")
      await exited(child)
    } finally {
      if (child && child.exitCode === null) child.kill("SIGKILL")
      rmSync(dir, { recursive: true, force: true })
    }
  }, 300_000)
})
