import { NodeFileSystem } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import fc from "fast-check"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Config, StreamingSettings } from "../src/index.js"

const decodeIssues = (input: unknown) =>
  Effect.runSync(Effect.either(Config.decode(input))).pipe(
    Either.match({ onLeft: (e) => e.issues, onRight: () => [] as ReadonlyArray<Config.ConfigIssue> })
  )

describe("Config.resolve defaults", () => {
  it("no config, no channel: blocks on, 800/1200 paragraph, coalesce 800/1200/1000 with a blank-line joiner", () => {
    const s = Config.resolve(Config.empty)
    expect(s).toEqual(StreamingSettings.defaults)
    expect(s.chunk).toEqual({ minChars: 800, maxChars: 1200, breakPreference: "paragraph", flushOnParagraph: false })
    expect(s.coalesce).toEqual({ minChars: 800, maxChars: 1200, idleMs: 1000, joiner: "\n\n" })
    expect(s.humanDelay.mode).toBe("off")
    expect(s.textChunkLimit).toBe(4000)
  })

  it("Discord: limit 2000, 17 lines, coalescer 1200/1200/1000 (1500 clamped to the chunk max)", () => {
    const s = Config.resolve({}, { channel: "discord" })
    expect(s.textChunkLimit).toBe(2000)
    expect(s.maxLinesPerMessage).toBe(17)
    expect(s.chunk.maxChars).toBe(1200)
    expect(s.coalesce).toEqual({ minChars: 1200, maxChars: 1200, idleMs: 1000, joiner: "\n\n" })
  })

  it("chunk maxChars is clamped to a small channel limit, and minChars to maxChars", () => {
    const s = Config.resolve(
      { agents: { defaults: { blockStreamingChunk: { minChars: 900, maxChars: 3000 } } }, channels: { slack: { textChunkLimit: 700 } } },
      { channel: "slack" }
    )
    expect(s.chunk).toMatchObject({ minChars: 700, maxChars: 700 })
    expect(s.coalesce).toMatchObject({ minChars: 700, maxChars: 700 })
    expect(Config.resolve({}, { channel: "sms" }).chunk.maxChars).toBe(1200)
    expect(Config.resolve({}, { channel: "sms" }).coalesce.maxChars).toBe(1200)
    expect(Config.resolve({ agents: { defaults: { blockStreamingChunk: { maxChars: 3000 } } } }, { channel: "sms" }).chunk.maxChars).toBe(1500)
  })

  it("Slack and Signal raise the coalesce minimum to 1500 before clamping; an explicit minChars wins", () => {
    const cfg = { agents: { defaults: { blockStreamingChunk: { minChars: 1000, maxChars: 3000 } } } }
    expect(Config.resolve(cfg, { channel: "slack" }).coalesce).toMatchObject({ minChars: 1500, maxChars: 3000 })
    // Signal's limit is 2000 (2 KiB inline body), the same number its adapter splits at.
    expect(Config.resolve(cfg, { channel: "signal" }).textChunkLimit).toBe(2000)
    expect(Config.resolve(cfg, { channel: "signal" }).coalesce).toMatchObject({ minChars: 1500, maxChars: 2000 })
    expect(Config.resolve(cfg, { channel: "telegram" }).coalesce).toMatchObject({ minChars: 1000, maxChars: 3000 })
    const explicit = { ...cfg, channels: { slack: { blockStreamingCoalesce: { minChars: 200 } } } }
    expect(Config.resolve(explicit, { channel: "slack" }).coalesce.minChars).toBe(200)
  })

  it("preview streaming: Telegram drafts on by default, Slack/Discord edit previews opt-in, none elsewhere", () => {
    expect(Config.resolve({}, { channel: "telegram" }).streamMode).toBe("partial")
    expect(Config.resolve({}, { channel: "slack" }).streamMode).toBe("off")
    const cfg = Config.decodeSync({ channels: { slack: { streamMode: "block", draftChunk: { minChars: 100 } } } })
    expect(Config.resolve(cfg, { channel: "slack" })).toMatchObject({ streamMode: "block", draftChunk: { minChars: 100, maxChars: 800 } })
    expect(Config.resolve({}, { channel: "discord" }).streamMode).toBe("off")
    expect(Config.resolve({}, { channel: "whatsapp" }).streamMode).toBeUndefined()
  })

  it("joiner follows the break preference; chunkMode newline turns on flushOnParagraph", () => {
    const s = Config.resolve(
      { agents: { defaults: { blockStreamingChunk: { breakPreference: "newline" } } }, channels: { whatsapp: { chunkMode: "newline", blockStreaming: true } } },
      { channel: "whatsapp" }
    )
    expect(s.coalesce.joiner).toBe("\n")
    expect(s.chunk.flushOnParagraph).toBe(true)
    expect(s.chunkMode).toBe("newline")
    expect(Config.resolve({ agents: { defaults: { blockStreamingChunk: { breakPreference: "sentence" } } } }).coalesce.joiner).toBe(" ")
  })

  it("humanDelay: natural is 800-2500 whatever min/max say; custom fills the missing bound", () => {
    expect(Config.resolve({ agents: { defaults: { humanDelay: { mode: "natural", minMs: 5 } } } }).humanDelay).toEqual({
      mode: "natural",
      minMs: 800,
      maxMs: 2500
    })
    expect(Config.resolve({ agents: { defaults: { humanDelay: { mode: "custom", maxMs: 300 } } } }).humanDelay).toEqual({
      mode: "custom",
      minMs: 800,
      maxMs: 300
    })
  })
})

describe("Config.resolve block streaming switch", () => {
  it("non-Telegram channels are off unless blockStreaming is true, even with blockStreamingDefault on", () => {
    const on = { agents: { defaults: { blockStreamingDefault: "on" as const } } }
    expect(Config.resolve(on, { channel: "discord" }).blockStreaming).toBe(false)
    expect(Config.resolve(on, { channel: "discord" }).blockStreamingBreak).toBe("message_end")
    expect(Config.resolve({ channels: { discord: { blockStreaming: true } } }, { channel: "discord" }).blockStreaming).toBe(true)
    expect(Config.resolve({ channels: { discord: { blockStreaming: "on" } } }, { channel: "discord" }).blockStreaming).toBe(true)
  })

  it("Telegram follows blockStreamingDefault (off by default) and has draft settings", () => {
    const t = Config.resolve({}, { channel: "telegram" })
    expect(t.blockStreaming).toBe(false)
    expect(t.streamMode).toBe("partial")
    expect(t.draftChunk).toEqual({ minChars: 200, maxChars: 800, breakPreference: "paragraph" })
    expect(Config.resolve({ agents: { defaults: { blockStreamingDefault: "on" } } }, { channel: "telegram" }).blockStreaming).toBe(true)
    expect(Config.resolve({}, { channel: "discord" }).streamMode).toBe("off")
    expect(Config.resolve({}, { channel: "whatsapp" }).streamMode).toBeUndefined()
  })

  it("web/terminal (no channel) is on unless blockStreamingDefault is off; message_end is kept when on", () => {
    expect(Config.resolve({}).blockStreaming).toBe(true)
    expect(Config.resolve({ agents: { defaults: { blockStreamingDefault: "off" } } }).blockStreaming).toBe(false)
    expect(Config.resolve({ agents: { defaults: { blockStreamingBreak: "message_end" } } }).blockStreamingBreak).toBe("message_end")
  })
})

describe("Config.resolve precedence", () => {
  const cfg: Config.Config = {
    agents: {
      defaults: {
        blockStreamingCoalesce: { minChars: 100, maxChars: 1000, idleMs: 100 },
        humanDelay: { mode: "natural" }
      },
      list: [{ id: "poet", blockStreamingCoalesce: { idleMs: 200 }, humanDelay: { mode: "custom", minMs: 10, maxMs: 20 } }]
    },
    channels: {
      telegram: {
        textChunkLimit: 3000,
        blockStreamingCoalesce: { minChars: 300 },
        streamMode: "block",
        accounts: {
          work: { blockStreamingCoalesce: { minChars: 400, idleMs: 400 }, textChunkLimit: 900, streamMode: "off" },
          "my.bot": { chunkMode: "newline" }
        }
      }
    }
  }

  it("account beats channel beats agent beats agent defaults, field by field", () => {
    const agentOnly = Config.resolve(cfg, { agentId: "poet" })
    expect(agentOnly.coalesce).toMatchObject({ minChars: 100, idleMs: 200 })
    expect(agentOnly.humanDelay).toEqual({ mode: "custom", minMs: 10, maxMs: 20 })

    const channel = Config.resolve(cfg, { agentId: "poet", channel: "telegram" })
    expect(channel.coalesce).toMatchObject({ minChars: 300, maxChars: 1000, idleMs: 200 })
    expect(channel.textChunkLimit).toBe(3000)
    expect(channel.streamMode).toBe("block")

    const account = Config.resolve(cfg, { agentId: "poet", channel: "telegram", accountId: "work" })
    expect(account.coalesce).toMatchObject({ minChars: 400, idleMs: 400 })
    expect(account.textChunkLimit).toBe(900)
    expect(account.chunk.maxChars).toBe(900)
    expect(account.coalesce.maxChars).toBe(900)
    expect(account.streamMode).toBe("off")
    expect(account.draftChunk?.maxChars).toBe(800)

    expect(Config.resolve(cfg, { channel: "telegram", accountId: "my.bot" }).chunk.flushOnParagraph).toBe(true)
  })

  it("an unknown agent or account has no overrides of its own", () => {
    expect(Config.resolve(cfg, { agentId: "nobody" }).humanDelay.mode).toBe("natural")
    expect(Config.resolve(cfg, { channel: "telegram", accountId: "nobody" }).textChunkLimit).toBe(3000)
  })
})

describe("Config.decode", () => {
  it("accepts a full configuration", () => {
    const input = {
      agents: {
        defaults: {
          blockStreamingDefault: "on",
          blockStreamingBreak: "message_end",
          blockStreamingChunk: { minChars: 10, maxChars: 20, breakPreference: "sentence" },
          blockStreamingCoalesce: { minChars: 1, maxChars: 2, idleMs: 0 },
          humanDelay: { mode: "custom", minMs: 0, maxMs: 10 }
        },
        list: [{ id: "a", humanDelay: { mode: "off" } }]
      },
      channels: {
        discord: { blockStreaming: true, maxLinesPerMessage: 10, accounts: { x: { textChunkLimit: 100 } } },
        telegram: { streamMode: "block", draftChunk: { minChars: 1, maxChars: 2 } }
      },
      gateway: { host: "127.0.0.1", port: 0, dataDir: "/tmp/x", tokens: ["t"] },
      model: {},
      reasoning: {},
      conversations: {}
    }
    expect(Config.decodeSync(input)).toEqual(input)
  })

  it("reports an unknown key with its path, at any depth, and all of them at once", () => {
    const issues = decodeIssues({
      agent: {},
      agents: { defaults: { blockStreamingChunk: { maxChar: 5 } }, list: [{ id: "a", humandelay: {} }] },
      channels: { discord: { accounts: { "my.bot": { textChunkLimitt: 1 } } }, irc: {} }
    })
    const paths = issues.map((i) => i.path)
    expect(paths).toEqual(
      expect.arrayContaining([
        "agent",
        "agents.defaults.blockStreamingChunk.maxChar",
        "agents.list[0].humandelay",
        'channels.discord.accounts["my.bot"].textChunkLimitt',
        "channels.irc"
      ])
    )
    expect(issues).toHaveLength(5)
    expect(issues.find((i) => i.path === "channels.irc")?.message).toMatch(/unknown key.*"telegram"/)
  })

  it("names the path and what was expected for a bad value", () => {
    const issues = decodeIssues({
      agents: {
        defaults: { blockStreamingChunk: { maxChars: "abc" }, humanDelay: { mode: "slow" }, blockStreamingCoalesce: { idleMs: -1 } },
        list: [{ id: "a" }, { id: "a" }, { name: "no id" }]
      },
      channels: { discord: { blockStreaming: "yes" }, telegram: 5 },
      gateway: { port: 70000 }
    })
    const byPath = Object.fromEntries(issues.map((i) => [i.path, i.message]))
    expect(byPath["agents.defaults.blockStreamingChunk.maxChars"]).toBe('expected a positive integer, got "abc"')
    expect(byPath["agents.defaults.humanDelay.mode"]).toBe('expected one of "off" | "natural" | "custom", got "slow"')
    expect(byPath["agents.defaults.blockStreamingCoalesce.idleMs"]).toBe("expected a non-negative integer, got -1")
    expect(byPath["agents.list[2].id"]).toMatch(/missing/i)
    expect(byPath["channels.discord.blockStreaming"]).toBe('expected true | false | "on" | "off", got "yes"')
    expect(byPath["channels.telegram"]).toBe("expected an object, got 5")
    expect(byPath["gateway.port"]).toBe("expected a port number (0-65535), got 70000")
  })

  it("reports duplicate agent ids", () => {
    const issues = decodeIssues({ agents: { list: [{ id: "a" }, { id: "b" }, { id: "a" }] } })
    expect(issues).toEqual([{ path: "agents.list[2].id", message: 'duplicate agent id "a" (first at agents.list[0])' }])
  })

  it("the error message lists every issue on its own line", () => {
    const exit = Effect.runSyncExit(Config.decode({ agents: { defaults: { humanDelay: { minMs: "x" } } }, nope: 1 }))
    expect(exit._tag).toBe("Failure")
    const error = Effect.runSync(Effect.flip(Config.decode({ agents: { defaults: { humanDelay: { minMs: "x" } } }, nope: 1 })))
    expect(error._tag).toBe("ConfigError")
    expect(error.message).toContain('agents.defaults.humanDelay.minMs: expected a non-negative integer, got "x"')
    expect(error.message).toContain("nope: unknown key")
  })
})

describe("Config.load", () => {
  const withFile = (content: string) =>
    Effect.acquireRelease(
      Effect.sync(() => {
        const dir = mkdtempSync(join(tmpdir(), "sluice-config-"))
        const file = join(dir, "sluice.json")
        writeFileSync(file, content)
        return { dir, file }
      }),
      ({ dir }) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
    )

  it.scoped("reads a JSON file", () =>
    Effect.gen(function* () {
      const { file } = yield* withFile(JSON.stringify({ channels: { discord: { blockStreaming: true } } }))
      const cfg = yield* Config.load(file)
      expect(Config.resolve(cfg, { channel: "discord" }).blockStreaming).toBe(true)
    }).pipe(Effect.provide(NodeFileSystem.layer))
  )

  it.scoped("reports bad JSON, a bad key and a missing file with the file name", () =>
    Effect.gen(function* () {
      const bad = yield* withFile("{ agents: ")
      const e1 = yield* Effect.flip(Config.load(bad.file))
      expect(e1.file).toBe(bad.file)
      expect(e1.issues[0]?.message).toMatch(/not valid JSON/)

      const typo = yield* withFile(JSON.stringify({ agents: { defaults: { humanDelay: { mode: "natural", maxMS: 1 } } } }))
      const e2 = yield* Effect.flip(Config.load(typo.file))
      expect(e2.issues.map((i) => i.path)).toEqual(["agents.defaults.humanDelay.maxMS"])
      expect(e2.message).toContain(typo.file)

      const e3 = yield* Effect.flip(Config.load(join(bad.dir, "missing.json")))
      expect(e3.issues[0]?.message).toMatch(/cannot read/)
    }).pipe(Effect.provide(NodeFileSystem.layer))
  )
})

describe("Config.lint", () => {
  it("finds nothing in the defaults or a sensible file, and names each value problem by key path", () => {
    expect(Config.lint(Config.empty)).toEqual([])
    expect(Config.lint(Config.decodeSync({ agents: { defaults: { blockStreamingChunk: { minChars: 100, maxChars: 900 } } }, gateway: { host: "127.0.0.1" } }))).toEqual([])
    const found = Config.lint(
      Config.decodeSync({
        agents: { list: [{ id: "a", blockStreamingCoalesce: { minChars: 5, maxChars: 1 } }] },
        channels: { slack: { accounts: { x: { textChunkLimit: 5000 } } } }
      })
    )
    expect(found).toEqual([
      { level: "error", path: "agents.list[0].blockStreamingCoalesce.minChars", message: "minChars (5) is above maxChars (1)" },
      { level: "warning", path: "channels.slack.accounts.x.textChunkLimit", message: "5000 is above slack's limit of 4000; messages are cut at 4000" }
    ])
  })

  it("JSON errors are placed by line and column", () => {
    expect(Config.jsonErrorAt('{\n  "a": ,\n}', "Unexpected token ',', \"{\n  \"a\": ,\n}\" is not valid JSON at position 9")).toContain("line 2, column 8")
  })
})

describe("Config.decode on generated bad input (property)", () => {
  const valid = {
    agents: {
      defaults: {
        blockStreamingDefault: "on",
        blockStreamingChunk: { minChars: 10, maxChars: 20, breakPreference: "sentence" },
        blockStreamingCoalesce: { minChars: 1, maxChars: 2, idleMs: 0 },
        humanDelay: { mode: "custom", minMs: 0, maxMs: 10 }
      },
      list: [{ id: "a", humanDelay: { mode: "off" } }]
    },
    channels: {
      discord: { blockStreaming: true, maxLinesPerMessage: 10, accounts: { x: { textChunkLimit: 100 } } },
      telegram: { streamMode: "block", draftChunk: { minChars: 1, maxChars: 2 }, token: "t", parseMode: "HTML" },
      slack: { streamMode: "native", token: "x" }
    },
    gateway: { host: "127.0.0.1", port: 0, dataDir: "/tmp/x", tokens: ["t"], limits: { maxBodyBytes: 10, burst: 2 } },
    model: { maxTokens: 100, timeouts: { connectMs: 10, firstTokenMs: 20 }, retry: { maxAttempts: 2 }, offline: { words: 3 } },
    reasoning: {},
    conversations: {}
  }
  /** Every path into the valid file: objects, arrays and leaves. */
  const paths: Array<ReadonlyArray<string | number>> = []
  const walk = (v: unknown, at: ReadonlyArray<string | number>) => {
    if (at.length > 0) paths.push(at)
    if (Array.isArray(v)) {
      for (const [i, x] of v.entries()) walk(x, [...at, i])
    }
    else if (typeof v === "object" && v !== null) for (const [k, x] of Object.entries(v)) walk(x, [...at, k])
  }
  walk(valid, [])
  // Objects with a fixed set of keys (not maps such as `accounts`, where any key is an account).
  const objects = [[], ...paths].filter((p) => {
    if (p.at(-1) === "accounts") return false
    const v = p.reduce<unknown>((o, k) => (o as Record<string | number, unknown>)[k], valid)
    return typeof v === "object" && v !== null && !Array.isArray(v)
  })
  const setAt = (root: unknown, at: ReadonlyArray<string | number>, value: unknown): unknown => {
    if (at.length === 0) return value
    const [k, ...rest] = at
    const copy = (Array.isArray(root) ? [...root] : { ...(root as object) }) as Record<string | number, unknown>
    copy[k!] = setAt(copy[k!], rest, value)
    return copy
  }
  const get = (root: unknown, at: ReadonlyArray<string | number>) => at.reduce<unknown>((o, k) => (o as Record<string | number, unknown>)[k], root)
  const mutation = fc.oneof(
    fc.record({ kind: fc.constant("replace" as const), at: fc.constantFrom(...paths), value: fc.jsonValue({ maxDepth: 2 }) }),
    fc.record({ kind: fc.constant("unknown" as const), at: fc.constantFrom(...objects), key: fc.string({ minLength: 1, maxLength: 8 }).map((k) => `zz${k}`), value: fc.jsonValue({ maxDepth: 1 }) })
  )
  const within = (issue: string, changed: string) =>
    issue === changed ||
    issue.startsWith(`${changed}.`) ||
    issue.startsWith(`${changed}[`) ||
    (issue !== "" && (changed.startsWith(`${issue}.`) || changed.startsWith(`${issue}[`)))

  it("10,000 one-change files: never a throw; every issue is at the change (or the object holding it), in plain words", () => {
    expect(decodeIssues(valid)).toEqual([])
    let refused = 0
    fc.assert(
      fc.property(mutation, (m) => {
        const at = m.kind === "replace" ? m.at : [...m.at, m.key]
        const input = setAt(valid, at, m.value)
        const issues = decodeIssues(input)
        const changed = Config.formatPath(at)
        if (m.kind === "unknown") expect(issues).toEqual([{ path: changed, message: expect.stringMatching(/^unknown key/) }])
        if (issues.length > 0) refused++
        for (const i of issues) {
          expect(within(i.path, changed), `${i.path} for a change at ${changed}`).toBe(true)
          expect(i.message).not.toMatch(/Encoded side|Type side|<->|^$/)
        }
        // A change the schema accepts leaves the rest of the file as it was.
        if (issues.length === 0 && m.kind === "replace") expect(get(Config.decodeSync(input), at.slice(0, -1))).toBeDefined()
      }),
      { numRuns: 10_000, seed: 2026 }
    )
    expect(refused).toBeGreaterThan(5000)
  })
})
