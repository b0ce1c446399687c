/**
 * Model output is standard Markdown; each channel speaks its own dialect. These pure functions
 * render one (already split, fence-balanced) part into a channel's dialect:
 *
 * - Telegram `HTML` (escape `<`, `>`, `&`; tags b/i/s/code/pre/a/blockquote) or `MarkdownV2`
 *   (every reserved character escaped with `\`, inside code only `` ` `` and `\`, inside a link
 *   URL only `)` and `\`);
 * - Slack mrkdwn (`*bold*`, `_italic_`, `~strike~`, `<url|text>`, `&`, `<`, `>` as entities);
 * - Discord markdown (passed through: Discord renders standard Markdown);
 * - WhatsApp (`*bold*`, `_italic_`, `~strike~`, ```` ``` ```` monospace, links as `text (url)`);
 * - plain text for Signal (markers removed, links as `text (url)`), also the Telegram fallback
 *   when the API rejects the formatting.
 *
 * Headings become bold lines and `*`/`-`/`+` bullets become `•` (everywhere but Discord, which
 * renders both itself).
 *
 * @since 0.1.0
 */
import * as Fences from "./internal/fences.js"
import { parseInline, type Inline } from "./internal/inline.js"

export type Dialect = "telegram-html" | "telegram-markdownv2" | "slack" | "discord" | "whatsapp" | "plain"

interface Renderer {
  readonly text: (s: string) => string
  readonly code: (s: string) => string
  readonly bold: (inner: string) => string
  readonly italic: (inner: string) => string
  readonly strike: (inner: string) => string
  readonly link: (inner: string, url: string, plainInner: string) => string
  readonly heading: (inner: string) => string
  readonly quote: (lines: ReadonlyArray<string>) => string
  readonly fence: (lang: string, body: string) => string
  readonly bullet: string
  /** Put between two adjacent italics (MarkdownV2 would read their `__` as underline). */
  readonly italicSeparator?: string
}

export const escapeHtml = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
const escapeAttr = (s: string): string => escapeHtml(s).replace(/"/g, "&quot;")

/** MarkdownV2: the characters that must be escaped in normal text. */
export const MARKDOWN_V2_RESERVED = "_*[]()~`>#+-=|{}.!\\"
export const escapeMarkdownV2 = (s: string): string => s.replace(/[_*[\]()~`>#+\-=|{}.!\\]/g, (c) => "\\" + c)
const escapeV2Code = (s: string): string => s.replace(/[`\\]/g, (c) => "\\" + c)
const escapeV2Url = (s: string): string => s.replace(/[)\\]/g, (c) => "\\" + c)

export const escapeSlack = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")

const linkText = (inner: string, url: string) => (inner === url || inner === "" ? url : `${inner} (${url})`)

const renderers: Record<Exclude<Dialect, "discord">, Renderer> = {
  "telegram-html": {
    text: escapeHtml,
    code: (s) => `<code>${escapeHtml(s)}</code>`,
    bold: (s) => `<b>${s}</b>`,
    italic: (s) => `<i>${s}</i>`,
    strike: (s) => `<s>${s}</s>`,
    link: (s, url) => `<a href="${escapeAttr(url)}">${s}</a>`,
    heading: (s) => `<b>${s}</b>`,
    quote: (lines) => `<blockquote>${lines.join("\n")}</blockquote>`,
    fence: (lang, body) =>
      lang === "" ? `<pre>${escapeHtml(body)}</pre>` : `<pre><code class="language-${escapeAttr(lang)}">${escapeHtml(body)}</code></pre>`,
    bullet: "•"
  },
  "telegram-markdownv2": {
    text: escapeMarkdownV2,
    code: (s) => "`" + escapeV2Code(s) + "`",
    bold: (s) => `*${s}*`,
    italic: (s) => `_${s}_`,
    strike: (s) => `~${s}~`,
    link: (s, url) => `[${s}](${escapeV2Url(url)})`,
    heading: (s) => `*${s}*`,
    quote: (lines) => lines.map((l) => ">" + l).join("\n"),
    fence: (lang, body) => "```" + lang.replace(/[^A-Za-z0-9_+-]/g, "") + "\n" + escapeV2Code(body) + "\n```",
    bullet: "•",
    // Telegram's documented fix for `__` ambiguity: an empty bold entity between the two.
    italicSeparator: "**"
  },
  slack: {
    text: escapeSlack,
    code: (s) => "`" + escapeSlack(s) + "`",
    bold: (s) => `*${s}*`,
    italic: (s) => `_${s}_`,
    strike: (s) => `~${s}~`,
    link: (_s, url, plain) => (plain === url || plain === "" ? `<${url}>` : `<${url}|${escapeSlack(plain).replace(/\|/g, "¦")}>`),
    heading: (s) => `*${s}*`,
    quote: (lines) => lines.map((l) => "> " + l).join("\n"),
    fence: (_lang, body) => "```\n" + escapeSlack(body) + "\n```",
    bullet: "•"
  },
  whatsapp: {
    text: (s) => s,
    code: (s) => "`" + s + "`",
    bold: (s) => `*${s}*`,
    italic: (s) => `_${s}_`,
    strike: (s) => `~${s}~`,
    link: (_s, url, plain) => linkText(plain, url),
    heading: (s) => `*${s}*`,
    quote: (lines) => lines.map((l) => "> " + l).join("\n"),
    fence: (_lang, body) => "```" + body + "```",
    bullet: "•"
  },
  plain: {
    text: (s) => s,
    code: (s) => s,
    bold: (s) => s,
    italic: (s) => s,
    strike: (s) => s,
    link: (_s, url, plain) => linkText(plain, url),
    heading: (s) => s,
    quote: (lines) => lines.map((l) => "> " + l).join("\n"),
    fence: (_lang, body) => body,
    bullet: "•"
  }
}

/** Styles already open around a node: a style nested in itself is rendered as its content only
 * (`_a _b_ c_` would read as Telegram's `__` underline, and `*x *y* z*` closes early in mrkdwn). */
type Open = { readonly b?: true; readonly i?: true; readonly s?: true }

const renderNode = (n: Inline, r: Renderer, open: Open): string => {
  switch (n.t) {
    case "text":
      return r.text(n.v)
    case "code":
      return r.code(n.v)
    case "b":
    case "i":
    case "s": {
      const inner = renderInline(n.c, r, { ...open, [n.t]: true })
      if (open[n.t]) return inner
      return n.t === "b" ? r.bold(inner) : n.t === "i" ? r.italic(inner) : r.strike(inner)
    }
    case "link":
      return r.link(renderInline(n.c, r, open), n.url, renderInline(n.c, renderers.plain, {}))
  }
}

const renderInline = (nodes: ReadonlyArray<Inline>, r: Renderer, open: Open = {}): string => {
  let out = ""
  for (let k = 0; k < nodes.length; k++) {
    const n = nodes[k]!
    if (r.italicSeparator !== undefined && !open.i && n.t === "i" && nodes[k - 1]?.t === "i") out += r.italicSeparator
    out += renderNode(n, r, open)
  }
  return out
}

const renderLines = (lines: ReadonlyArray<string>, r: Renderer): string => {
  const out: Array<string> = []
  let quote: Array<string> = []
  const flushQuote = () => {
    if (quote.length > 0) out.push(r.quote(quote))
    quote = []
  }
  for (const line of lines) {
    const q = /^ {0,3}> ?(.*)$/.exec(line)
    if (q !== null) {
      quote.push(renderInline(parseInline(q[1]!), r))
      continue
    }
    flushQuote()
    const h = /^ {0,3}#{1,6}[ \t]+(.*?)[ \t#]*$/.exec(line)
    if (h !== null) {
      out.push(r.heading(renderInline(parseInline(h[1]!), r, { b: true })))
      continue
    }
    const b = /^([ \t]*)[*+-][ \t]+(.*)$/.exec(line)
    if (b !== null) {
      out.push(b[1]! + r.bullet + " " + renderInline(parseInline(b[2]!), r))
      continue
    }
    out.push(renderInline(parseInline(line), r))
  }
  flushQuote()
  return out.join("\n")
}

/** Renders Markdown into `dialect`. Discord gets the text unchanged. */
export const render = (markdown: string, dialect: Dialect): string => {
  if (dialect === "discord") return markdown
  const r = renderers[dialect]
  const spans = Fences.scan(markdown)
  const out: Array<string> = []
  let pos = 0
  for (const s of spans) {
    const before = markdown.slice(pos, s.start)
    if (before !== "") out.push(renderLines(before.replace(/\n$/, "").split("\n"), r) + (before.endsWith("\n") ? "\n" : ""))
    const block = markdown.slice(s.start, s.end)
    const firstNl = block.indexOf("\n")
    const lang = s.openerLine.trim().replace(/^(`{3,}|~{3,})/, "").trim().split(/\s+/)[0] ?? ""
    let body = firstNl === -1 ? "" : block.slice(firstNl + 1)
    if (s.closed) body = body.slice(0, Math.max(0, body.lastIndexOf("\n")))
    out.push(r.fence(lang, body))
    pos = s.end
  }
  const rest = markdown.slice(pos)
  if (rest !== "") out.push(renderLines(rest.split("\n"), r))
  return out.join("")
}

/** Plain text (Signal; Telegram's fallback when its entity parser rejects a message). */
export const toPlain = (markdown: string): string => render(markdown, "plain")
