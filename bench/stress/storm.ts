/**
 * A 429 storm on a channel, measured from outside: the gateway as users start it with a Telegram
 * account whose `baseUrl` is the fake Bot API (`fakeTelegram.ts`), and the fake Anthropic server
 * answering every request in full (`faultyFake.ts` with no faults) with a long answer (several
 * Telegram messages). Each private chat sends a burst of questions at once, so each gets a burst of
 * replies; the fake Bot API answers half of all chat requests 429 with `retry_after`.
 *
 * - Nothing lost, nothing twice: per chat, the text of the messages Telegram took, in order, is
 *   exactly the answers to that chat's questions, in the order the model was asked them
 *   (whitespace aside: a reply is split into messages at the 4,096 limit).
 * - Every question reached the model exactly once.
 * - The documented rate holds: requests to one chat (taken or refused) at least ~1 s apart
 *   (Telegram: "avoid sending more than one message per second" to a chat); the most requests in
 *   any one second over all chats is reported against Telegram's 30 per second for a bot.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { start } from "../streaming/procs.js"
import { startGateway } from "./gateway.js"
import { checkChat, peakPerSecond, unasked, untilAnswered } from "./stormJudge.js"
import type { Call } from "./fakeTelegram.js"

export interface StormOptions {
  readonly chats: number
  readonly questions: number
  /** Words per answer (about 20 characters each). */
  readonly words: number
  /** Share of chat requests answered 429. */
  readonly storm: number
  readonly seed: number
}

export interface StormResult {
  readonly replies: number
  readonly requests: { readonly taken: number; readonly refused: number }
  readonly messages: number
  /** Smallest gap between two requests to one chat, ms. */
  readonly minGapMs: number
  readonly gapsUnder900: number
  /** Most chat requests in any one second, over all chats. */
  readonly peakPerSecond: number
  readonly mismatched: number
  readonly failures: ReadonlyArray<string>
  readonly ms: number
}

const here = dirname(fileURLToPath(import.meta.url))
const GAP_MS = 900

/** The expected and delivered text per chat, and the rate, from the two fakes' records. */
export const judge = (
  calls: Readonly<Record<string, ReadonlyArray<Call>>>,
  prompts: ReadonlyArray<string>,
  chatIds: ReadonlyArray<string>,
  words: number
) => {
  const failures: Array<string> = []
  let minGapMs = Number.POSITIVE_INFINITY
  let gapsUnder900 = 0
  let mismatched = 0
  const all: Array<number> = []
  for (const [c, chatId] of chatIds.entries()) {
    const list = calls[chatId] ?? []
    const delivered = list.filter((x) => x.taken && x.method === "sendMessage").map((x) => x.text ?? "").join("")
    const chat = checkChat(c, chatId, prompts, delivered, words)
    failures.push(...chat.failures)
    if (chat.mismatched) mismatched++
    for (let i = 1; i < list.length; i++) {
      const gap = list[i]!.t - list[i - 1]!.t
      minGapMs = Math.min(minGapMs, gap)
      if (gap < GAP_MS) gapsUnder900++
    }
    all.push(...list.map((x) => x.t))
  }
  if (gapsUnder900 > 0) failures.push(`${gapsUnder900} requests to a chat less than ${GAP_MS} ms after the one before (smallest gap ${minGapMs} ms)`)
  return { failures, minGapMs, gapsUnder900, mismatched, peakPerSecond: peakPerSecond(all) }
}

export const runStorm = async (o: StormOptions): Promise<StormResult> => {
  const t0 = Date.now()
  const dir = mkdtempSync(join(tmpdir(), "sluice-stress-storm-"))
  const model = start(["--import", "tsx", join(here, "faultyFake.ts")], { SEED: String(o.seed), FAULT_RATE: "0", WORDS: String(o.words) })
  const telegram = start(["--import", "tsx", join(here, "fakeTelegram.ts")], {
    SEED: String(o.seed),
    CHATS: String(o.chats),
    QUESTIONS: String(o.questions),
    STORM: String(o.storm)
  })
  let gateway: ReturnType<typeof start> | undefined
  try {
    // Both waits at once: a line printed before its wait began would be missed.
    const [modelLine, telegramLine] = await Promise.all([
      model.line((l) => l.startsWith("{\"url\""), 20_000),
      telegram.line((l) => l.startsWith("{\"url\""), 20_000)
    ])
    const { url: modelUrl } = JSON.parse(modelLine) as { url: string }
    const { url: telegramUrl } = JSON.parse(telegramLine) as { url: string }
    const started = await startGateway({
      dir,
      config: { channels: { telegram: { token: "123456:stress-token", baseUrl: telegramUrl } } },
      env: { ANTHROPIC_API_KEY: "stress-key", ANTHROPIC_BASE_URL: modelUrl }
    })
    gateway = started.proc
    const chatIds = Array.from({ length: o.chats }, (_, c) => String(1000 + c))
    const read = async () => {
      telegram.send("stats")
      model.send("stats")
      const [t, m] = await Promise.all([
        telegram.line((l) => l.startsWith("{\"stats\""), 10_000),
        model.line((l) => l.startsWith("{\"stats\""), 10_000)
      ])
      return {
        calls: (JSON.parse(t) as { stats: { calls: Record<string, Array<Call>> } }).stats.calls,
        prompts: (JSON.parse(m) as { stats: { prompts: Array<string> } }).stats.prompts
      }
    }
    const last = await untilAnswered(read, (r) => judge(r.calls, r.prompts, chatIds, o.words).mismatched, o)
    const j = judge(last.calls, last.prompts, chatIds, o.words)
    const every = Object.values(last.calls).flat()
    return {
      replies: last.prompts.length,
      requests: { taken: every.filter((x) => x.taken).length, refused: every.filter((x) => !x.taken).length },
      messages: every.filter((x) => x.taken && x.method === "sendMessage").length,
      minGapMs: j.minGapMs,
      gapsUnder900: j.gapsUnder900,
      peakPerSecond: j.peakPerSecond,
      mismatched: j.mismatched,
      failures: [...unasked(last.prompts, o), ...j.failures],
      ms: Date.now() - t0
    }
  } finally {
    await gateway?.stop()
    await telegram.stop()
    await model.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}
