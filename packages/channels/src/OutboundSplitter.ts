/**
 * Splits one reply into messages that fit a channel: `limit` UTF-16 units per message, an
 * optional line cap (Discord's 17-line soft cap), `chunkMode` `length` (last newline, else last
 * whitespace, else a hard cut) or `newline` (paragraph boundaries first: whole paragraphs are
 * packed up to the limit, then newline, whitespace, hard cut).
 *
 * Guarantees (checked by fast-check properties in test/OutboundSplitter.test.ts):
 * - no part is longer than `limit` (nor has more than `maxLines` lines, nor `maxBytes` UTF-8 bytes),
 *   for `limit >= MIN_LIMIT` (and `maxBytes >= 4 * MIN_LIMIT`). The limits win over fence safety:
 *   a fence opener line longer than the limit is cut like plain text;
 * - a GFM table that fits in one message is never cut (a longer one is cut between rows);
 * - a code fence is never broken: a part cut inside a fence is closed with the fence marker and the
 *   next part reopens it with the opener line (info string kept when it fits), so every part's
 *   fences are balanced whenever the input's were;
 * - a grapheme (👍🏽, 🇩🇪) is never split unless it alone exceeds the limit; a surrogate pair never is;
 * - nothing is lost: each part is `reopened + input.slice(start, end) + closed`, the parts' source
 *   ranges are in order, and what lies between two ranges (`input.slice(end_i, start_i+1)`) is
 *   whitespace only — the separator dropped at the cut. Only whitespace at cuts and the synthetic
 *   fence lines differ from the input.
 *
 * @since 0.1.0
 */
import * as Fences from "./internal/fences.js"
import * as Graphemes from "./internal/graphemes.js"
import * as Tables from "./internal/tables.js"

export type ChunkMode = "length" | "newline"

export interface Options {
  readonly limit: number
  readonly chunkMode?: ChunkMode | undefined
  /** Soft line cap per message (Discord: 17). */
  readonly maxLines?: number | undefined
  /** A cap in UTF-8 bytes as well (Signal shows 2 KiB of body inline): 2000 CJK chars are ~6 KB. */
  readonly maxBytes?: number | undefined
}

export interface Part {
  /** The message to send. */
  readonly text: string
  /** Source range of the input this part carries. */
  readonly start: number
  readonly end: number
  /** Synthetic fence reopen line (with its "\n") put before the source slice, or "". */
  readonly reopened: string
  /** Synthetic fence closer ("\n" + marker) put after the source slice, or "". */
  readonly closed: string
}

/** Below this limit fences can no longer be closed and reopened inside a part. */
export const MIN_LIMIT = 16

const { isHigh, isLow } = Graphemes
const lineCount = (s: string) => {
  let n = 1
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) === 10) n++
  return n
}

/** UTF-8 length of `s` (Node's own count: a surrogate pair is 4 bytes, a lone surrogate 3). */
export const utf8Length = (s: string): number => Buffer.byteLength(s, "utf8")

/** The largest end index such that `text.slice(pos, end)` takes at most `budget` UTF-8 bytes. */
const utf8End = (text: string, pos: number, budget: number): number => {
  if (budget === Infinity) return text.length
  let n = 0
  let i = pos
  while (i < text.length) {
    const c = text.charCodeAt(i)
    const pair = isHigh(c) && i + 1 < text.length && isLow(text.charCodeAt(i + 1))
    const b = c < 0x80 ? 1 : c < 0x800 ? 2 : pair ? 4 : 3
    if (n + b > budget) break
    n += b
    i += pair ? 2 : 1
  }
  return i
}

/** Index after the separator that starts at `c` (newlines; or a run of spaces/tabs then newlines). */
const skipSeparator = (text: string, c: number, insideFence: boolean): number => {
  let i = c
  if (insideFence) return text[i] === "\n" ? i + 1 : i
  while (i < text.length && (text[i] === " " || text[i] === "\t")) i++
  while (i < text.length && (text[i] === "\n" || text[i] === "\r")) i++
  return i
}

/** Splits `input` into parts (see the module doc). Whitespace-only input gives no parts. */
export const parts = (input: string, options: Options): ReadonlyArray<Part> => {
  const limit = Math.max(MIN_LIMIT, Math.floor(options.limit))
  const maxLines = options.maxLines !== undefined && options.maxLines > 0 ? Math.max(3, Math.floor(options.maxLines)) : Infinity
  const maxBytes = options.maxBytes !== undefined && options.maxBytes > 0 ? Math.max(4 * MIN_LIMIT, Math.floor(options.maxBytes)) : Infinity
  const fits = (t: string) => t.length <= limit && lineCount(t) <= maxLines && (maxBytes === Infinity || utf8Length(t) <= maxBytes)
  const mode = options.chunkMode ?? "length"
  const spans = Fences.scan(input)
  // A table that fits in one message is kept whole: no cut falls inside it (a longer one is cut between rows).
  const tables = Tables.scan(input, spans).filter((t) => t.end - t.start <= limit && utf8Length(input.slice(t.start, t.end)) <= maxBytes)
  const out: Array<Part> = []
  let pos = 0
  // skip leading blank lines
  while (pos < input.length && (input[pos] === "\n" || input[pos] === "\r")) pos++
  let reopenFence: Fences.FenceSpan | undefined
  while (pos < input.length) {
    if (input.slice(pos).trim() === "") break
    const reopened = reopenFence === undefined ? "" : reopenLine(reopenFence, limit, maxBytes) + "\n"
    const rest = input.slice(pos).trimEnd()
    const whole = reopened + rest
    if (fits(whole)) {
      const end = pos + rest.length
      out.push({ text: reopened + input.slice(pos, end), start: pos, end, reopened, closed: "" })
      break
    }
    // the window holds what fits in both budgets, leaving room for a fence closer ("\n" + marker)
    const byteBudget = maxBytes === Infinity ? Infinity : maxBytes - utf8Length(reopened)
    const windowEnd = Math.min(input.length, pos + limit - reopened.length, utf8End(input, pos, byteBudget))
    // when a cut breaks the limits (synthetic fence lines, the line cap), retry with the body
    // ending strictly before the previous try's end
    let maxEnd = Infinity
    let made = tryCut(input, spans, tables, pos, windowEnd, maxEnd, reopened, mode)
    while (!fits(made.part.text)) {
      maxEnd = made.part.end
      if (maxEnd <= pos + (reopened === "" ? 1 : 0)) {
        made = tryCut(input, spans, [], pos, pos + 1, Infinity, reopened, mode) // cannot do better
        break
      }
      made = tryCut(input, spans, tables, pos, windowEnd, maxEnd, reopened, mode)
      if (made.part.end >= maxEnd) {
        made = tryCut(input, spans, [], pos, pos + 1, Infinity, reopened, mode)
        break
      }
    }
    if (!fits(made.part.text)) {
      // Nothing fence-safe fits (a fence opener line longer than the limit): the limit wins, as the
      // platform's does; cut plainly inside the budgets.
      let end = safeHardCut(input, pos, windowEnd)
      while (!fits(reopened + input.slice(pos, end))) {
        const shorter = safeHardCut(input, pos, end - 1)
        if (shorter >= end) break // one code point: it goes out as it is
        end = shorter
      }
      made = { part: { text: reopened + input.slice(pos, end), start: pos, end, reopened, closed: "" }, next: end, fence: Fences.spanAt(spans, end) }
    }
    out.push(made.part)
    reopenFence = made.fence
    pos = made.next
  }
  return out
}

/** Just the message texts. */
export const split = (input: string, options: Options): ReadonlyArray<string> => parts(input, options).map((p) => p.text)

/** The opener line (info string kept) when it leaves room for content in both budgets, else the bare marker. */
const reopenLine = (fence: Fences.FenceSpan, limit: number, maxBytes: number): string =>
  fence.openerLine.length + fence.marker.length + 24 <= limit &&
  (maxBytes === Infinity || utf8Length(fence.openerLine) + fence.marker.length + 24 <= maxBytes)
    ? fence.openerLine
    : fence.marker

/**
 * One cut in (pos, windowEnd]. Candidates are searched from the right; a cut outside every fence
 * is preferred; otherwise a cut inside a fence closes and reopens it.
 */
const tryCut = (
  text: string,
  spans: ReadonlyArray<Fences.FenceSpan>,
  tables: ReadonlyArray<Tables.TableSpan>,
  pos: number,
  windowLimit: number,
  maxEnd: number,
  reopened: string,
  mode: ChunkMode
): { part: Part; next: number; fence: Fences.FenceSpan | undefined } => {
  const windowEnd = Math.min(windowLimit, maxEnd - 1)
  const outside = (c: number) => Fences.spanAt(spans, c) === undefined
  const nonBlank = (c: number) => text.slice(pos, c).trim() !== ""
  const find = (pred: (c: number) => boolean): number | undefined => {
    for (let c = windowEnd; c > pos; c--) if (pred(c) && outside(c) && nonBlank(c) && Tables.spanAt(tables, c) === undefined) return c
    // nothing outside the tables: a cut inside one rather than a hard cut
    if (tables.length > 0) for (let c = windowEnd; c > pos; c--) if (pred(c) && outside(c) && nonBlank(c)) return c
    return undefined
  }
  const isNl = (c: number) => text[c] === "\n"
  const isPara = (c: number) => isNl(c) && /^\n[ \t]*\n/.test(text.slice(c, c + 64))
  const isWs = (c: number) => text[c] === " " || text[c] === "\t"
  const c =
    (mode === "newline" ? find(isPara) : undefined) ??
    find(isNl) ??
    find(isWs) ??
    (windowEnd >= text.length ? text.length : undefined)
  if (c !== undefined) {
    const end = trimEndIndex(text, pos, c)
    return {
      part: { text: reopened + text.slice(pos, end), start: pos, end, reopened, closed: "" },
      next: skipSeparator(text, c, false),
      fence: undefined
    }
  }
  // No safe break outside fences: cut inside the fence that covers the window end.
  const fence = Fences.spanAt(spans, windowEnd) ?? Fences.spanAt(spans, windowEnd - 1)
  if (fence !== undefined) {
    const closed = "\n" + fence.marker
    const budgetEnd = Math.min(windowLimit - closed.length, maxEnd - 1)
    // the last newline inside the fence (after the opener line), not the one right before the closer
    let cut: number | undefined
    const openerEnd = fence.start + fence.openerLine.length
    for (const avoidEmptyTail of [true, false]) {
      // inside a reopened fence an empty body is fine: it carries one blank line
      const lowest = Math.max(reopened === "" ? pos + 1 : pos, openerEnd + 1)
      for (let i = budgetEnd; cut === undefined && i >= lowest; i--) {
        const onlyCloserLeft = fence.closed && text.slice(i + 1, fence.end).trim() === fence.marker.trim()
        if (text[i] === "\n" && !(avoidEmptyTail && onlyCloserLeft)) cut = i
      }
    }
    if (cut !== undefined) {
      return {
        part: { text: reopened + text.slice(pos, cut) + closed, start: pos, end: cut, reopened, closed },
        next: cut + 1,
        fence
      }
    }
    const hard = safeHardCut(text, pos, Math.max(budgetEnd, Math.max(pos + 1, openerEnd + 1)))
    if (hard > openerEnd) {
      return {
        part: { text: reopened + text.slice(pos, hard) + closed, start: pos, end: hard, reopened, closed },
        next: text[hard] === "\n" ? hard + 1 : hard,
        fence
      }
    }
  }
  const hard = safeHardCut(text, pos, windowEnd)
  const inFence = Fences.spanAt(spans, hard)
  const closed = inFence === undefined ? "" : "\n" + inFence.marker
  return {
    part: { text: reopened + text.slice(pos, hard) + closed, start: pos, end: hard, reopened, closed },
    next: hard,
    fence: inFence
  }
}

const trimEndIndex = (text: string, pos: number, c: number): number => {
  let e = c
  while (e > pos && (text[e - 1] === "\n" || text[e - 1] === "\r")) e--
  return e
}

/**
 * A cut at or before `at` on a grapheme boundary (👍🏽 and 🇩🇪 stay whole); when one grapheme alone is
 * longer than the room, a code-point boundary (a surrogate pair is never split); at least one code point.
 */
const safeHardCut = (text: string, pos: number, at: number): number => {
  let c = Math.min(Math.max(at, pos + 1), text.length)
  const g = Graphemes.floor(text, c)
  if (g > pos) return g
  c = Graphemes.codePointFloor(text, c)
  if (c <= pos) c = text.codePointAt(pos)! > 0xffff ? pos + 2 : pos + 1
  return Math.min(c, text.length)
}
