/**
 * Code-fence spans of a complete text (outbound splitting works on whole replies, so one scan per
 * reply). Rules: a line starting with 0–3 spaces then ≥3 backticks or ≥3 tildes opens a fence; the
 * rest of the line is the info string. A closing line uses the same char, at least as many, and
 * carries only spaces/tabs after it. An unclosed fence runs to the end of the text.
 *
 * Why not the core BlockChunker's fence logic: the chunker is a streaming, append-only splitter over
 * a growing buffer (min/max, break preference, source bookkeeping for the pipeline); the outbound
 * splitter cuts one finished text to a hard limit and a line cap, with a different preference order
 * per chunk mode. Sharing only the fence scan would mean a core export for ~40 lines; the rules
 * here are the same as the chunker's (CommonMark-style fences).
 */
export interface FenceSpan {
  /** Index of the opener line's first char. */
  readonly start: number
  /** Index just after the closer line's last char (before its newline); text.length when unclosed. */
  readonly end: number
  /** The whole opener line (indent + marker + info string), without the newline. */
  readonly openerLine: string
  /** Indent + marker (e.g. "  ~~~~"): the synthetic closer, and the bare reopen line. */
  readonly marker: string
  readonly closed: boolean
}

const OPEN = /^( {0,3})(`{3,}|~{3,})(.*)$/

export const scan = (text: string): ReadonlyArray<FenceSpan> => {
  const spans: Array<FenceSpan> = []
  let open: { start: number; openerLine: string; indent: string; fence: string } | undefined
  let lineStart = 0
  while (lineStart <= text.length) {
    const nl = text.indexOf("\n", lineStart)
    const lineEnd = nl === -1 ? text.length : nl
    const line = text.slice(lineStart, lineEnd).replace(/\r$/, "")
    if (open === undefined) {
      const m = OPEN.exec(line)
      // a backtick fence's info string may not contain a backtick
      if (m !== null && !(m[2]!.startsWith("`") && m[3]!.includes("`"))) {
        open = { start: lineStart, openerLine: line, indent: m[1]!, fence: m[2]! }
      }
    } else {
      const m = /^ {0,3}(`{3,}|~{3,})[ \t]*$/.exec(line)
      if (m !== null && m[1]![0] === open.fence[0] && m[1]!.length >= open.fence.length) {
        spans.push({
          start: open.start,
          end: lineStart + line.length,
          openerLine: open.openerLine,
          marker: open.indent + open.fence,
          closed: true
        })
        open = undefined
      }
    }
    if (nl === -1) break
    lineStart = nl + 1
  }
  if (open !== undefined) {
    spans.push({ start: open.start, end: text.length, openerLine: open.openerLine, marker: open.indent + open.fence, closed: false })
  }
  return spans
}

/** The fence that strictly contains position `i` (a cut there would break it), if any. */
export const spanAt = (spans: ReadonlyArray<FenceSpan>, i: number): FenceSpan | undefined => {
  for (const s of spans) {
    if (s.start < i && i < s.end) return s
    if (s.start >= i) return undefined
  }
  return undefined
}

/** True when `text` has every fence closed (used by tests and by the splitter's own checks). */
export const balanced = (text: string): boolean => scan(text).every((s) => s.closed)
