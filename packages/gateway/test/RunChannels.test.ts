import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { FakeTelegram } from "@sluice/channels/fakes/FakeTelegram"
import { Conversations, Model } from "@sluice/core"
import * as SqliteStore from "@sluice/core/sqlite/SqliteStore"
import { Effect, Exit, Fiber, Layer } from "effect"
import { Gateway } from "../src/index.js"
import { connect } from "./support/harness.js"

const waitFor = async (ok: () => boolean, ms: number, what: string) => {
  const t0 = Date.now()
  while (!ok()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

describe("Gateway.run with channel accounts in the config file", () => {
  it("starts the Telegram account the config names (token from the environment) and answers a chat", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sluice-runch-"))
    const tg = await new FakeTelegram("123:abc", { floodIntervalMs: 0 }).start()
    process.env.SLUICE_TEST_TG_TOKEN = "123:abc"
    try {
      const configFile = join(dir, "sluice.json")
      writeFileSync(
        configFile,
        JSON.stringify({
          model: { provider: "offline", offline: { tokensPerSecond: 0, words: 40 } },
          channels: { telegram: { accounts: { support: { token: "$SLUICE_TEST_TG_TOKEN", baseUrl: tg.url, streamMode: "off" } } } }
        })
      )
      let info: Gateway.Info | undefined
      const fiber = Effect.runFork(
        Gateway.run({ port: 0, dataDir: join(dir, "data"), configFile, announce: false, tokens: [], onListening: (i) => (info = i) })
      )
      await waitFor(() => info !== undefined || fiber.unsafePoll() !== null, 20_000, "the gateway")
      expect(fiber.unsafePoll()).toBeNull()
      tg.pushMessage({ chatId: 42, text: "hello from telegram" })
      await waitFor(() => tg.sent.some((m) => m.chatId === 42), 20_000, "a reply in the chat")
      expect(tg.sent[0]!.visible).toContain("Offline demo model")
      const list = (await (await fetch(`${info!.url}v1/conversations`)).json()) as { conversations?: Array<{ conversationId: string }> }
      expect(JSON.stringify(list)).not.toContain("telegram:support:42") // another principal's conversation
      const exit = await Effect.runPromise(Fiber.interrupt(fiber))
      expect(Exit.isInterrupted(exit)).toBe(true)
    } finally {
      delete process.env.SLUICE_TEST_TG_TOKEN
      await tg.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it("restarted on the same data directory, long polling from offset 0 again answers nothing twice", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sluice-runch-"))
    const tg = await new FakeTelegram("123:abc", { floodIntervalMs: 0 }).start()
    process.env.SLUICE_TEST_TG_TOKEN = "123:abc"
    const start = async () => {
      let info: Gateway.Info | undefined
      const fiber = Effect.runFork(
        Gateway.run({ port: 0, dataDir: join(dir, "data"), configFile: join(dir, "sluice.json"), announce: false, tokens: [], onListening: (i) => (info = i) })
      )
      await waitFor(() => info !== undefined || fiber.unsafePoll() !== null, 20_000, "the gateway")
      expect(fiber.unsafePoll()).toBeNull()
      return fiber
    }
    try {
      writeFileSync(
        join(dir, "sluice.json"),
        JSON.stringify({
          model: { provider: "offline", offline: { tokensPerSecond: 0, words: 20 } },
          channels: { telegram: { token: "$SLUICE_TEST_TG_TOKEN", baseUrl: tg.url, streamMode: "off", blockStreaming: false } }
        })
      )
      const first = await start()
      tg.pushMessage({ chatId: 42, text: "first" })
      tg.pushMessage({ chatId: 42, text: "second" })
      await waitFor(() => tg.sent.filter((m) => m.chatId === 42).length >= 2, 20_000, "two replies")
      await Effect.runPromise(Fiber.interrupt(first))
      // The restart polls from offset 0 and gets both messages again (their offset never confirmed).
      expect(tg.replayAll()).toBe(2)
      const second = await start()
      await waitFor(() => tg.updatesServed >= 2, 20_000, "the old updates served again")
      tg.pushMessage({ chatId: 42, text: "third" })
      await waitFor(() => tg.sent.filter((m) => m.chatId === 42).length >= 3, 20_000, "the third reply")
      await new Promise((r) => setTimeout(r, 500))
      // Answered once each: the two replayed messages were recognised by their message ids.
      await Effect.runPromise(Fiber.interrupt(second))
      // The conversation holds each message once, and nothing answered them twice.
      const history = await Effect.runPromise(
        Effect.flatMap(Conversations.Conversations, (c) => c.history("telegram:default:42")).pipe(
          Effect.provide(SqliteStore.layerConversations({ dataDir: join(dir, "data") }).pipe(Layer.provide(Model.layerScripted({})))),
          Effect.scoped
        )
      )
      expect(history.filter((m) => m.role === "user").map((m) => m.text)).toEqual(["first", "second", "third"])
      expect(tg.sent.filter((m) => m.chatId === 42)).toHaveLength(3)
    } finally {
      delete process.env.SLUICE_TEST_TG_TOKEN
      await tg.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it("a $VARIABLE credential that is not set fails start-up naming the key", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sluice-runch-"))
    try {
      const configFile = join(dir, "sluice.json")
      writeFileSync(configFile, JSON.stringify({ channels: { slack: { token: "$SLUICE_TEST_UNSET_TOKEN" } } }))
      const exit = await Effect.runPromiseExit(
        Gateway.run({ port: 0, dataDir: join(dir, "data"), configFile, announce: false, tokens: [] })
      )
      expect(Exit.isFailure(exit)).toBe(true)
      expect(String(Exit.isFailure(exit) ? exit.cause : "")).toContain("channels.slack.token: environment variable SLUICE_TEST_UNSET_TOKEN is not set")
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe("Gateway.run limits from the config file", () => {
  it("gateway.limits.maxBodyBytes from the file is enforced (413); a flag-level option wins", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sluice-runlim-"))
    try {
      const configFile = join(dir, "sluice.json")
      writeFileSync(configFile, JSON.stringify({ gateway: { limits: { maxBodyBytes: 200, burst: 5 } } }))
      const o = Gateway.resolveRunOptions({ limits: { burst: 9 } }, { gateway: { limits: { maxBodyBytes: 200, burst: 5 } } }, {})
      expect(o.limits).toEqual({ maxBodyBytes: 200, burst: 9 })
      let info: Gateway.Info | undefined
      const fiber = Effect.runFork(
        Gateway.run({ port: 0, dataDir: join(dir, "data"), configFile, announce: false, tokens: [], onListening: (i) => (info = i) })
      )
      await waitFor(() => info !== undefined || fiber.unsafePoll() !== null, 20_000, "the gateway")
      const post = (text: string) =>
        fetch(`${info!.url}v1/conversations/lim/messages`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ text })
        })
      expect((await post("x".repeat(400))).status).toBe(413)
      expect((await post("short")).status).toBe(202)
      await Effect.runPromise(Fiber.interrupt(fiber))
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe("Gateway.run streaming settings from the config file", () => {
  const runWith = async (config: unknown) => {
    const dir = mkdtempSync(join(tmpdir(), "sluice-runset-"))
    const configFile = join(dir, "sluice.json")
    writeFileSync(configFile, JSON.stringify(config))
    let info: Gateway.Info | undefined
    const fiber = Effect.runFork(Gateway.run({ port: 0, dataDir: join(dir, "data"), configFile, announce: false, tokens: [], onListening: (i) => (info = i) }))
    await waitFor(() => info !== undefined || fiber.unsafePoll() !== null, 20_000, "the gateway")
    try {
      const ws = await connect(info!.wsUrl)
      const res = await ws.request({ type: "send", conversationId: "set", text: "Tell me about canal locks in detail" })
      expect(res.ok).toBe(true)
      await ws.request({ type: "subscribe", conversationId: "set", fromSeq: 0 })
      await ws.runEnded("set", 30_000)
      const tags = ws.events("set").map((e) => e._tag as string)
      ws.close()
      return tags
    } finally {
      await Effect.runPromise(Fiber.interrupt(fiber))
      rmSync(dir, { recursive: true, force: true })
    }
  }
  const offline = { provider: "offline", offline: { tokensPerSecond: 0, words: 300 } }

  it("agents.defaults.blockStreamingDefault off reaches sends over the WebSocket: no Blocks, the Final whole", async () => {
    const on = await runWith({ model: offline })
    expect(on).toContain("Block")
    const off = await runWith({ model: offline, agents: { defaults: { blockStreamingDefault: "off" } } })
    expect(off).not.toContain("Block")
    expect(off).toContain("Final")
  }, 60_000)
})
