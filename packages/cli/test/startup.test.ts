/** Start-up errors that explain themselves, from the real binary. */
import { writeFileSync } from "node:fs"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { describe, expect, it } from "vitest"
import * as ExitCode from "../src/ExitCode.js"
import { sluice, tempDir } from "./run.js"

describe("sluice gateway start-up errors", () => {
  it("a port in use names the address and suggests --port", async () => {
    using dir = tempDir()
    const busy = createServer()
    await new Promise<void>((r) => busy.listen(0, "127.0.0.1", r))
    const port = (busy.address() as AddressInfo).port
    try {
      const r = await sluice(["gateway", "--port", String(port), "--data-dir", `${dir.path}/d`])
      expect(r.code).toBe(ExitCode.Failure)
      expect(r.stderr).toContain(`cannot listen on 127.0.0.1:${port}: the address is already in use`)
      expect(r.stderr).toContain("--port")
      expect(r.stderr).not.toMatch(/ServeError|\n\s+at /)
    } finally {
      busy.close()
    }
  }, 60_000)

  it("--port 99999 and SLUICE_PORT=abc are usage errors naming the value", async () => {
    using dir = tempDir()
    const flag = await sluice(["gateway", "--port", "99999", "--data-dir", `${dir.path}/d`])
    expect(flag.code).toBe(ExitCode.Usage)
    expect(flag.stderr).toContain("--port must be a port number 0–65535, got 99999")
    const env = await sluice(["gateway", "--data-dir", `${dir.path}/d`], { env: { SLUICE_PORT: "abc" } })
    expect(env.code).toBe(ExitCode.Usage)
    expect(env.stderr).toContain('SLUICE_PORT must be a port number 0–65535, got "abc"')
  }, 60_000)

  it("provider anthropic without a key says which variable to set", async () => {
    using dir = tempDir()
    const config = `${dir.path}/sluice.json`
    writeFileSync(config, JSON.stringify({ model: { provider: "anthropic" } }))
    const r = await sluice(["gateway", "--port", "0", "--data-dir", `${dir.path}/d`], { env: { SLUICE_CONFIG: config } })
    expect(r.code).toBe(ExitCode.InvalidConfig)
    expect(r.stderr).toContain("ANTHROPIC_API_KEY is not set")
    expect(r.stderr).not.toContain("<redacted>")
  }, 60_000)
})
