/**
 * The fake Bot API's entity parsers: they accept what the real API accepts and reject, with the
 * real error text, what it rejects ("Bad Request: can't parse entities: …"). They return the
 * visible text (what the user sees), so tests can compare it with the plain rendering.
 */
export type ParseResult = { readonly ok: true; readonly text: string } | { readonly ok: false; readonly description: string }

const fail = (why: string): ParseResult => ({ ok: false, description: `Bad Request: can't parse entities: ${why}` })
const byteOffset = (s: string, i: number) => Buffer.byteLength(s.slice(0, i), "utf8")

const HTML_TAGS = new Set(["b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "code", "pre", "a", "tg-spoiler", "span", "blockquote", "tg-emoji"])

export const parseHtml = (s: string): ParseResult => {
  const stack: Array<{ tag: string; at: number }> = []
  let text = ""
  let i = 0
  while (i < s.length) {
    const ch = s[i]!
    if (ch === "<") {
      const m = /^<(\/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[a-z-]+\s*=\s*"[^"]*")*)\s*>/.exec(s.slice(i))
      if (m === null) return fail(`Unsupported start tag "" at byte offset ${byteOffset(s, i)}`)
      const tag = m[2]!.toLowerCase()
      if (!HTML_TAGS.has(tag)) return fail(`Unsupported start tag "${tag}" at byte offset ${byteOffset(s, i)}`)
      if (m[1] === "/") {
        const top = stack.pop()
        if (top === undefined || top.tag !== tag) return fail(`Unexpected end tag at byte offset ${byteOffset(s, i)}`)
      } else {
        if (tag === "a" && !/href\s*=/.test(m[3]!)) return fail(`Can't find "href" attribute of "a" tag at byte offset ${byteOffset(s, i)}`)
        stack.push({ tag, at: i })
      }
      i += m[0].length
      continue
    }
    if (ch === ">") return fail(`Unsupported start tag "" at byte offset ${byteOffset(s, i)}`) // unescaped ">" is rejected too in practice
    if (ch === "&") {
      const m = /^&(amp|lt|gt|quot|#\d+|#x[0-9a-fA-F]+);/.exec(s.slice(i))
      if (m !== null) {
        const e = m[1]!
        text += e === "amp" ? "&" : e === "lt" ? "<" : e === "gt" ? ">" : e === "quot" ? '"' : String.fromCodePoint(e[1] === "x" ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10))
        i += m[0].length
        continue
      }
      // a bare "&" is accepted as text by the real API
    }
    text += ch
    i++
  }
  const open = stack.pop()
  if (open !== undefined) return fail(`Can't find end tag corresponding to start tag "${open.tag}"`)
  return { ok: true, text }
}

const RESERVED = new Set("_*[]()~`>#+-=|{}.!".split(""))

export const parseMarkdownV2 = (s: string): ParseResult => {
  type Ent = "*" | "_" | "__" | "~" | "||" | "["
  const stack: Array<{ ent: Ent; at: number }> = []
  let text = ""
  let i = 0
  const top = () => stack[stack.length - 1]
  while (i < s.length) {
    const ch = s[i]!
    if (ch === "\\") {
      const next = s[i + 1]
      if (next === undefined) return fail(`Can't find end of the entity starting at byte offset ${byteOffset(s, i)}`)
      text += next
      i += 2
      continue
    }
    if (ch === "`") {
      const pre = s.startsWith("```", i)
      const delim = pre ? "```" : "`"
      let j = i + delim.length
      if (pre) {
        const nl = s.indexOf("\n", j)
        if (nl !== -1 && /^[A-Za-z0-9_+-]*$/.test(s.slice(j, nl))) j = nl + 1
      }
      let body = ""
      let closed = false
      while (j < s.length) {
        if (s[j] === "\\" && j + 1 < s.length) {
          body += s[j + 1]
          j += 2
          continue
        }
        if (s.startsWith(delim, j)) {
          closed = true
          break
        }
        body += s[j]
        j++
      }
      if (!closed) return fail(`Can't find end of ${pre ? "Pre" : "Code"} entity at byte offset ${byteOffset(s, i)}`)
      text += pre && body.endsWith("\n") ? body.slice(0, -1) : body
      i = j + delim.length
      continue
    }
    const ent: Ent | undefined =
      ch === "*" ? "*" : ch === "_" ? (s[i + 1] === "_" ? "__" : "_") : ch === "~" ? "~" : ch === "|" && s[i + 1] === "|" ? "||" : undefined
    if (ent !== undefined) {
      if (top()?.ent === ent) stack.pop()
      else if (stack.some((e) => e.ent === ent)) return fail(`Can't find end of ${ent} entity at byte offset ${byteOffset(s, stack.find((e) => e.ent === ent)!.at)}`)
      else stack.push({ ent, at: i })
      i += ent.length
      continue
    }
    if (ch === "[") {
      stack.push({ ent: "[", at: i })
      i++
      continue
    }
    if (ch === "]" && top()?.ent === "[") {
      const m = /^\]\(((?:\\.|[^)\\])*)\)/.exec(s.slice(i))
      if (m === null) return fail(`Can't find end of a URL at byte offset ${byteOffset(s, i)}`)
      stack.pop()
      i += m[0].length
      continue
    }
    if (ch === ">" && (i === 0 || s[i - 1] === "\n")) {
      i++
      continue
    }
    if (RESERVED.has(ch)) return fail(`Character '${ch}' is reserved and must be escaped with the preceding '\\'`)
    text += ch
    i++
  }
  const open = stack.pop()
  if (open !== undefined) return fail(`Can't find end of the entity starting at byte offset ${byteOffset(s, open.at)}`)
  return { ok: true, text }
}
