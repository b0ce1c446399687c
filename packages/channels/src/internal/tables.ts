/** Where the GFM tables of a markdown text are (outside code fences), so a cut can avoid them. @internal */
import * as Fences from "./fences.js"

export interface TableSpan {
  /** Index of the header row's first character. */
  readonly start: number
  /** Index just after the last row (its newline, or the text's end). */
  readonly end: number
}

const DELIMITER_ROW = /^[ \t]*\|?[ \t]*:?-+:?[ \t]*(\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$/

/** Tables: a row with a `|`, a delimiter row (`| --- | :-: |`), then rows until a blank line or a line without `|`. */
export const scan = (text: string, fences: ReadonlyArray<Fences.FenceSpan> = Fences.scan(text)): ReadonlyArray<TableSpan> => {
  const lines: Array<{ start: number; text: string }> = []
  for (let at = 0; at <= text.length; ) {
    const nl = text.indexOf("\n", at)
    const end = nl === -1 ? text.length : nl
    lines.push({ start: at, text: text.slice(at, end) })
    if (nl === -1) break
    at = nl + 1
  }
  const out: Array<TableSpan> = []
  for (let i = 0; i + 1 < lines.length; i++) {
    const head = lines[i]!
    const delim = lines[i + 1]!
    if (!head.text.includes("|") || !DELIMITER_ROW.test(delim.text) || !/[|]/.test(delim.text + head.text)) continue
    if (Fences.spanAt(fences, head.start) !== undefined) continue
    let j = i + 2
    while (j < lines.length && lines[j]!.text.trim() !== "" && lines[j]!.text.includes("|")) j++
    const last = lines[j - 1]!
    out.push({ start: head.start, end: last.start + last.text.length })
    i = j - 1
  }
  return out
}

/** The table that `at` falls strictly inside (a cut there would split it), if any. */
export const spanAt = (tables: ReadonlyArray<TableSpan>, at: number): TableSpan | undefined =>
  tables.find((t) => t.start < at && at < t.end)
