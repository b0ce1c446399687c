/**
 * Delivers a conversation's reply events to one chat, the way a user should see them.
 *
 * - Block streaming on (`settings.blockStreaming`, seeded on for Telegram only): each `Block` goes
 *   out as its own message(s) as it arrives (the pipeline already coalesced and paced it with the
 *   settings given at send time). Off: only the `Final` goes out.
 * - **The final reply is never delivered again after its blocks went out** (#70921). The final is
 *   compared with what the blocks carried (ignoring whitespace, which block joins change): if the
 *   blocks covered it, nothing more is sent; if the final goes on past the blocks (a tail that never
 *   became a block, #102578), only that tail is sent.
 * - Telegram drafts (`streamMode` partial | block, private chats, `sendMessageDraft`): the reply
 *   streams in the draft bubble and block streaming is off for that reply; the final is a normal
 *   message. With `/reasoning stream` the draft shows the reasoning too; the final never does.
 * - Edit previews (`streamMode` partial | block on a channel whose adapter can `edit`: Slack's
 *   `chat.update`, Discord's message PATCH): the first update posts one message, later ones edit
 *   it (spaced by the draft interval; a long preview shows its newest text). The final reply's
 *   first part replaces the preview and the rest follow as new messages, so nothing is delivered
 *   twice; if that last edit fails, the whole reply is sent as new messages. Blocks are off for
 *   such a reply.
 * - **Rollback** (the model retries after output went out): a sent message cannot be unsent. If a
 *   block of the void attempt was already delivered, one short notice is sent
 *   ({@link ROLLBACK_NOTICE}) and the new attempt's blocks and final are delivered normally
 *   (the final-dedupe then compares against the new attempt's blocks only). Nothing delivered →
 *   nothing said.
 * - **Error** → one short message ({@link errorNotice}).
 * - A failed send (after its 429 retries) is logged and delivery goes on with the next message: one
 *   slow or failed send never skips the rest of the reply.
 *
 * Every text is split to the channel's limits (OutboundSplitter) before rendering (Markdown), so a
 * rendered part never carries a broken fence.
 *
 * @since 0.1.0
 */
import { ReplyEvent, type StreamingSettings } from "@sluice/core"
import { Clock, Effect, Stream } from "effect"
import { type Adapter, type ChatTarget, describeError, type OutboundText } from "./Channel.js"
import * as Fences from "./internal/fences.js"
import * as Graphemes from "./internal/graphemes.js"
import * as NativeStream from "./internal/nativeStream.js"
import * as Markdown from "./Markdown.js"
import * as OutboundSplitter from "./OutboundSplitter.js"

export const ROLLBACK_NOTICE = "↻ The reply was interrupted and is being regenerated; what follows replaces the part above."
export const errorNotice = (message: string): string =>
  `⚠️ Sorry, the reply failed: ${Graphemes.truncate(message, 160)}`

export interface Options {
  readonly adapter: Adapter
  readonly target: ChatTarget
  readonly settings: StreamingSettings.StreamingSettings
  /** `/reasoning stream` for this chat (read per event). */
  readonly reasoningStream?: (() => boolean) | undefined
  /** Minimum spacing of preview updates (default: the channel's per-chat interval, at least 300 ms for
   * Telegram drafts and the channel's `editIntervalMs` (else 1 s) for edit previews). */
  readonly draftIntervalMs?: number | undefined
  /** A draft shown this long ago with nothing new is shown again, so it does not expire while the
   * model is slow (Telegram drops a draft ~30 s after its last update). Default 20 s. */
  readonly draftRefreshMs?: number | undefined
  /** Draft ids, unique for the hub (default: 1, 2, … per delivery). Telegram needs them non-zero. */
  readonly nextDraftId?: (() => number) | undefined
  /** Told the id of the draft being shown (undefined once the reply is final), so a stop pressed on
   * that draft can be matched to this reply. */
  readonly onDraft?: ((draftId: number | undefined) => void) | undefined
}

type Event = ReplyEvent.ReplyEvent
const TICK = Symbol("tick")

interface Draft {
  readonly id: number
  answer: string
  reasoning: string
  shown: string
  /** When the shown text last changed (preview throttle). */
  lastAt: number
  /** When the draft was last sent at all, placeholder and refreshes included (expiry). */
  sentAt: number
  /** Edit mode: the preview message, once posted. */
  messageId?: string | undefined
}

interface RunState {
  blocks: Array<{ readonly seq: number; readonly text: string }>
  draft: Draft | undefined
  noticeSent: boolean
  /** `streamMode: "native"`: the reply's platform stream. */
  native?: NativeStream.NativeReply | undefined
}

const FENCE_LINE = /^[ \t]*(`{3,}|~{3,}).*$/gm
/** Content that must match between blocks and final: no whitespace, no fence lines (block cuts add synthetic ones). */
const significant = (s: string) => s.replace(FENCE_LINE, "").replace(/\s+/g, "")

/**
 * What the final adds beyond the blocks already sent: "" when the blocks covered it, the tail text
 * when the final goes on past them, undefined when the blocks are not a prefix of the final.
 * Whitespace and fence marker lines are ignored (block joins and fence-safe cuts change them).
 */
export const undeliveredTail = (finalText: string, sentBlocks: ReadonlyArray<string>): string | undefined => {
  const sent = significant(sentBlocks.join("\n"))
  // indices of the final's significant chars
  const idx: Array<number> = []
  let lineStart = 0
  for (const line of finalText.split("\n")) {
    if (!/^[ \t]*(`{3,}|~{3,})/.test(line)) {
      for (let j = 0; j < line.length; j++) if (!/\s/.test(line[j]!)) idx.push(lineStart + j)
    }
    lineStart += line.length + 1
  }
  const n = Math.min(sent.length, idx.length)
  for (let k = 0; k < n; k++) if (finalText[idx[k]!] !== sent[k]) return undefined
  if (sent.length >= idx.length) return ""
  // start the tail at the beginning of the line holding the first unsent char, if that line was not sent at all
  let from = idx[sent.length]!
  const ls = finalText.lastIndexOf("\n", from - 1) + 1
  if (sent.length === 0 || idx[sent.length - 1]! < ls) from = ls
  return finalText.slice(from).trim()
}

/** Runs until `events` ends. */
export const deliver = (options: Options, events: Stream.Stream<Event, unknown>): Effect.Effect<void> => {
  const { adapter, settings, target } = options
  const caps = adapter.capabilities
  const limit = Math.min(settings.textChunkLimit, caps.textChunkLimit)
  const draftMode =
    adapter.sendDraft !== undefined &&
    caps.draftStreaming &&
    target.isPrivate === true &&
    (settings.streamMode === "partial" || settings.streamMode === "block")
  // Elsewhere, a channel that can edit streams its preview in one message it keeps editing; the
  // final reply then replaces it (its first part; the rest follow as new messages).
  const editMode =
    !draftMode && adapter.edit !== undefined && caps.edits && (settings.streamMode === "partial" || settings.streamMode === "block")
  const preview = draftMode || editMode
  // The platform's own streaming message (Slack chat.startStream), in the thread of the message answered.
  const nativeMode = !draftMode && adapter.nativeStream !== undefined && settings.streamMode === "native"
  const streaming = preview || nativeMode
  // A native stream answers in the thread of the message it replies to; so do the reply's other messages.
  const nativeTarget: ChatTarget = nativeMode ? { ...target, threadId: target.threadId ?? (target.replyTo === "" ? undefined : target.replyTo) } : target
  // Edits share the chat's rate limit with sends (Discord: ~5 per 5 s per channel): at most one a second.
  const draftInterval = options.draftIntervalMs ?? Math.max(editMode ? (caps.editIntervalMs ?? 1000) : 300, caps.minIntervalMs)
  const refreshMs = options.draftRefreshMs ?? 20_000
  let draftIds = 0
  const nextDraftId = options.nextDraftId ?? (() => ++draftIds)
  let run: RunState = { blocks: [], draft: undefined, noticeSent: false }

  const outbound = (part: string): OutboundText => Markdown.renderWithPlain(part, caps.dialect)
  /** How far over its limits a rendered message is (≤ 1 fits). Telegram counts the text after entity
   * parsing, the others what we send. */
  const overBy = (o: OutboundText, cap = limit) => {
    const c = caps.dialect.startsWith("telegram") ? o.plain : o.formatted
    return Math.max(c.length / cap, caps.maxBytes === undefined ? 0 : OutboundSplitter.utf8Length(c) / caps.maxBytes)
  }
  /**
   * A preview: its open inline markup closed (Markdown.closeOpen); of a long reply, its newest text within `cap` once rendered, cut on a grapheme
   * boundary; cut inside a code fence, the fence's opener line is put back so the tail still renders as code.
   */
  const fitPreview = (text: string, cap: number): { readonly text: string; readonly out: OutboundText } => {
    const tail = (room: number) => {
      if (text.length <= room) return text
      const start = Graphemes.ceil(text, text.length - room + 1)
      const fence = Fences.spanAt(Fences.scan(text), start)
      if (fence === undefined || fence.start >= start || fence.openerLine.length > room / 2) return "…" + text.slice(start)
      const opener = fence.openerLine + "\n"
      return "…\n" + opener + text.slice(Graphemes.ceil(text, text.length - room + 2 + opener.length))
    }
    let room = cap
    let shown = tail(room)
    let out = outbound(Markdown.closeOpen(shown))
    for (let i = 0, over = overBy(out, cap); i < 4 && over > 1; i++, over = overBy(out, cap)) {
      room = Math.floor((room / over) * 0.97)
      shown = tail(room)
      out = outbound(Markdown.closeOpen(shown))
    }
    return { text: shown, out }
  }
  /**
   * The splitter cuts markdown; rendering can lengthen it (Slack escapes `& < >` to entities, links
   * gain their URL). A part over the limit once rendered is split again with a budget shrunk by how far
   * over it is, so every limit holds on what is actually sent. Each part is rendered once.
   */
  const split = (markdown: string, budget = limit): ReadonlyArray<OutboundText> =>
    OutboundSplitter.split(markdown, {
      limit: budget,
      chunkMode: settings.chunkMode,
      maxLines: settings.maxLinesPerMessage ?? caps.maxLinesPerMessage,
      maxBytes: caps.maxBytes === undefined ? undefined : Math.floor((caps.maxBytes * budget) / limit)
    }).flatMap((part) => {
      const out = outbound(part)
      const over = overBy(out)
      if (over <= 1 || budget <= OutboundSplitter.MIN_LIMIT) return [out]
      return split(part, Math.max(OutboundSplitter.MIN_LIMIT, Math.min(budget - 1, Math.floor((budget / over) * 0.97))))
    })
  const sendParts = (parts: ReadonlyArray<OutboundText>) =>
    Effect.forEach(
      parts,
      (part) =>
        adapter.send(nativeTarget, part).pipe(
          Effect.catchAll((e) => Effect.logWarning(`channel send failed (${describeError(e)}), continuing`))
        ),
      { discard: true }
    )
  const sendText = (markdown: string) => sendParts(split(markdown))

  /** Edit preview: the first update posts the message, later ones edit it. */
  const showEdit = (d: Draft, text: OutboundText) =>
    d.messageId === undefined
      ? adapter.send(target, text).pipe(
          Effect.match({
            onFailure: (e) => Effect.logDebug(`preview send failed (${describeError(e)})`),
            onSuccess: (sent) => {
              d.messageId = sent.messageId
            }
          })
        )
      : adapter.edit!(target, d.messageId, text).pipe(Effect.catchAll((e) => Effect.logDebug(`preview edit failed (${describeError(e)})`)))

  /** The final reply in edit mode: its first part replaces the preview, the rest are new messages. */
  const finishPreview = (d: Draft | undefined, text: string) => {
    const parts = split(text)
    if (d?.messageId === undefined || parts.length === 0) return sendParts(parts)
    return adapter.edit!(target, d.messageId, parts[0]!).pipe(
      Effect.matchEffect({
        // The preview keeps its partial text; the reply still arrives whole, as new messages.
        onFailure: (e) => Effect.zipRight(Effect.logWarning(`final edit of the preview failed (${describeError(e)}); sending the reply`), sendParts(parts)),
        onSuccess: () => sendParts(parts.slice(1))
      })
    )
  }

  const showDraft = (force: boolean) =>
    Effect.gen(function* () {
      const d = run.draft
      if (d === undefined || !preview) return
      // Throttle before building the text: a Draft comes per model delta.
      const now = yield* Clock.currentTimeMillis
      if (!force && now - d.lastAt < draftInterval) return
      const reasoning = options.reasoningStream?.() === true && d.reasoning !== "" ? `🧠 ${d.reasoning.trim()}\n\n` : ""
      let text = reasoning + d.answer
      if (settings.streamMode === "block") {
        // the draft advances in chunks: only whole draftChunk steps (min chars) of the answer
        const min = settings.draftChunk?.minChars ?? 200
        const max = settings.draftChunk?.maxChars ?? 800
        const shownAnswer = d.shown.length - (d.shown.startsWith("🧠") ? d.shown.indexOf("\n\n") + 2 : 0)
        const grown = d.answer.length - Math.max(0, shownAnswer)
        if (!force && grown < min) return
        let cut = d.answer.length
        if (grown > max) cut = Math.max(0, shownAnswer) + max
        const para = d.answer.lastIndexOf("\n\n", cut)
        if (!force && para > shownAnswer + min) cut = para
        text = reasoning + d.answer.slice(0, Graphemes.floor(d.answer, cut))
      }
      // A long preview shows its newest text (a draft bubble holds 4096; an edited message, the limit).
      const cap = draftMode ? 4096 : limit
      const fitted = fitPreview(text, cap)
      if (fitted.text === d.shown || fitted.text.trim() === "") return
      d.shown = fitted.text
      d.lastAt = now
      d.sentAt = now
      if (editMode) return yield* showEdit(d, fitted.out)
      yield* adapter.sendDraft!(target, d.id, fitted.out).pipe(Effect.catchAll((e) => Effect.logDebug(`draft update failed (${describeError(e)})`)))
    })

  const ensureNative = () => {
    if (run.native === undefined) run.native = NativeStream.make(adapter.nativeStream!, nativeTarget, sendText)
    return run.native
  }
  /** Ends the reply's native stream, if any; true when it had streamed text. */
  const closeNative = Effect.suspend(() => {
    const reply = run.native
    run.native = undefined
    return reply === undefined ? Effect.succeed(false) : reply.close()
  })

  const ensureDraft = () => {
    if (run.draft === undefined) {
      run.draft = { id: nextDraftId(), answer: "", reasoning: "", shown: "", lastAt: -Infinity, sentAt: -Infinity }
      if (draftMode) options.onDraft?.(run.draft.id)
    }
    return run.draft
  }
  const endDraft = () => {
    if (run.draft !== undefined && draftMode) options.onDraft?.(undefined)
    run.draft = undefined
  }

  /**
   * Telegram drafts: at the run's start an empty draft shows Telegram's "Thinking…" placeholder with
   * the stop button; later, a draft with nothing new for `refreshMs` is shown again (same id, same
   * text) so it does not expire while the model is slow.
   */
  const refreshDraft = (placeholder: boolean) =>
    Effect.gen(function* () {
      const d = run.draft
      if (!draftMode || d === undefined) return
      const now = yield* Clock.currentTimeMillis
      if (!placeholder && now - d.sentAt < refreshMs) return
      d.sentAt = now
      const text = d.shown === "" ? { formatted: "", plain: "" } : fitPreview(d.shown, 4096).out
      yield* adapter.sendDraft!(target, d.id, text).pipe(Effect.catchAll((e) => Effect.logDebug(`draft refresh failed (${describeError(e)})`)))
    })

  const onEvent = (ev: Event): Effect.Effect<void> => {
    switch (ev._tag) {
      case "RunStarted":
        endDraft()
        run = { blocks: [], draft: undefined, noticeSent: false }
        if (!draftMode) return Effect.void
        ensureDraft()
        return refreshDraft(true)
      case "Block":
        if (streaming || !settings.blockStreaming || ev.text.trim() === "") return Effect.void
        run.blocks.push({ seq: ev.seq, text: ev.text })
        return sendText(ev.text)
      case "Draft":
        if (!streaming) return Effect.void
        {
          const d = ensureDraft()
          d.answer = ReplyEvent.applyDraft(d.answer, ev)
          if (nativeMode) return ensureNative().update(d.answer, false)
        }
        return showDraft(false)
      case "ReasoningDelta":
        if (!preview || options.reasoningStream?.() !== true) return Effect.void
        ensureDraft().reasoning += ev.text
        return showDraft(false)
      case "Rollback": {
        if (nativeMode) {
          // Streamed text cannot be taken back: end that stream, say so once, stream the new attempt anew.
          if (run.draft !== undefined) run.draft.answer = ""
          return Effect.flatMap(closeNative, (streamedAny) => (streamedAny ? sendText(ROLLBACK_NOTICE) : Effect.void))
        }
        const voided = run.blocks.filter((b) => b.seq >= ev.discardFromSeq)
        run.blocks = run.blocks.filter((b) => b.seq < ev.discardFromSeq)
        if (run.draft !== undefined) {
          run.draft.answer = ""
          run.draft.reasoning = ""
        }
        // nothing of the void attempt reached the chat: nothing to say
        if (voided.length === 0) return Effect.void
        run.noticeSent = true
        return sendText(ROLLBACK_NOTICE)
      }
      case "Final": {
        if (nativeMode) {
          // A reply that drafted nothing (all at once) is streamed whole now.
          const reply = ensureNative()
          run.native = undefined
          run.draft = undefined
          return reply.finish(ev.text)
        }
        if (editMode) {
          const d = run.draft
          run.draft = undefined
          return ev.text.trim() === "" ? Effect.void : finishPreview(d, ev.text)
        }
        endDraft()
        const blocks = run.blocks.map((b) => b.text)
        run.blocks = []
        if (blocks.length === 0) return ev.text.trim() === "" ? Effect.void : sendText(ev.text)
        const tail = undeliveredTail(ev.text, blocks)
        if (tail === undefined) return Effect.logWarning("final reply differs from the blocks already sent; not sending it again")
        return tail === "" ? Effect.void : sendText(tail)
      }
      case "Error":
        return Effect.zipRight(closeNative, sendText(errorNotice(ev.error.message)))
      case "RunEnded":
        endDraft()
        return Effect.zipRight(
          closeNative,
          Effect.sync(() => {
            run = { blocks: [], draft: undefined, noticeSent: false }
          })
        )
      default:
        return Effect.void
    }
  }

  // Drafts also need a clock: a tick every few seconds refreshes a draft nothing new has reached.
  // Native streams too: text held back by the append interval goes out while the model is quiet.
  const ticks = draftMode
    ? Stream.tick(Math.max(1000, Math.floor(refreshMs / 4)))
    : nativeMode
      ? Stream.tick(adapter.nativeStream!.intervalMs)
      : Stream.empty
  const onTick = nativeMode
    ? Effect.suspend(() => (run.native !== undefined && run.draft !== undefined ? run.native.update(run.draft.answer, false) : Effect.void))
    : refreshDraft(false)
  return Stream.merge(events, ticks.pipe(Stream.as(TICK)), { haltStrategy: "left" }).pipe(
    Stream.runForEach((ev) => (ev === TICK ? onTick : onEvent(ev))),
    Effect.catchAll((e) => Effect.logWarning(`reply subscription ended with an error (${describeError(e)})`)),
    Effect.ensuring(Effect.zipRight(Effect.sync(endDraft), closeNative))
  )
}
