/**
 * How a reply would be delivered to one target with its effective settings — without sending
 * anything: the blocks the pipeline emits (with the human delay before each), the channel messages
 * each becomes after outbound splitting (length, lines, where a code fence was closed at a cut and
 * reopened in the next message), and what happens to the final reply.
 *
 * `run` drives the real `Pipeline` (BlockChunker → Coalescer) over model events with the human delay
 * switched off, and draws the delays it would have waited from `HumanDelay.nextDelay` with a seeded
 * `Random` instead: nothing sleeps, the numbers are printed. The coalescer's idle timer does not fire
 * here (the text arrives all at once), so blocks are what a fast model would produce.
 *
 * @since 0.1.0
 */
import { undeliveredTail } from "@sluice/channels/ChannelDelivery"
import * as OutboundSplitter from "@sluice/channels/OutboundSplitter"
import * as HumanDelay from "@sluice/core/HumanDelay"
import type { ModelEvent } from "@sluice/core/ModelEvent"
import * as Pipeline from "@sluice/core/Pipeline"
import type { Payload } from "@sluice/core/ReplyEvent"
import type { StreamingSettings } from "@sluice/core/StreamingSettings"
import { Chunk, Effect, Random, Stream } from "effect"
import * as FenceAlign from "./internal/fenceAlign.js"

/** The channel's own limits, when they are tighter than the settings' (channels' `Capabilities`). */
export interface ChannelLimits {
  readonly textChunkLimit?: number | undefined
  readonly maxLinesPerMessage?: number | undefined
  /** Minimum spacing of sends to one chat, ms. */
  readonly minIntervalMs?: number | undefined
}

export interface Message {
  readonly text: string
  readonly length: number
  readonly lines: number
  /** Fence opener line put at the start of this message because the previous one was cut inside the fence. */
  readonly reopenedFence: string | undefined
  /** This message was cut inside a code fence and closed with a synthetic fence line. */
  readonly closedFence: boolean
}

export interface Delivery {
  /** `block`: a block reply; `final`: the whole reply (no block streaming); `tail`: the part of the final the blocks missed. */
  readonly kind: "block" | "final" | "tail"
  /** 1-based number of the block (blocks only). */
  readonly block: number | undefined
  /** Human delay waited before this delivery, ms. */
  readonly delayMs: number
  readonly text: string
  /** The pipeline (BlockChunker) closed a code fence at the end of this block / reopened one at its start. */
  readonly fenceClosed: boolean
  readonly fenceReopened: boolean
  readonly messages: ReadonlyArray<Message>
}

export interface Plan {
  readonly settings: StreamingSettings
  readonly limit: number
  readonly maxLines: number | undefined
  readonly minIntervalMs: number
  readonly deliveries: ReadonlyArray<Delivery>
  /** The whole visible reply (the pipeline's Final). */
  readonly finalText: string
  /** What happened to the final reply after block streaming. */
  readonly final: "sent" | "covered-by-blocks" | "tail-sent" | "differs-not-sent" | "empty"
  readonly reasoningChars: number
  readonly rollbacks: number
}

// ---------------------------------------------------------------------------------------------
// model events from plain text

/** Cuts text into model-sized deltas (about `size` characters, never inside a surrogate pair). */
export const deltas = (text: string, size = 6): ReadonlyArray<string> => {
  const out: Array<string> = []
  let i = 0
  while (i < text.length) {
    let end = Math.min(text.length, i + size)
    const c = text.charCodeAt(end - 1)
    if (end < text.length && c >= 0xd800 && c <= 0xdbff) end++
    out.push(text.slice(i, end))
    i = end
  }
  return out
}

/** The model events of a reply that is `text`, streamed in small deltas. */
export const eventsFromText = (text: string): ReadonlyArray<ModelEvent> => [
  { _tag: "MessageStart", messageId: "msg_preview", model: "preview", usage: { inputTokens: 0, outputTokens: 0 } },
  ...deltas(text).map((t): ModelEvent => ({ _tag: "TextDelta", index: 0, text: t })),
  { _tag: "TextEnd", index: 0 },
  { _tag: "MessageDelta", stopReason: "end_turn", usage: { inputTokens: 0, outputTokens: Math.ceil(text.length / 4) } },
  { _tag: "MessageEnd" }
]

// ---------------------------------------------------------------------------------------------
// planning

const lineCount = (s: string) => s.split("\n").length

export interface PlanOptions {
  readonly channel?: ChannelLimits | undefined
  /** Human delays before the 2nd, 3rd … block, ms (missing entries count as 0). */
  readonly delays?: ReadonlyArray<number> | undefined
}

/** Splits text into the channel's messages. */
export const messages = (
  text: string,
  options: { readonly limit: number; readonly chunkMode: "length" | "newline"; readonly maxLines?: number | undefined }
): ReadonlyArray<Message> =>
  OutboundSplitter.parts(text, { limit: options.limit, chunkMode: options.chunkMode, maxLines: options.maxLines }).map(
    (p) => ({
      text: p.text,
      length: p.text.length,
      lines: lineCount(p.text),
      reopenedFence: p.reopened === "" ? undefined : p.reopened.replace(/\n$/, ""),
      closedFence: p.closed !== ""
    })
  )

/** Builds the plan from the pipeline's payloads (pure). */
export const plan = (payloads: ReadonlyArray<Payload>, settings: StreamingSettings, options: PlanOptions = {}): Plan => {
  const limit = Math.min(settings.textChunkLimit, options.channel?.textChunkLimit ?? Number.POSITIVE_INFINITY)
  const maxLines = settings.maxLinesPerMessage ?? options.channel?.maxLinesPerMessage
  const split = (text: string) => messages(text, { limit, chunkMode: settings.chunkMode, maxLines })
  // only the last attempt counts: a Rollback voids what came before it
  let lastRollback = -1
  let rollbacks = 0
  payloads.forEach((p, i) => {
    if (p._tag === "Rollback") {
      lastRollback = i
      rollbacks++
    }
  })
  const live = payloads.slice(lastRollback + 1)
  const reasoningChars = live.reduce((n, p) => (p._tag === "ReasoningDelta" ? n + p.text.length : n), 0)
  const finalText = live.reduce((t, p) => (p._tag === "Final" ? p.text : t), "")
  const blocks = settings.blockStreaming
    ? live.flatMap((p) => (p._tag === "Block" && p.text.trim() !== "" ? [p.text] : []))
    : []
  const aligned = FenceAlign.alignAll(blocks, finalText)
  const deliveries: Array<Delivery> = blocks.map((text, i) => ({
    kind: "block",
    block: i + 1,
    delayMs: i === 0 ? 0 : (options.delays?.[i - 1] ?? 0),
    text,
    fenceClosed: aligned[i]?.closedAtEnd ?? false,
    fenceReopened: aligned[i]?.reopenedAtStart ?? false,
    messages: split(text)
  }))
  let final: Plan["final"]
  if (blocks.length === 0) {
    final = finalText.trim() === "" ? "empty" : "sent"
    if (final === "sent") {
      deliveries.push({
        kind: "final",
        block: undefined,
        delayMs: 0,
        text: finalText,
        fenceClosed: false,
        fenceReopened: false,
        messages: split(finalText)
      })
    }
  } else {
    const tail = undeliveredTail(finalText, blocks)
    if (tail === undefined) final = "differs-not-sent"
    else if (tail === "") final = "covered-by-blocks"
    else {
      final = "tail-sent"
      deliveries.push({
        kind: "tail",
        block: undefined,
        delayMs: 0,
        text: tail,
        fenceClosed: false,
        fenceReopened: false,
        messages: split(tail)
      })
    }
  }
  return {
    settings,
    limit,
    maxLines,
    minIntervalMs: options.channel?.minIntervalMs ?? 0,
    deliveries,
    finalText,
    final,
    reasoningChars,
    rollbacks
  }
}

export interface RunOptions {
  readonly channel?: ChannelLimits | undefined
  /** Seed for the human delays drawn (default 0: the same preview every time). */
  readonly seed?: number | undefined
}

/** Runs the real pipeline over `events` (human delay drawn, not waited) and plans the delivery. */
export const run = <E, R>(
  events: Stream.Stream<ModelEvent, E, R>,
  settings: StreamingSettings,
  options: RunOptions = {}
): Effect.Effect<Plan, E, R> =>
  Effect.gen(function* () {
    const unpaced: StreamingSettings = { ...settings, humanDelay: { ...settings.humanDelay, mode: "off" } }
    const payloads = Chunk.toReadonlyArray(yield* events.pipe(Pipeline.make(unpaced), Stream.runCollect))
    const blockCount = payloads.filter((p) => p._tag === "Block").length
    const delays = yield* Effect.forEach(Array.from({ length: Math.max(0, blockCount - 1) }), () =>
      HumanDelay.nextDelay(settings.humanDelay)
    ).pipe(Effect.withRandom(Random.make(options.seed ?? 0)))
    return plan(payloads, settings, { channel: options.channel, delays })
  })

// ---------------------------------------------------------------------------------------------
// formatting

const yesNo = (b: boolean) => (b ? "yes" : "no")
const q = (s: string) => JSON.stringify(s)

/** The effective settings as an aligned table. */
export const formatSettings = (s: StreamingSettings): string => {
  const delay = HumanDelay.range(s.humanDelay)
  const rows: Array<[string, string]> = [
    ["block streaming", s.blockStreaming ? `on (break at ${s.blockStreamingBreak})` : "off (only the final reply is sent)"],
    [
      "chunk",
      `min ${s.chunk.minChars}, max ${s.chunk.maxChars}, break on ${s.chunk.breakPreference}, flush on paragraph: ${yesNo(s.chunk.flushOnParagraph)}`
    ],
    ["coalesce", `min ${s.coalesce.minChars}, max ${s.coalesce.maxChars}, idle ${s.coalesce.idleMs} ms, joiner ${q(s.coalesce.joiner)}`],
    ["human delay", delay === undefined ? "off" : `${s.humanDelay.mode} ${delay.minMs}–${delay.maxMs} ms between blocks`],
    ["text chunk limit", `${s.textChunkLimit} chars, chunk mode ${s.chunkMode}`],
    ["max lines/message", s.maxLinesPerMessage === undefined ? "none" : String(s.maxLinesPerMessage)]
  ]
  if (s.streamMode !== undefined) rows.push(["stream mode", s.streamMode])
  if (s.draftChunk !== undefined) {
    rows.push(["draft chunk", `min ${s.draftChunk.minChars}, max ${s.draftChunk.maxChars}, break on ${s.draftChunk.breakPreference}`])
  }
  const width = Math.max(...rows.map(([k]) => k.length))
  return rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`).join("\n")
}

/** The heading naming the target and where its settings came from. */
export const formatTarget = (
  target: { readonly channel?: string | undefined; readonly agentId?: string | undefined; readonly accountId?: string | undefined },
  file: string | undefined
): string =>
  [
    `channel ${target.channel ?? "(none: web/terminal client)"} · agent ${target.agentId ?? "(defaults)"} · account ${target.accountId ?? "(default)"}`,
    `config: ${file ?? "none (built-in defaults)"}`
  ].join("\n")

export interface FormatOptions {
  /** Show each message's text (default true). */
  readonly text?: boolean | undefined
}

const indent = (text: string, prefix: string) =>
  text
    .split("\n")
    .map((l) => prefix + l)
    .join("\n")

/** The plan as the terminal report `sluice preview` prints. */
export const format = (p: Plan, options: FormatOptions = {}): string => {
  const showText = options.text ?? true
  const out: Array<string> = []
  if (p.rollbacks > 0) out.push(`model retried ${p.rollbacks}×: only the last attempt is shown`)
  if (p.reasoningChars > 0) out.push(`reasoning: ${p.reasoningChars} chars (shown to clients as progress, never sent to a channel)`)
  const messageCount = p.deliveries.reduce((n, d) => n + d.messages.length, 0)
  const totalDelay = p.deliveries.reduce((n, d) => n + d.delayMs, 0)
  for (const d of p.deliveries) {
    const head =
      d.kind === "block"
        ? `block ${d.block} · ${d.text.length} chars · ${d.block === 1 ? "no delay (the first block is never held back)" : `delay ${d.delayMs} ms`}`
        : d.kind === "final"
          ? `final reply · ${d.text.length} chars · no delay`
          : `final reply tail (not covered by the blocks) · ${d.text.length} chars`
    out.push("", head)
    if (d.fenceReopened) out.push("  ↳ code fence reopened at the start (the previous block was cut inside it)")
    d.messages.forEach((m, i) => {
      const fence = [
        m.reopenedFence === undefined ? undefined : `fence reopened with ${q(m.reopenedFence)}`,
        m.closedFence ? "cut inside a fence: closed at the end" : undefined
      ].filter((x) => x !== undefined)
      const wait = i > 0 && p.minIntervalMs > 0 ? ` · sent ≥ ${p.minIntervalMs} ms after the previous (rate limit)` : ""
      out.push(`  message ${i + 1}/${d.messages.length} · ${m.length} chars · ${m.lines} lines${wait}${fence.length > 0 ? ` · ${fence.join(", ")}` : ""}`)
      if (showText) out.push(indent(m.text, "    │ "))
    })
    if (d.fenceClosed) out.push("  ↳ code fence closed at the end (cut at maxChars inside it; the next block reopens it)")
  }
  out.push("")
  const finalLine: Record<Plan["final"], string> = {
    sent: "final reply: sent as shown (block streaming is off)",
    "covered-by-blocks": `final reply: ${p.finalText.length} chars, already delivered by the blocks, not sent again`,
    "tail-sent": "final reply: its tail was missing from the blocks and is sent after them",
    "differs-not-sent": "final reply: differs from the blocks (fence repairs); not sent again",
    empty: "final reply: empty, nothing to send"
  }
  out.push(finalLine[p.final])
  out.push(
    `total: ${messageCount} message${messageCount === 1 ? "" : "s"}, ${p.finalText.length} chars of reply, ${(totalDelay / 1000).toFixed(1)} s of human delay`
  )
  return out.join("\n")
}

/** One JSON object per message, for scripts (`--json`). */
export const toJsonLines = (p: Plan): ReadonlyArray<string> =>
  p.deliveries.flatMap((d) =>
    d.messages.map((m, i) =>
      JSON.stringify({
        kind: d.kind,
        block: d.block ?? null,
        message: i + 1,
        messages: d.messages.length,
        delayMs: i === 0 ? d.delayMs : 0,
        length: m.length,
        lines: m.lines,
        fenceReopened: m.reopenedFence ?? (i === 0 && d.fenceReopened ? true : null),
        fenceClosed: m.closedFence || (i === d.messages.length - 1 && d.fenceClosed),
        text: m.text
      })
    )
  )
