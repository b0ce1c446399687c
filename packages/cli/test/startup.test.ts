/** Start-up errors that explain themselves, from the real binary. */
import { writeFileSync } from "node:fs"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { describe, expect, it } from "vitest"
import * as ExitCode from "../src/ExitCode.js"
import { spawn } from "node:child_process"
import { bin, cleanEnv, sluice, tempDir } from "./run.js"

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

  it("--cluster without a database, with a URL that is not PostgreSQL, or with a bad runner port is a usage error saying what to give", async () => {
    using dir = tempDir()
    const none = await sluice(["gateway", "--cluster", "--port", "0", "--data-dir", `${dir.path}/d`])
    expect(none.code).toBe(ExitCode.Usage)
    expect(none.stderr).toContain("a cluster needs its PostgreSQL database: --database-url postgres://…")
    const wrong = await sluice(["gateway", "--database-url", "mysql://secret@db/x", "--port", "0", "--data-dir", `${dir.path}/d`])
    expect(wrong.code).toBe(ExitCode.Usage)
    expect(wrong.stderr).toContain("--database-url must be a postgres:// URL")
    expect(wrong.stderr).not.toContain("secret") // the URL is a secret: never echoed
    const port = await sluice(["gateway", "--cluster", "--port", "0", "--data-dir", `${dir.path}/d`], {
      env: { SLUICE_DATABASE_URL: "postgres://u@127.0.0.1:1/x", SLUICE_RUNNER_PORT: "70000" }
    })
    expect(port.code).toBe(ExitCode.Usage)
    expect(port.stderr).toContain('SLUICE_RUNNER_PORT must be a port number 1–65535, got "70000"')
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

describe("CLI edges", () => {
  it("send - reads the message from stdin (before or after the options); a blank one is a usage error", async () => {
    using dir = tempDir()
    const a = await sluice(["send", "-", "--data-dir", `${dir.path}/d`, "--json"], { input: "What is a canal lock?\n" })
    expect(a.code).toBe(0)
    const user = a.stdout
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as { _tag: string; text?: string })
      .find((e) => e._tag === "UserMessage")
    expect(user?.text).toBe("What is a canal lock?")
    const blank = await sluice(["send", "--data-dir", `${dir.path}/d`, "-"], { input: "  \n" })
    expect(blank.code).toBe(ExitCode.Usage)
    expect(blank.stderr).toContain("the message is empty")
  }, 60_000)

  it("config show without --channel shows what web and terminal clients get", async () => {
    const r = await sluice(["config", "show"])
    expect(r.code).toBe(0)
    expect(r.stdout).toContain("channel (none: web/terminal client)")
    expect(r.stdout).toContain("text chunk limit")
  }, 30_000)
})

describe("config check checks values, not only shapes", () => {
  it("min above max is an error, ignored keys and limits above the platform's are warnings, JSON errors give line and column", async () => {
    using dir = tempDir()
    const bad = `${dir.path}/bad.json`
    writeFileSync(
      bad,
      JSON.stringify(
        {
          agents: { defaults: { blockStreamingChunk: { minChars: 900, maxChars: 300 }, humanDelay: { mode: "natural", minMs: 10 } } },
          channels: { telegram: { textChunkLimit: 9000 }, discord: { draftChunk: { minChars: 10, maxChars: 5 } } },
          gateway: { host: "0.0.0.0" }
        },
        null,
        2
      )
    )
    const r = await sluice(["config", "check", bad])
    expect(r.code).toBe(ExitCode.InvalidConfig)
    expect(r.stderr).toContain("agents.defaults.blockStreamingChunk.minChars: minChars (900) is above maxChars (300)")
    expect(r.stderr).toContain("channels.discord.draftChunk.minChars: minChars (10) is above maxChars (5)")
    expect(r.stderr).toContain('warning: agents.defaults.humanDelay.minMs: ignored: humanDelay.mode is "natural"')
    expect(r.stderr).toContain("warning: channels.telegram.textChunkLimit: 9000 is above telegram's limit of 4000")
    expect(r.stderr).toContain("warning: gateway.host: 0.0.0.0 is not loopback")

    const warnOnly = `${dir.path}/warn.json`
    writeFileSync(warnOnly, JSON.stringify({ channels: { telegram: { textChunkLimit: 9000 } } }))
    const w = await sluice(["config", "check", warnOnly])
    expect(w.code).toBe(0)
    expect(w.stdout).toContain("valid (0 agents; channels: telegram) with 1 warning")

    const syntax = `${dir.path}/syntax.json`
    writeFileSync(syntax, '{\n  "agents": {\n    "defaults": { ,}\n}\n')
    const s = await sluice(["config", "check", syntax])
    expect(s.code).toBe(ExitCode.InvalidConfig)
    expect(s.stderr).toMatch(/not valid JSON: .* at line 3, column 19/)
  }, 60_000)
})

describe("access log", () => {
  it("--log-format json: one JSON line per request, with the principal and never the token", async () => {
    using dir = tempDir()
    const child = spawn(process.execPath, [bin, "--log-format", "json", "gateway", "--port", "0", "--data-dir", `${dir.path}/d`], {
      env: cleanEnv({ SLUICE_TOKEN: "tok-alice-123" }),
      stdio: ["ignore", "pipe", "pipe"]
    })
    let out = ""
    let err = ""
    child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d))
    child.stderr.setEncoding("utf8").on("data", (d: string) => (err += d))
    const exited = new Promise<void>((r) => child.on("close", () => r()))
    try {
      const t0 = Date.now()
      while (!/web chat: http:\/\/[^\s/]+/.test(out) && Date.now() - t0 < 60_000) await new Promise((r) => setTimeout(r, 50))
      const base = /web chat: (http:\/\/[^\s/]+)/.exec(out)![1]!
      await fetch(`${base}/healthz?token=tok-alice-123`)
      await fetch(`${base}/v1/conversations`, { headers: { authorization: "Bearer tok-alice-123" } })
      await fetch(`${base}/v1/conversations`, { headers: { authorization: "Bearer wrong" } })
      const t1 = Date.now()
      while ((err.match(/"kind":"access"/g) ?? []).length < 3 && Date.now() - t1 < 10_000) await new Promise((r) => setTimeout(r, 50))
    } finally {
      child.kill("SIGTERM")
      await exited
    }
    const lines = err
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as { message: string; annotations: Record<string, unknown> })
    const access = lines.filter((l) => l.annotations.kind === "access")
    // a token's principal is a name derived from it (token-<hash>), never the token itself
    const who = String(access[0]?.annotations.principal)
    expect(who).toMatch(/^token-[0-9a-f]+$/)
    expect(access.map((l) => [l.annotations.method, l.annotations.path, l.annotations.status, l.annotations.principal])).toEqual([
      ["GET", "/healthz", 200, who],
      ["GET", "/v1/conversations", 200, who],
      ["GET", "/v1/conversations", 401, "-"]
    ])
    expect(access.every((l) => typeof l.annotations.durationMs === "number")).toBe(true)
    expect(err).not.toContain("tok-alice-123")
  }, 90_000)
})

describe("unknown options", () => {
  it("are named as given (--bogus, not its value), with the command's help to look at", async () => {
    const r = await sluice(["send", "--bogus", "5", "hi"])
    expect(r.code).toBe(ExitCode.Usage)
    expect(r.stderr).toContain('unknown option --bogus for "sluice send" (see sluice send --help)')
    const c = await sluice(["config", "show", "--chanel", "telegram"])
    expect(c.code).toBe(ExitCode.Usage)
    expect(c.stderr).toContain('unknown option --chanel for "sluice config show"')
    // known options, built-in ones and --opt=value forms still pass
    const ok = await sluice(["config", "show", "--channel=telegram", "--json"])
    expect(ok.code).toBe(0)
  }, 60_000)
})
