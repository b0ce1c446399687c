/**
 * Grapheme boundaries (what a reader sees as one character: 👍🏽, 🇩🇪, e + combining accent) for every
 * place channel text is trimmed or cut. Uses `Intl.Segmenter`'s `containing(index)`, which finds the
 * cluster around the index without walking the text from its start.
 *
 * @internal
 */
const segmenter = new Intl.Segmenter(undefined, { granularity: "grapheme" })

export const isHigh = (c: number): boolean => c >= 0xd800 && c <= 0xdbff
export const isLow = (c: number): boolean => c >= 0xdc00 && c <= 0xdfff

/** The grapheme boundary at or before `at` (0 and `text.length` are boundaries). */
export const floor = (text: string, at: number): number => {
  if (at <= 0) return 0
  if (at >= text.length) return text.length
  return segmenter.segment(text).containing(at)!.index
}

/** The grapheme boundary at or after `at`. */
export const ceil = (text: string, at: number): number => {
  if (at <= 0) return 0
  if (at >= text.length) return text.length
  const s = segmenter.segment(text).containing(at)!
  return s.index === at ? at : s.index + s.segment.length
}

/** Code-point boundary at or before `at` (never between the halves of a surrogate pair). */
export const codePointFloor = (text: string, at: number): number =>
  at > 0 && at < text.length && isLow(text.charCodeAt(at)) && isHigh(text.charCodeAt(at - 1)) ? at - 1 : at

/** At most `max` UTF-16 units of `text`, cut on a grapheme boundary, with `…` when shortened. */
export const truncate = (text: string, max: number): string =>
  text.length <= max ? text : text.slice(0, floor(text, max - 1)) + "…"

/** How many graphemes `text` shows (for aligning monospace columns). */
export const width = (text: string): number => {
  let n = 0
  for (const _ of segmenter.segment(text)) n++
  return n
}
