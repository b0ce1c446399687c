import { FetchHttpClient, HttpLayerRouter, HttpServer } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { ChannelHub, Markdown, OutboundSplitter, SlackChannel, TelegramChannel, WhatsAppChannel } from "@sluice/channels"
import { Config, Conversations, Model } from "@sluice/core"
import { Context, Effect, Layer } from "effect"
import { createServer } from "node:http"
import { FakeSlack } from "@sluice/channels/fakes/FakeSlack"
import { FakeTelegram } from "@sluice/channels/fakes/FakeTelegram"
import { FakeWhatsApp } from "@sluice/channels/fakes/FakeWhatsApp"
import * as Webhooks from "../src/Webhooks.js"
import * as SqliteStore from "@sluice/core/sqlite/SqliteStore"

const SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
const TG_SECRET = "tg-secret-1"
const WA_SECRET = "wa-app-secret"

const fake = <F extends { start: () => Promise<F>; close: () => Promise<void> }>(make: () => F) =>
  Effect.acquireRelease(
    Effect.promise(() => make().start()),
    (f) => Effect.promise(() => f.close())
  )
const waitUntil = (what: string, cond: () => boolean, timeoutMs = 8000) =>
  Effect.promise(async () => {
    const until = Date.now() + timeoutMs
    while (!cond()) {
      if (Date.now() > until) throw new Error(`timed out waiting for ${what}`)
      await new Promise((r) => setTimeout(r, 10))
    }
  })

/** Real server on 127.0.0.1:0 with the webhook routes, a hub over Slack + Telegram(webhook) fakes, real Conversations. */
const setup = Effect.gen(function* () {
  const slack = yield* fake(() => new FakeSlack("xoxb-1"))
  const tg = yield* fake(() => new FakeTelegram("1:T"))
  const wa = yield* fake(() => new FakeWhatsApp("EAAG", "106540352242922"))
  const adapters = Effect.all([
    SlackChannel.make({ accountId: "acme", token: "xoxb-1", signingSecret: SECRET, baseUrl: slack.url, minIntervalMs: 10 }),
    TelegramChannel.make({ accountId: "bot", token: "1:T", baseUrl: tg.url, receive: "webhook", webhookSecret: TG_SECRET, minIntervalMs: 10 }),
    WhatsAppChannel.make({
      accountId: "shop",
      phoneNumberId: "106540352242922",
      token: "EAAG",
      appSecret: WA_SECRET,
      verifyToken: "verify-me",
      baseUrl: wa.url,
      rateLimitBackoffMs: 20
    })
  ]).pipe(Effect.provide(FetchHttpClient.layer))
  const hubLayer = Layer.scoped(
    ChannelHub.ChannelHub,
    Effect.flatMap(adapters, (as) => ChannelHub.make({ adapters: as, config: Config.decodeSync({ channels: { slack: { textChunkLimit: 500 } } }) }))
  ).pipe(Layer.provideMerge(SqliteStore.layerConversationsMemory()), Layer.provide(Model.layerScripted({ tokensPerSecond: 0 })))
  const server = HttpLayerRouter.serve(Webhooks.layer, { disableListenLog: true, disableLogger: true }).pipe(
    Layer.provideMerge(hubLayer),
    Layer.provideMerge(NodeHttpServer.layer(createServer, { host: "127.0.0.1", port: 0 }))
  )
  const ctx = yield* Layer.build(server)
  const address = Context.get(ctx, HttpServer.HttpServer).address
  const base = address._tag === "TcpAddress" ? `http://127.0.0.1:${address.port}` : ""
  return { slack, tg, wa, base, conversations: Context.get(ctx, Conversations.Conversations) }
})

const post = (url: string, body: string, headers: Record<string, string>) =>
  Effect.promise(() => fetch(url, { method: "POST", body, headers }).then(async (r) => ({ status: r.status, text: await r.text() })))

const finalOf = (conversations: Conversations.ConversationsService, id: string) =>
  Effect.gen(function* () {
    for (let i = 0; i < 800; i++) {
      const h = yield* conversations.history(id)
      const a = h.find((m) => m.role === "assistant" && m.status === "complete")
      if (a !== undefined) return a.text
      yield* Effect.promise(() => new Promise((r) => setTimeout(r, 10)))
    }
    return yield* Effect.die(new Error("no reply"))
  })

describe("Webhooks on a real NodeHttpServer", () => {
  it.scopedLive("Slack: url_verification, then a signed message event is answered in the channel, exactly, through a 429 storm", () =>
    Effect.gen(function* () {
      const { base, conversations, slack } = yield* setup
      const now = Math.floor(Date.now() / 1000)
      const challenge = JSON.stringify({ token: "t", challenge: "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P", type: "url_verification" })
      const c = yield* post(`${base}/webhooks/slack/acme`, challenge, FakeSlack.sign(SECRET, challenge, now))
      expect(c).toEqual({ status: 200, text: JSON.stringify({ challenge: "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P" }) })

      slack.rateLimitNext(3, 0.05)
      const body = FakeSlack.messageEvent({ channel: "C42", user: "U1", text: "How should I plan a database migration?", eventId: "Ev1" })
      const r = yield* post(`${base}/webhooks/slack/acme`, body, FakeSlack.sign(SECRET, body, now))
      expect(r.status).toBe(200)
      // Slack retries the same event: acknowledged, not processed twice
      const again = yield* post(`${base}/webhooks/slack/acme`, body, { ...FakeSlack.sign(SECRET, body, now), "x-slack-retry-num": "1" })
      expect(again.status).toBe(200)

      const final = yield* finalOf(conversations, "slack:acme:C42")
      const expected = OutboundSplitter.split(final, { limit: 500 }).map((p) => Markdown.render(p, "slack"))
      expect(expected.length).toBeGreaterThan(1)
      yield* waitUntil("slack posts", () => slack.posted.length >= expected.length)
      yield* Effect.sleep(150)
      expect(slack.posted.map((p) => p.text)).toEqual(expected)
      expect(slack.posted.every((p) => p.channel === "C42" && p.text.length <= 500)).toBe(true)
      expect(slack.calls.filter((m) => m === "chat.postMessage").length).toBe(expected.length + 3)
      const list = yield* conversations.list()
      expect(list.map((s) => [s.conversationId, s.owner])).toEqual([["slack:acme:C42", "slack:acme"]])
    })
  )

  it.scopedLive("rejects a bad signature, a replayed timestamp, a malformed body or a wrong secret, and nothing reaches a conversation", () =>
    Effect.gen(function* () {
      const { base, conversations, slack, tg } = yield* setup
      const now = Math.floor(Date.now() / 1000)
      const body = FakeSlack.messageEvent({ channel: "C1", user: "U1", text: "hi" })
      const badSig = yield* post(`${base}/webhooks/slack/acme`, body, FakeSlack.sign("wrong-secret", body, now))
      const replay = yield* post(`${base}/webhooks/slack/acme`, body, FakeSlack.sign(SECRET, body, now - 301))
      const tampered = yield* post(`${base}/webhooks/slack/acme`, body.replace("hi", "pay me"), FakeSlack.sign(SECRET, body, now))
      const unsigned = yield* post(`${base}/webhooks/slack/acme`, body, { "content-type": "application/json" })
      const malformed = yield* post(`${base}/webhooks/slack/acme`, "{not json", FakeSlack.sign(SECRET, "{not json", now))
      expect([badSig.status, replay.status, tampered.status, unsigned.status, malformed.status]).toEqual([401, 401, 401, 401, 400])

      const update = JSON.stringify(tg.update({ chatId: 5, text: "hello" }))
      const tgBad = yield* post(`${base}/webhooks/telegram/bot`, update, { "x-telegram-bot-api-secret-token": "guess" })
      const tgNone = yield* post(`${base}/webhooks/telegram/bot`, update, {})
      const tgMalformed = yield* post(`${base}/webhooks/telegram/bot`, "[]", { "x-telegram-bot-api-secret-token": TG_SECRET })
      const unknown = yield* post(`${base}/webhooks/telegram/nobody`, update, { "x-telegram-bot-api-secret-token": TG_SECRET })
      expect([tgBad.status, tgNone.status, tgMalformed.status, unknown.status]).toEqual([401, 401, 400, 404])

      yield* Effect.sleep(200)
      expect(yield* conversations.list()).toEqual([])
      expect(slack.posted).toEqual([])
      expect(tg.sent).toEqual([])
    })
  )

  it.scopedLive("Telegram webhook with the right secret: the reply is delivered to the chat", () =>
    Effect.gen(function* () {
      const { base, conversations, tg } = yield* setup
      const update = JSON.stringify(tg.update({ chatId: -77, text: "What is a monad?" }))
      const r = yield* post(`${base}/webhooks/telegram/bot`, update, { "x-telegram-bot-api-secret-token": TG_SECRET })
      expect(r.status).toBe(200)
      const final = yield* finalOf(conversations, "telegram:bot:-77")
      const expected = OutboundSplitter.split(final, { limit: 4000 }).map((p) => Markdown.render(p, "telegram-html"))
      yield* waitUntil("telegram messages", () => tg.sent.length >= expected.length)
      yield* Effect.sleep(100)
      expect(tg.sent.map((m) => m.text)).toEqual(expected)
    })
  )

  it.scopedLive("WhatsApp: verification challenge, signature check, and a reply delivered through a throughput-limit storm", () =>
    Effect.gen(function* () {
      const { base, conversations, wa } = yield* setup
      const get = (q: string) => Effect.promise(() => fetch(`${base}/webhooks/whatsapp/shop?${q}`).then(async (r) => ({ status: r.status, text: await r.text() })))
      expect(yield* get("hub.mode=subscribe&hub.verify_token=verify-me&hub.challenge=1158201444")).toEqual({ status: 200, text: "1158201444" })
      expect((yield* get("hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1")).status).toBe(403)

      const payload = wa.payload("16315551234", "Give me a packing list for a weekend hike")
      const bad = yield* post(`${base}/webhooks/whatsapp/shop`, payload, { "x-hub-signature-256": "sha256=00" })
      const malformed = yield* post(`${base}/webhooks/whatsapp/shop`, "{}", FakeWhatsApp.sign(WA_SECRET, "{}"))
      expect([bad.status, malformed.status]).toEqual([401, 400])
      expect(yield* conversations.list()).toEqual([])

      wa.rateLimitNext(3)
      const ok = yield* post(`${base}/webhooks/whatsapp/shop`, payload, FakeWhatsApp.sign(WA_SECRET, payload))
      expect(ok).toEqual({ status: 200, text: "EVENT_RECEIVED" })
      const final = yield* finalOf(conversations, "whatsapp:shop:16315551234")
      const expected = OutboundSplitter.split(final, { limit: 4000 }).map((p) => Markdown.render(p, "whatsapp"))
      yield* waitUntil("whatsapp messages", () => wa.sent.length >= expected.length)
      yield* Effect.sleep(100)
      expect(wa.sent.map((m) => [m.to, m.body])).toEqual(expected.map((e) => ["16315551234", e]))
      expect(wa.calls.length).toBe(expected.length + 3)
    })
  )
})
