/**
 * One reply streamed into a platform's native streaming message (Slack `chat.startStream` /
 * `appendStream` / `stopStream`). @internal
 *
 * - Text is appended as it grows, at most once per `intervalMs`, in calls of at most `maxChars`
 *   (cut on grapheme boundaries, at a line end when one is near).
 * - A stream is rotated before the platform ends it on its own: `rotateAfterMs` after its start, or
 *   when it would pass {@link MAX_STREAM_CHARS}. An append refused because the platform already
 *   ended the stream (`isEnded`) goes to a fresh stream: the refused text is the new stream's first
 *   text, so nothing is lost or repeated.
 * - When a native call fails otherwise (the platform lacks the methods, a recipient error), the
 *   reply falls back to ordinary messages: what was not streamed is sent by `fallback` at the end.
 */
import { Clock, Effect } from "effect"
import { type ChatTarget, describeError, type NativeStreaming } from "../Channel.js"
import * as Graphemes from "./graphemes.js"

/** A streamed message is rotated before it would hold more than this (Slack messages hold 40,000). */
export const MAX_STREAM_CHARS = 36_000

export interface NativeReply {
  /** The reply so far; appends what is new when the interval allows (or now, with `force`). */
  readonly update: (answer: string, force: boolean) => Effect.Effect<void>
  /** The final text: the rest is appended and the stream stopped (or sent by the fallback). */
  readonly finish: (finalText: string) => Effect.Effect<void>
  /** Ends the open stream as it is (rollback, error, end of the delivery). True when text was streamed. */
  readonly close: () => Effect.Effect<boolean>
}

/** `text` in pieces of at most `max` UTF-16 units, cut on grapheme boundaries, preferring a line end
 * in the last fifth of a piece. */
export const pieces = (text: string, max: number): ReadonlyArray<string> => {
  const out: Array<string> = []
  let rest = text
  while (rest.length > max) {
    let cut = Graphemes.floor(rest, max)
    const nl = rest.lastIndexOf("\n", cut - 1)
    if (nl >= Math.floor(max * 0.8)) cut = nl + 1
    if (cut <= 0) cut = Graphemes.ceil(rest, 1)
    out.push(rest.slice(0, cut))
    rest = rest.slice(cut)
  }
  if (rest !== "") out.push(rest)
  return out
}

export const make = (
  native: NativeStreaming,
  target: ChatTarget,
  fallback: (markdown: string) => Effect.Effect<void>
): NativeReply => {
  let streamId: string | undefined
  let startedAt = 0
  let inStream = 0
  /** Everything the streams have accepted, in order: always a prefix of the reply. */
  let streamed = ""
  let lastAt = Number.NEGATIVE_INFINITY
  let failed = false

  const stopOpen = Effect.suspend(() => {
    const id = streamId
    streamId = undefined
    if (id === undefined) return Effect.void
    // Slack Connect recipients can fail the stop although the text is visible: nothing to redo.
    return native.stop(target, id).pipe(Effect.catchAll((e) => Effect.logDebug(`native stream stop failed (${describeError(e)})`)))
  })

  /** A native call failed for good: the rest of the reply goes as ordinary messages. */
  const giveUp = (e: unknown) =>
    Effect.sync(() => {
      failed = true
    }).pipe(
      Effect.zipRight(Effect.logWarning(`native streaming failed (${describeError(e)}); the rest of the reply goes as messages`)),
      Effect.zipRight(stopOpen),
      Effect.as(false)
    )

  const start = (piece: string, now: number) =>
    native.start(target, piece).pipe(
      Effect.map((id) => {
        streamId = id
        startedAt = now
        inStream = piece.length
        streamed += piece
        return true
      }),
      Effect.catchAll(giveUp)
    )

  const put = (piece: string, now: number): Effect.Effect<boolean> =>
    Effect.gen(function* () {
      if (streamId !== undefined && (now - startedAt >= native.rotateAfterMs || inStream + piece.length > MAX_STREAM_CHARS)) yield* stopOpen
      if (streamId === undefined) return yield* start(piece, now)
      const id = streamId
      return yield* native.append(target, id, piece).pipe(
        Effect.as(true),
        Effect.tap(() => {
          inStream += piece.length
          streamed += piece
        }),
        Effect.catchAll((e) => {
          if (!native.isEnded(e)) return giveUp(e)
          streamId = undefined // the platform finalised it; the refused text opens the next one
          return start(piece, now)
        })
      )
    })

  const update = (answer: string, force: boolean): Effect.Effect<void> =>
    Effect.gen(function* () {
      if (failed) return
      const now = yield* Clock.currentTimeMillis
      // The interval first: a Draft comes per model delta, and comparing the reply is O(its length).
      if (!force && now - lastAt < native.intervalMs) return
      if (!answer.startsWith(streamed)) return
      const pending = answer.slice(streamed.length)
      if (pending === "") return
      lastAt = now
      for (const piece of pieces(pending, native.maxChars)) {
        if (!(yield* put(piece, now))) return
      }
    })

  const finish = (finalText: string): Effect.Effect<void> =>
    Effect.gen(function* () {
      yield* update(finalText, true)
      yield* stopOpen
      // Not streamed (native failed, or the final is not what was streamed): send the rest as messages.
      const rest = finalText.startsWith(streamed) ? finalText.slice(streamed.length) : finalText
      if (rest.trim() !== "") yield* fallback(rest)
    })

  const close = () => Effect.as(stopOpen, streamed !== "")

  return { update, finish, close }
}
