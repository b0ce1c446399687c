/**
 * A small inline Markdown parser (code spans, links, bold, italic, strikethrough) for rendering
 * model output into channel dialects. Unmatched markers stay literal text.
 */
export type Inline =
  | { readonly t: "text"; readonly v: string }
  | { readonly t: "code"; readonly v: string }
  | { readonly t: "b" | "i" | "s"; readonly c: ReadonlyArray<Inline> }
  | { readonly t: "link"; readonly c: ReadonlyArray<Inline>; readonly url: string }

const isWordChar = (c: string | undefined) => c !== undefined && /[\p{L}\p{N}]/u.test(c)
const isSpace = (c: string | undefined) => c === undefined || /\s/.test(c)

/** Index of the closing `delim` for an opener ending at `from`, or -1. */
const findClose = (s: string, from: number, delim: string): number => {
  for (let j = from; j <= s.length - delim.length; j++) {
    if (s[j] === "`") {
      // skip code spans inside emphasis
      const run = /^`+/.exec(s.slice(j))![0]
      const end = s.indexOf(run, j + run.length)
      if (end !== -1) {
        j = end + run.length - 1
        continue
      }
    }
    if (s.startsWith(delim, j) && j > from && !isSpace(s[j - 1])) {
      const single = delim.length === 1
      if (single && s[j + 1] === delim) {
        j++ // part of a double marker
        continue
      }
      if (delim[0] === "_" && isWordChar(s[j + delim.length])) continue // snake_case
      return j
    }
  }
  return -1
}

export const parseInline = (s: string): ReadonlyArray<Inline> => {
  const out: Array<Inline> = []
  let text = ""
  const flush = () => {
    if (text !== "") out.push({ t: "text", v: text })
    text = ""
  }
  let i = 0
  while (i < s.length) {
    const ch = s[i]!
    if (ch === "`") {
      const run = /^`+/.exec(s.slice(i))![0]
      const end = s.indexOf(run, i + run.length)
      if (end !== -1) {
        flush()
        let v = s.slice(i + run.length, end)
        if (v.length > 1 && v.startsWith(" ") && v.endsWith(" ")) v = v.slice(1, -1)
        out.push({ t: "code", v })
        i = end + run.length
        continue
      }
      text += run
      i += run.length
      continue
    }
    if (ch === "[") {
      const m = /^\[([^\]\n]*)\]\(((?:[^()\s]|\([^()\s]*\))+)\)/.exec(s.slice(i))
      if (m !== null) {
        flush()
        out.push({ t: "link", c: parseInline(m[1]!), url: m[2]! })
        i += m[0].length
        continue
      }
    }
    const two = s.slice(i, i + 2)
    if ((two === "**" || two === "__" || two === "~~") && !isSpace(s[i + 2]) && !(two === "__" && isWordChar(s[i - 1]))) {
      const close = findClose(s, i + 2, two)
      if (close !== -1) {
        flush()
        out.push({ t: two === "~~" ? "s" : "b", c: parseInline(s.slice(i + 2, close)) })
        i = close + 2
        continue
      }
    }
    if ((ch === "*" || ch === "_") && !isSpace(s[i + 1]) && s[i + 1] !== ch && !(ch === "_" && isWordChar(s[i - 1]))) {
      const close = findClose(s, i + 1, ch)
      if (close !== -1) {
        flush()
        out.push({ t: "i", c: parseInline(s.slice(i + 1, close)) })
        i = close + 1
        continue
      }
    }
    text += ch
    i++
  }
  flush()
  return out
}
