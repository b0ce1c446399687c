/**
 * Rendering reply events for a terminal: blocks as they are ready, a one-line spinner with a
 * reasoning progress bar while the model thinks, notices for rollbacks, errors and stops, and the
 * conversation's history. Pure: every function returns the text to write; the caller owns the TTY.
 *
 * @since 0.1.0
 */
import type { HistoryMessage } from "@sluice/core/Conversations"
import type { ReplyEvent } from "@sluice/core/ReplyEvent"

export interface Style {
  readonly color: boolean
}

const wrap = (open: string, close: string) => (s: string, style: Style) => (style.color ? `\u001b[${open}m${s}\u001b[${close}m` : s)
export const dim = wrap("2", "22")
export const bold = wrap("1", "22")
export const cyan = wrap("36", "39")
export const yellow = wrap("33", "39")
export const red = wrap("31", "39")

/** Clears the current line (for the spinner). */
export const clearLine = "\r\u001b[2K"

const frames = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"]

/** A progress bar `▓▓▓░░░` of `width` cells for `progress` in 0..1. */
export const bar = (progress: number, width = 12): string => {
  const p = Math.max(0, Math.min(1, Number.isFinite(progress) ? progress : 0))
  const full = Math.round(p * width)
  return "▓".repeat(full) + "░".repeat(width - full)
}

export interface Progress {
  readonly step: number
  readonly total: number
  readonly status: string
  readonly progress: number
}

/** The spinner line: frame, what the model is doing, and the reasoning progress when known. */
export const spinner = (tick: number, progress: Progress | undefined, style: Style): string => {
  const frame = frames[tick % frames.length]!
  if (progress === undefined) return `${clearLine}${cyan(frame, style)} ${dim("waiting for the model…", style)}`
  const pct = Math.round(Math.max(0, Math.min(1, progress.progress)) * 100)
  return `${clearLine}${cyan(frame, style)} ${dim(`${progress.status} · step ${progress.step}/${progress.total}`, style)} ${bar(progress.progress)} ${pct}%`
}

export interface ReplyState {
  readonly runId: string | undefined
  readonly blocks: ReadonlyArray<string>
  readonly progress: Progress | undefined
  readonly done: boolean
  readonly reason: string | undefined
}

export const initial: ReplyState = { runId: undefined, blocks: [], progress: undefined, done: false, reason: undefined }

const squash = (s: string) => s.replace(/\s+/g, "")

/** Output for one event of the run being shown, and the next state. Events of other runs are ignored. */
export const onEvent = (state: ReplyState, ev: ReplyEvent, style: Style): readonly [ReplyState, string] => {
  if (state.runId !== undefined && ev.runId !== state.runId) return [state, ""]
  switch (ev._tag) {
    case "RunStarted":
      return [{ ...state, runId: ev.runId }, ""]
    case "ReasoningUpdate":
      return [{ ...state, runId: ev.runId, progress: ev }, ""]
    case "Block":
      if (ev.text.trim() === "") return [state, ""]
      return [{ ...state, runId: ev.runId, blocks: [...state.blocks, ev.text] }, `${ev.text}\n\n`]
    case "Rollback":
      return [
        { ...state, blocks: [] },
        state.blocks.length > 0 ? `${yellow("↻ the model is retrying; the reply starts over:", style)}\n\n` : ""
      ]
    case "Final": {
      // blocks already showed the reply: print only what they missed (never the reply twice)
      const shown = squash(state.blocks.join(""))
      const text = ev.text
      let out = ""
      if (state.blocks.length === 0) out = text.trim() === "" ? "" : `${text}\n\n`
      else if (!squash(text).startsWith(shown)) out = ""
      else {
        let i = 0
        let k = 0
        while (i < text.length && k < shown.length) {
          if (!/\s/.test(text[i]!)) k++
          i++
        }
        const tail = text.slice(i).trim()
        out = tail === "" ? "" : `${tail}\n\n`
      }
      return [{ ...state, blocks: [...state.blocks, out] }, out]
    }
    case "Error":
      return [state, `${red(`⚠ ${ev.error.tag}: ${ev.error.message}`, style)}\n\n`]
    case "RunEnded": {
      const note =
        ev.reason === "stopped" ? `${dim("(reply stopped)", style)}\n\n` : ev.reason === "interrupted" ? `${dim("(reply interrupted)", style)}\n\n` : ""
      return [{ ...state, done: true, reason: ev.reason }, note]
    }
    default:
      return [state, ""]
  }
}

/** The conversation so far, as shown when a chat starts. */
export const history = (messages: ReadonlyArray<HistoryMessage>, style: Style): string =>
  messages
    .map((m) =>
      m.role === "user"
        ? `${bold("you ›", style)} ${m.text}\n`
        : `${m.text}${m.interrupted ? ` ${dim("(interrupted)", style)}` : ""}\n`
    )
    .join("\n")
