import { writeFileSync } from "node:fs"
import { join } from "node:path"
import type { StreamingSettings } from "@sluice/core/StreamingSettings"
import { describe, expect, it } from "vitest"
import { noStack, sluice, tempDir } from "./run.js"

const bad = {
  agents: { defaults: { humanDelay: { mode: "natrual" }, blockStreamingChunk: { maxChars: -5 } } },
  channels: { discord: { textChunkLimt: 100 } }
}
const good = {
  agents: { defaults: { humanDelay: { mode: "natural" } }, list: [{ id: "bob", humanDelay: { mode: "off" } }] },
  channels: { discord: { blockStreaming: true } }
}

describe("sluice config", () => {
  it("check: names every bad key path and what was expected, exit 3, no stack", async () => {
    using dir = tempDir()
    writeFileSync(join(dir.path, "bad.json"), JSON.stringify(bad))
    writeFileSync(join(dir.path, "broken.json"), "{ nope")
    const [r, broken] = await Promise.all([
      sluice(["config", "check", "bad.json"], { cwd: dir.path }),
      sluice(["config", "check", "broken.json"], { cwd: dir.path })
    ])
    expect(r.code).toBe(3)
    expect(r.stdout).toBe("")
    expect(r.stderr).toContain("bad.json")
    expect(r.stderr).toContain('agents.defaults.humanDelay.mode: expected one of "off" | "natural" | "custom", got "natrual"')
    expect(r.stderr).toContain("agents.defaults.blockStreamingChunk.maxChars: expected a positive integer, got -5")
    expect(r.stderr).toMatch(/channels\.discord\.textChunkLimt: unknown key/)
    expect(noStack(r.stderr), r.stderr).toBe(true)
    expect(broken.code).toBe(3)
    expect(broken.stderr).toContain("not valid JSON")
    expect(noStack(broken.stderr)).toBe(true)
  })

  it("check: a valid file passes; ./sluice.json is found; nothing to check is a usage error", async () => {
    using dir = tempDir()
    using empty = tempDir()
    writeFileSync(join(dir.path, "sluice.json"), JSON.stringify(good))
    const [ok, none] = await Promise.all([
      sluice(["config", "check"], { cwd: dir.path }),
      sluice(["config", "check"], { cwd: empty.path })
    ])
    expect(ok.code).toBe(0)
    expect(ok.stdout).toContain("sluice.json: valid (1 agent; channels: discord)")
    expect(none.code).toBe(2)
    expect(none.stderr).toContain("nothing to check")
  })

  it("show: the effective settings of a channel, agent and config ($SLUICE_CONFIG), as JSON", async () => {
    using dir = tempDir()
    const file = join(dir.path, "conf.json")
    writeFileSync(file, JSON.stringify(good))
    const [discord, bob, defaults] = await Promise.all([
      sluice(["config", "show", "--channel", "discord", "--json"], { env: { SLUICE_CONFIG: file } }),
      sluice(["config", "show", "--channel", "discord", "--agent", "bob", "--config", file]),
      sluice(["config", "show", "--channel", "telegram"], { cwd: dir.path })
    ])
    expect(discord.code).toBe(0)
    const shown = JSON.parse(discord.stdout) as { file: string; settings: StreamingSettings }
    expect(shown.file).toBe(file)
    expect(shown.settings.blockStreaming).toBe(true)
    expect(shown.settings.textChunkLimit).toBe(2000)
    expect(shown.settings.maxLinesPerMessage).toBe(17)
    expect(shown.settings.coalesce).toMatchObject({ minChars: 1200, maxChars: 1200, idleMs: 1000 })
    expect(shown.settings.humanDelay.mode).toBe("natural")
    // the agent's own humanDelay wins over the defaults
    expect(bob.code).toBe(0)
    expect(bob.stdout).toMatch(/human delay\s+off/)
    expect(bob.stdout).toMatch(/max lines\/message\s+17/)
    // no config at all: built-in defaults, telegram draft streaming shown
    expect(defaults.stdout).toContain("config: none (built-in defaults)")
    expect(defaults.stdout).toMatch(/stream mode\s+partial/)
  })

  it("show: a bad config file fails with exit 3 naming the key; an unknown agent is warned about", async () => {
    using dir = tempDir()
    writeFileSync(join(dir.path, "bad.json"), JSON.stringify(bad))
    writeFileSync(join(dir.path, "good.json"), JSON.stringify(good))
    const [r, w] = await Promise.all([
      sluice(["config", "show", "--channel", "slack", "--config", "bad.json"], { cwd: dir.path }),
      sluice(["config", "show", "--channel", "slack", "--agent", "nobody", "--config", "good.json"], { cwd: dir.path })
    ])
    expect(r.code).toBe(3)
    expect(r.stderr).toContain("agents.defaults.humanDelay.mode")
    expect(noStack(r.stderr)).toBe(true)
    expect(w.code).toBe(0)
    expect(w.stderr).toContain('agent "nobody" is not in agents.list')
  })
})
