/**
 * A 429 storm on Slack, WhatsApp and Discord, measured from outside, as `storm.ts` does for
 * Telegram: the gateway as users start it with the channel's account pointed at a fake of the
 * platform's API in its own process (`fakeWebhookChannel.ts` for Slack and WhatsApp,
 * `fakeDiscordStorm.ts` for Discord) that answers STORM of the calls to a chat 429, and the fake
 * Anthropic server answering in full. Each chat's questions arrive as a burst, as the platform
 * would send them: signed webhook calls (Slack's Events API with its `v0` signature; WhatsApp's
 * payload with `X-Hub-Signature-256`), or MESSAGE_CREATE dispatches on Discord's Gateway WebSocket.
 *
 * - Nothing lost, nothing twice: per chat, the messages the user would see (their latest text, in
 *   the order they were posted) are exactly the answers to that chat's questions, in the order the
 *   model was asked them (whitespace aside).
 * - Every question reached the model exactly once.
 * - The documented rate holds. Slack: calls to one channel (posts and updates, taken or refused) at
 *   least ~1 s apart (`chat.postMessage` is about 1 message per second per channel). Discord: no call
 *   runs into the channel's bucket (the fake's X-RateLimit-* headers say what is left; a client that
 *   follows them never gets the bucket's 429). WhatsApp's throughput limits are per number and
 *   tiered (not researched): only reported.
 */
import { createHmac } from "node:crypto"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { start } from "../streaming/procs.js"
import type { Answered } from "../../packages/channels/fakes/FakeDiscord.js"
import type { ChannelCall } from "./fakeWebhookChannel.js"
import { startGateway } from "./gateway.js"
import { checkChat, peakPerSecond, unasked, untilAnswered } from "./stormJudge.js"

export type StormChannel = "slack" | "whatsapp" | "discord"

export interface ChannelStormOptions {
  readonly channel: StormChannel
  readonly chats: number
  readonly questions: number
  readonly words: number
  readonly storm: number
  readonly seed: number
}

export interface ChannelStormResult {
  readonly replies: number
  readonly requests: { readonly taken: number; readonly refused: number }
  readonly messages: number
  readonly minGapMs: number
  readonly peakPerSecond: number
  readonly mismatched: number
  readonly failures: ReadonlyArray<string>
  readonly ms: number
}

const here = dirname(fileURLToPath(import.meta.url))
const GAP_MS = 900
const PHONE_ID = "106540352242922"
const SECRET = "stress-signing-secret"
const DISCORD_TOKEN = "stress-discord-token"

export const chatIdOf = (channel: StormChannel, c: number) =>
  channel === "slack" ? `D${100 + c}` : channel === "discord" ? String(2000 + c) : `4915${String(c).padStart(6, "0")}`

/** Per chat: the answers once each, in order; each question asked once; (Slack) calls ≥ 900 ms apart. */
export const judgeStorm = (
  channel: StormChannel,
  stats: {
    readonly calls: Readonly<Record<string, ReadonlyArray<ChannelCall>>>
    readonly texts: Readonly<Record<string, ReadonlyArray<string>>>
    /** Discord: calls the channel's bucket refused (a client that follows X-RateLimit-* gets none). */
    readonly bucketRefused?: number
  },
  prompts: ReadonlyArray<string>,
  chats: number,
  words: number
) => {
  const failures: Array<string> = []
  let minGapMs = Number.POSITIVE_INFINITY
  let mismatched = 0
  const all: Array<number> = []
  for (let c = 0; c < chats; c++) {
    const chatId = chatIdOf(channel, c)
    const chat = checkChat(c, chatId, prompts, (stats.texts[chatId] ?? []).join(""), words)
    failures.push(...chat.failures)
    if (chat.mismatched) mismatched++
    const list = stats.calls[chatId] ?? []
    for (let i = 1; i < list.length; i++) minGapMs = Math.min(minGapMs, list[i]!.t - list[i - 1]!.t)
    const under = list.filter((x, i) => i > 0 && x.t - list[i - 1]!.t < GAP_MS).length
    if (channel === "slack" && under > 0) failures.push(`chat ${chatId}: ${under} calls less than ${GAP_MS} ms after the one before`)
    all.push(...list.map((x) => x.t))
  }
  if ((stats.bucketRefused ?? 0) > 0) failures.push(`${stats.bucketRefused} calls ran into a channel's rate-limit bucket (X-RateLimit-Remaining was 0)`)
  return { failures, minGapMs, mismatched, peakPerSecond: peakPerSecond(all) }
}

/** The platform's webhook call for one question: its body and signature headers. */
const webhookCall = (channel: StormChannel, c: number, q: number, now: number) => {
  const text = `chat${c} question${q}`
  if (channel === "slack") {
    const body = JSON.stringify({
      type: "event_callback",
      team_id: "T0STRESS",
      event_id: `Ev${c}x${q}`,
      event: { type: "message", channel: chatIdOf(channel, c), channel_type: "im", user: `U${c}`, text, ts: `${1_700_000_000 + c}.${String(q).padStart(6, "0")}` }
    })
    const ts = String(Math.floor(now / 1000))
    const sig = `v0=${createHmac("sha256", SECRET).update(`v0:${ts}:${body}`).digest("hex")}`
    return { body, headers: { "x-slack-request-timestamp": ts, "x-slack-signature": sig } }
  }
  const body = JSON.stringify({
    object: "whatsapp_business_account",
    entry: [
      {
        id: "WABA",
        changes: [
          {
            field: "messages",
            value: {
              messaging_product: "whatsapp",
              metadata: { display_phone_number: "15550000000", phone_number_id: PHONE_ID },
              contacts: [{ profile: { name: `user${c}` }, wa_id: chatIdOf(channel, c) }],
              messages: [{ from: chatIdOf(channel, c), id: `wamid.in${c}x${q}`, timestamp: String(Math.floor(now / 1000)), type: "text", text: { body: text } }]
            }
          }
        ]
      }
    ]
  })
  return { body, headers: { "x-hub-signature-256": `sha256=${createHmac("sha256", SECRET).update(body).digest("hex")}` } }
}

export const runChannelStorm = async (o: ChannelStormOptions): Promise<ChannelStormResult> => {
  const t0 = Date.now()
  const dir = mkdtempSync(join(tmpdir(), `sluice-stress-${o.channel}-`))
  const model = start(["--import", "tsx", join(here, "faultyFake.ts")], { SEED: String(o.seed), FAULT_RATE: "0", WORDS: String(o.words) })
  const platform =
    o.channel === "discord"
      ? start(["--import", "tsx", join(here, "fakeDiscordStorm.ts")], { SEED: String(o.seed), STORM: String(o.storm) })
      : start(["--import", "tsx", join(here, "fakeWebhookChannel.ts")], { CHANNEL: o.channel, SEED: String(o.seed), STORM: String(o.storm) })
  let gateway: ReturnType<typeof start> | undefined
  try {
    // Both waits at once: a line printed before its wait began would be missed.
    const [modelLine, platformLine] = await Promise.all([
      model.line((l) => l.startsWith("{\"url\""), 20_000),
      platform.line((l) => l.startsWith("{\"url\""), 20_000)
    ])
    const { url: modelUrl } = JSON.parse(modelLine) as { url: string }
    const { url: platformUrl, gatewayUrl } = JSON.parse(platformLine) as { url: string; gatewayUrl?: string }
    const channels =
      o.channel === "slack"
        ? { slack: { token: "xoxb-stress-token", signingSecret: SECRET, baseUrl: platformUrl } }
        : o.channel === "discord"
          ? { discord: { token: DISCORD_TOKEN, baseUrl: platformUrl, gatewayUrl } }
          : { whatsapp: { token: "wa-stress-token", phoneNumberId: PHONE_ID, appSecret: SECRET, verifyToken: "stress-verify", baseUrl: platformUrl } }
    // Registered before the gateway starts: the line comes as soon as it identifies.
    const identified = o.channel === "discord" ? platform.line((l) => l === "{\"ready\":true}", 30_000) : undefined
    const started = await startGateway({ dir, config: { channels }, env: { ANTHROPIC_API_KEY: "stress-key", ANTHROPIC_BASE_URL: modelUrl } })
    gateway = started.proc
    if (identified !== undefined) {
      // Discord: the questions as MESSAGE_CREATE dispatches on the Gateway WebSocket, each chat's at once.
      await identified
      for (let q = 0; q < o.questions; q++) for (let c = 0; c < o.chats; c++) platform.send(`ask ${chatIdOf(o.channel, c)} chat${c} question${q}`)
    }
    // Each chat's questions as a burst, one chat beside the other; each call must be taken (200).
    if (identified === undefined) await Promise.all(
      Array.from({ length: o.chats }, async (_, c) => {
        for (let q = 0; q < o.questions; q++) {
          const call = webhookCall(o.channel, c, q, Date.now())
          const res = await fetch(`http://127.0.0.1:${started.port}/webhooks/${o.channel}/default`, {
            method: "POST",
            headers: { "content-type": "application/json", ...call.headers },
            body: call.body
          })
          if (res.status !== 200) throw new Error(`webhook for chat${c} question${q}: HTTP ${res.status} ${await res.text()}`)
        }
      })
    )
    const read = async () => {
      platform.send("stats")
      model.send("stats")
      const [p, m] = await Promise.all([
        platform.line((l) => l.startsWith("{\"stats\""), 10_000),
        model.line((l) => l.startsWith("{\"stats\""), 10_000)
      ])
      const prompts = (JSON.parse(m) as { stats: { prompts: Array<string> } }).stats.prompts
      if (o.channel !== "discord") {
        return { stats: (JSON.parse(p) as { stats: { calls: Record<string, Array<ChannelCall>>; texts: Record<string, Array<string>> } }).stats, prompts }
      }
      const d = (JSON.parse(p) as { stats: { answered: ReadonlyArray<Answered>; texts: Record<string, Array<string>> } }).stats
      const calls: Record<string, Array<ChannelCall>> = {}
      for (const a of d.answered) calls[a.channelId] = [...(calls[a.channelId] ?? []), { t: a.t, method: a.method, taken: a.outcome === "taken" }]
      return { stats: { calls, texts: d.texts, bucketRefused: d.answered.filter((a) => a.outcome === "bucket").length }, prompts }
    }
    const last = await untilAnswered(read, (r) => judgeStorm(o.channel, r.stats, r.prompts, o.chats, o.words).mismatched, o)
    const j = judgeStorm(o.channel, last.stats, last.prompts, o.chats, o.words)
    const every = Object.values(last.stats.calls).flat()
    return {
      replies: last.prompts.length,
      requests: { taken: every.filter((x) => x.taken).length, refused: every.filter((x) => !x.taken).length },
      messages: Object.values(last.stats.texts).flat().length,
      minGapMs: j.minGapMs,
      peakPerSecond: j.peakPerSecond,
      mismatched: j.mismatched,
      failures: [...unasked(last.prompts, o), ...j.failures],
      ms: Date.now() - t0
    }
  } finally {
    await gateway?.stop()
    await platform.stop()
    await model.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}
