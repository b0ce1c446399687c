/**
 * Model output is standard Markdown; each channel speaks its own dialect. These pure functions
 * render one (already split, fence-balanced) part into a channel's dialect:
 *
 * - Telegram `HTML` (escape `<`, `>`, `&`; tags b/i/s/code/pre/a/blockquote) or `MarkdownV2`
 *   (every reserved character escaped with `\`, inside code only `` ` `` and `\`, inside a link
 *   URL only `)` and `\`);
 * - Slack mrkdwn (`*bold*`, `_italic_`, `~strike~`, `<url|text>`, `&`, `<`, `>` as entities);
 * - Discord markdown (`**bold**`, `*italic*`, `~~strike~~`, masked links, fences; markdown
 *   characters in text escaped with `\`);
 * - WhatsApp (`*bold*`, `_italic_`, `~strike~`, ```` ``` ```` monospace, links as `text (url)`);
 * - plain text for Signal (markers removed, links as `text (url)`), also the Telegram fallback
 *   when the API rejects the formatting.
 *
 * The Markdown is parsed as CommonMark (with GFM tables, strikethrough and task items) by
 * markdown-it (`internal/markdownTree.ts`, into mdast node shapes), and the tree is rendered per
 * dialect: escapes (`2 \* 3`), `***both***`,
 * emphasis across a soft line break, autolinks (`<https://…>`), images (`alt (url)` / a link),
 * reference links and tables all read as a Markdown viewer shows them. Headings become bold lines,
 * bullets `•`, task items ☐/☑, and a table a monospace block with aligned columns (Discord has no
 * tables either). Blocks keep the blank lines the source had between them.
 *
 * {@link closeOpen} closes the inline markup a reply still being written has left open, so a
 * preview renders the way the finished text will.
 *
 * @since 0.1.0
 */
import type * as Mdast from "mdast"
import { width } from "./internal/graphemes.js"
import * as Tree from "./internal/markdownTree.js"

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

/** Discord: a backslash before any markdown character shows it as it is (Discord escapes any punctuation). */
export const escapeDiscord = (s: string): string => s.replace(/[\\*_~`>#[\]]/g, (c) => "\\" + c)
const discordCode = (s: string): string => (s.includes("`") ? "`` " + s + " ``" : "`" + s + "`")

const linkText = (inner: string, url: string) => (inner === url || inner === "" ? url : `${inner} (${url})`)

const renderers: Record<Dialect, Renderer> = {
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
  // Discord's markdown: masked links, ~~strike~~, fences with a language; no tables (a monospace block) or images (a link).
  discord: {
    text: escapeDiscord,
    code: discordCode,
    bold: (s) => `**${s}**`,
    italic: (s) => `*${s}*`,
    strike: (s) => `~~${s}~~`,
    link: (s, url, plain) => (plain === url || plain === "" ? url : `[${s}](<${url}>)`),
    heading: (s) => `**${s}**`,
    quote: (lines) => lines.map((l) => "> " + l).join("\n"),
    fence: (lang, body) => "```" + lang.replace(/[^A-Za-z0-9_+-]/g, "") + "\n" + body.replace(/```/g, "`\u200b``") + "\n```",
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

/** One render: the dialect, and where in the tree it is. */
interface Ctx {
  readonly r: Renderer
  /**
   * Inside a quote or a list item: a quote there is its content (no dialect nests quotes, and a
   * quote marker must start a line), and in MarkdownV2 a code block is inline code per line.
   */
  readonly quoted?: true
}

const STYLE = { emphasis: "i", strong: "b", delete: "s" } as const

const inline = (nodes: ReadonlyArray<Mdast.PhrasingContent>, ctx: Ctx, open: Open = {}): string => {
  const { r } = ctx
  let out = ""
  let prev: Mdast.PhrasingContent | undefined
  for (const n of nodes) {
    if (r.italicSeparator !== undefined && !open.i && n.type === "emphasis" && prev?.type === "emphasis") out += r.italicSeparator
    out += phrasing(n, ctx, open)
    prev = n
  }
  return out
}

const plainCtx = (ctx: Ctx): Ctx => ({ ...ctx, r: renderers.plain })

const link = (children: ReadonlyArray<Mdast.PhrasingContent>, url: string, ctx: Ctx, open: Open) =>
  ctx.r.link(inline(children, ctx, open), url, inline(children, plainCtx(ctx)))

const phrasing = (n: Mdast.PhrasingContent, ctx: Ctx, open: Open): string => {
  const { r } = ctx
  switch (n.type) {
    case "text":
      return r.text(n.value)
    case "inlineCode":
      return r.code(n.value.replace(/\r?\n/g, " ")) // CommonMark: a code span's line endings are spaces
    case "emphasis":
    case "strong":
    case "delete": {
      const t = STYLE[n.type]
      const inner = inline(n.children, ctx, { ...open, [t]: true })
      if (open[t]) return inner
      return t === "b" ? r.bold(inner) : t === "i" ? r.italic(inner) : r.strike(inner)
    }
    case "break":
      return "\n"
    case "link":
      return link(n.children, n.url, ctx, open)
    case "image":
      return image(n.alt ?? "", n.url, ctx)
    default:
      // References, footnotes, raw HTML: `markdownTree` never makes these (markdown-it resolves
      // references itself and reads HTML as text).
      return ""
  }
}

/** An image is its alt text linking to it (its URL when there is no alt). */
const image = (alt: string, url: string, ctx: Ctx) => {
  const text: Mdast.Text = { type: "text", value: alt }
  return link(alt === "" ? [] : [text], url, ctx, {})
}

/** Blocks, separated as in the source: one newline, or the blank lines it had. */
const blocks = (nodes: ReadonlyArray<Mdast.RootContent>, ctx: Ctx): string => {
  let out = ""
  let prevEnd: number | undefined
  for (const n of nodes) {
    const rendered = block(n, ctx)
    const start = n.position?.start.line
    // A blank line between the two blocks in the source (positions are source lines).
    if (prevEnd !== undefined) out += start !== undefined && start > prevEnd ? "\n\n" : "\n"
    out += rendered
    prevEnd = n.position?.end.line
  }
  return out
}

const indent = (text: string, first: string, rest: string) =>
  text
    .split("\n")
    .map((l, i) => (i === 0 ? first + l : l === "" ? "" : rest + l))
    .join("\n")

const block = (n: Mdast.RootContent, ctx: Ctx): string => {
  const { r } = ctx
  switch (n.type) {
    case "paragraph":
      return inline(n.children, ctx)
    case "heading":
      return r.heading(inline(n.children, ctx, { b: true }))
    case "thematicBreak":
      return r.text("———")
    case "blockquote":
      return ctx.quoted ? blocks(n.children, ctx) : r.quote(blocks(n.children, { ...ctx, quoted: true }).split("\n"))
    case "list":
      return blocks(
        n.children.map((item, k) => ({ ...item, marker: n.ordered ? `${(n.start ?? 1) + k}.` : r.bullet }) as Mdast.ListItem),
        ctx
      )
    case "listItem": {
      const marker = (n as Mdast.ListItem & { marker?: string }).marker ?? r.bullet
      const task = n.checked === true ? "☑ " : n.checked === false ? "☐ " : ""
      const head = r.text(`${marker} `) + task
      return indent(blocks(n.children, { ...ctx, quoted: true }), head, " ".repeat(marker.length + 1))
    }
    case "code":
      // MarkdownV2 has no code block inside a quote: there each line is inline code.
      if (ctx.quoted && r === renderers["telegram-markdownv2"]) return n.value.split("\n").map((l) => (l === "" ? "" : r.code(l))).join("\n")
      return r.fence(n.lang ?? "", n.value)
    case "table":
      return r.fence("", table(n, ctx))
    default:
      // Definitions, footnotes, raw HTML: `markdownTree` never makes these blocks.
      return ""
  }
}

/** A table as aligned plain columns (for a monospace block): header, a rule, the rows. */
const table = (t: Mdast.Table, ctx: Ctx): string => {
  const rows = t.children.map((row) => row.children.map((cell) => inline(cell.children, plainCtx(ctx)).replace(/\s+/g, " ").trim()))
  const cols = Math.max(0, ...rows.map((r) => r.length))
  const widths = Array.from({ length: cols }, (_, c) => Math.max(1, ...rows.map((r) => width(r[c] ?? ""))))
  const line = (cells: ReadonlyArray<string>) =>
    widths.map((w, c) => {
      const v = cells[c] ?? ""
      const pad = " ".repeat(w - width(v))
      return t.align?.[c] === "right" ? pad + v : v + pad
    }).join(" | ").trimEnd()
  const [head, ...body] = rows
  return [line(head ?? []), widths.map((w) => "-".repeat(w)).join("-+-"), ...body.map(line)].join("\n")
}

/** The syntax tree of `markdown` (CommonMark, GFM tables, strikethrough and task items). */
export const parse = (markdown: string): Mdast.Root => Tree.parse(markdown)

const renderTree = (root: Mdast.Root, dialect: Dialect): string => blocks(root.children, { r: renderers[dialect] })

/** Renders Markdown into `dialect`. */
export const render = (markdown: string, dialect: Dialect): string => renderTree(parse(markdown), dialect)

/** Plain text (Signal; Telegram's fallback when its entity parser rejects a message). */
export const toPlain = (markdown: string): string => render(markdown, "plain")

/** `render(markdown, dialect)` and `toPlain(markdown)` from one parse (what a channel sends). */
export const renderWithPlain = (markdown: string, dialect: Dialect): { readonly formatted: string; readonly plain: string } => {
  const root = parse(markdown)
  const plain = renderTree(root, "plain")
  return { formatted: dialect === "plain" ? plain : renderTree(root, dialect), plain }
}

const isWordChar = (c: string | undefined) => c !== undefined && /[\p{L}\p{N}]/u.test(c)
const isSpace = (c: string | undefined) => c === undefined || /\s/.test(c)

/**
 * The text of a reply still being written with the inline markup it has left open closed at its
 * end: `Use **only th` → `Use **only th**`, an open code span closed, `~~` closed, so a preview shows
 * bold text instead of literal stars. Only the last paragraph is looked at; inside an unclosed code
 * fence nothing is changed (the parser ends the fence at the end anyway). An opener counts only at
 * the start of a word (`2*3` is not emphasis being written).
 */
export const closeOpen = (markdown: string): string => {
  const lastFence = /^[ \t]{0,3}(`{3,}|~{3,})/gm
  let fences = 0
  for (const _ of markdown.matchAll(lastFence)) fences++
  if (fences % 2 === 1) return markdown
  const from = markdown.lastIndexOf("\n\n") + 1
  const para = markdown.slice(from)
  const stack: Array<string> = []
  let code = 0 // length of the open code span's backtick run
  for (let i = 0; i < para.length; ) {
    const c = para[i]!
    if (c === "\\" && code === 0) {
      i += 2
      continue
    }
    let n = 1
    while (para[i + n] === c) n++
    if (c === "`") {
      if (code === 0) code = n
      else if (code === n) code = 0
    } else if (code === 0 && (c === "*" || c === "_" || (c === "~" && n === 2))) {
      const before = para[i - 1]
      const after = para[i + n]
      let left = n
      // a closing run closes the openers it covers (`***` after `*` and `**`), or part of a longer
      // opener (`**` after `***` leaves `*` open)
      if (!isSpace(before)) {
        while (left > 0 && stack.length > 0 && stack[stack.length - 1]![0] === c) {
          const top = stack[stack.length - 1]!
          if (top.length <= left) {
            left -= top.length
            stack.pop()
          } else {
            stack[stack.length - 1] = c.repeat(top.length - left)
            left = 0
          }
        }
      }
      if (left > 0 && left === n && !isSpace(after) && !isWordChar(before)) stack.push(c.repeat(n))
    }
    i += n
  }
  if (code === 0 && stack.length === 0) return markdown
  const body = markdown.trimEnd()
  return body + (code > 0 ? "`".repeat(code) : "") + stack.reverse().join("")
}
