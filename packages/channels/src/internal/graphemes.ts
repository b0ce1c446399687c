/**
 * Grapheme boundaries (what a reader sees as one character: 👍🏽, 🇩🇪, e + combining accent) for every
 * place channel text is trimmed or cut. Uses `Intl.Segmenter`, which asks ICU only about the cluster
 * around the index, so a cut near the end of a long reply does not segment the whole text.
 *
 * @internal
 */
const segmenter = new Intl.Segmenter(undefined, { granularity: "grapheme" })

const isHigh = (c: number) => c >= 0xd800 && c <= 0xdbff
const isLow = (c: number) => c >= 0xdc00 && c <= 0xdfff

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
