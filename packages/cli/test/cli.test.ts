import { existsSync, readdirSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { noStack, sluice } from "./run.js"

describe("sluice: commands, help, exit codes", () => {
  it("prints the help with every command when run alone", async () => {
    const r = await sluice([])
    expect(r.code).toBe(0)
    for (const c of ["gateway", "chat", "send", "preview", "config check", "config show"]) {
      expect(r.stdout).toContain(c)
    }
    expect(r.stdout.includes("\u001b[")).toBe(false) // piped: no ANSI styling
  })

  it("has --help on every command", async () => {
    const cases: ReadonlyArray<[ReadonlyArray<string>, string]> = [
      [["gateway", "--help"], "--port"],
      [["chat", "--help"], "--remote"],
      [["send", "--help"], "--json"],
      [["preview", "--help"], "--channel"],
      [["config", "--help"], "check"],
      [["config", "check", "--help"], "FILE"],
      [["config", "show", "--help"], "--account"]
    ]
    const results = await Promise.all(cases.map(([args]) => sluice([...args])))
    results.forEach((r, i) => {
      expect(r.code, cases[i]![0].join(" ")).toBe(0)
      expect(r.stdout).toContain(cases[i]![1])
    })
  })

  it("prints --version and shell completions", async () => {
    const [v, bash, zsh] = await Promise.all([
      sluice(["--version"]),
      sluice(["--completions", "bash"]),
      sluice(["--completions", "zsh"])
    ])
    expect(v.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/)
    expect(bash.code).toBe(0)
    expect(bash.stdout).toContain("complete -F")
    expect(bash.stdout).toContain("preview")
    expect(zsh.stdout).toContain("#compdef sluice")
  })

  it("runs from its bundle (built on first use) and, with SLUICE_NO_BUNDLE=1, from the sources, the same", async () => {
    const [bundled, sources] = await Promise.all([
      sluice(["config", "show", "--channel", "discord"]),
      sluice(["config", "show", "--channel", "discord"], { env: { SLUICE_NO_BUNDLE: "1" } })
    ])
    expect(bundled.code).toBe(0)
    expect(bundled.stdout).toContain("text chunk limit   2000 chars")
    expect(sources).toEqual(bundled)
    const cache = fileURLToPath(new URL("../node_modules/.cache/sluice-cli/", import.meta.url))
    const builds = readdirSync(cache).filter((d) => !d.startsWith("."))
    expect(builds.some((d) => existsSync(`${cache}${d}/bin.js`))).toBe(true)
  })

  it("rejects a bad flag value, an unknown command and a missing flag with exit code 2 and no stack", async () => {
    const [port, unknown, missing, extra, twice, short, configSub, valueless] = await Promise.all([
      sluice(["gateway", "--port", "abc"]),
      sluice(["frobnicate"]),
      sluice(["config", "show", "--channel"]), // a flag without its value
      sluice(["send"]),
      sluice(["gateway", "-p", "5", "--port", "6"]),
      sluice(["send", "-x", "hi", "--", "more"]), // once taken as the message "-x"
      sluice(["config", "bogus"]),
      sluice(["chat", "--token", "--remote", "ws://127.0.0.1:1"]) // the token would have been "--remote"
    ])
    expect(port.code).toBe(2)
    expect(port.stderr).toBe('sluice: --port must be a whole number, got "abc"\n') // the option named, one line
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toContain('unknown command "frobnicate": use one of gateway, chat, send, preview, config')
    expect(missing.code).toBe(2)
    expect(missing.stderr).toContain("--channel")
    expect(extra.code).toBe(2)
    expect(twice.stderr).toContain("--port is given more than once")
    expect(short.stderr).toContain('unknown option -x for "sluice send"')
    expect(configSub.stderr).toContain('unknown command "config bogus": use config check or config show')
    expect(valueless.stderr).toContain("--token needs a value (the next word is the option --remote)")
    for (const r of [port, unknown, missing, extra, twice, short, configSub, valueless]) {
      expect(r.code, r.stderr).toBe(2)
      expect(noStack(r.stderr), r.stderr).toBe(true)
      expect(r.stdout).toBe("")
    }
  })

  it("accepts --log-level before the command", async () => {
    const r = await sluice(["--log-level", "debug", "config", "--help"])
    expect(r.code).toBe(0)
    const bad = await sluice(["--log-level", "loud", "config", "--help"])
    expect(bad.code).toBe(2)
  })
})
