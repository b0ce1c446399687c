/**
 * Markdown → a syntax tree (mdast node shapes), parsed by markdown-it: CommonMark-compliant, with
 * GFM tables and strikethrough; raw HTML is text (`html: false`), bare URLs stay text (`linkify:
 * false`). GFM task items (`[ ]` / `[x]`) are read off the item's first text, as GFM does.
 *
 * markdown-it emits a flat token stream; this folds it into nested nodes. Block positions are
 * source lines (`position.start.line` / `end.line`, 0-based, end exclusive), so a renderer can keep
 * the blank lines the source had between blocks.
 *
 * @internal
 */
import type * as Mdast from "mdast"
import MarkdownIt from "markdown-it"
import type Token from "markdown-it/lib/token.mjs"

const md = new MarkdownIt("commonmark", { html: false, linkify: false }).enable(["table", "strikethrough"])

type Parent = { children: Array<Mdast.Node> }

const attr = (t: Token, name: string) => t.attrGet(name) ?? ""

/** Folding a flat open/close token stream into nested nodes: push a leaf, open a parent, close it. */
const builder = (root: Parent) => {
  const stack: Array<Parent> = [root]
  const top = () => stack[stack.length - 1]!
  const push = (n: Mdast.Node) => top().children.push(n)
  return {
    top,
    push,
    open: (n: Mdast.Node & Parent) => {
      push(n)
      stack.push(n)
    },
    close: () => {
      if (stack.length > 1) stack.pop()
    }
  }
}

const inline = (tokens: ReadonlyArray<Token>): Array<Mdast.PhrasingContent> => {
  const root: Parent = { children: [] }
  const { top, push, open, close } = builder(root)
  /** Text and soft breaks go into one text node, as in mdast. */
  const text = (value: string) => {
    const last = top().children.at(-1)
    if (last?.type === "text") (last as Mdast.Text).value += value
    else push({ type: "text", value } as Mdast.Text)
  }
  for (const t of tokens) {
    switch (t.type) {
      case "text":
        text(t.content)
        break
      case "softbreak":
        text("\n")
        break
      case "hardbreak":
        push({ type: "break" } as Mdast.Break)
        break
      case "code_inline":
        push({ type: "inlineCode", value: t.content } as Mdast.InlineCode)
        break
      case "strong_open":
        open({ type: "strong", children: [] } as Mdast.Strong & Parent)
        break
      case "em_open":
        open({ type: "emphasis", children: [] } as Mdast.Emphasis & Parent)
        break
      case "s_open":
        open({ type: "delete", children: [] } as Mdast.Delete & Parent)
        break
      case "link_open":
        open({ type: "link", url: attr(t, "href"), children: [] } as Mdast.Link & Parent)
        break
      case "strong_close":
      case "em_close":
      case "s_close":
      case "link_close":
        close()
        break
      case "image":
        push({ type: "image", url: attr(t, "src"), alt: t.content } as Mdast.Image)
        break
      default:
        if (t.content !== "") text(t.content)
    }
  }
  return root.children as Array<Mdast.PhrasingContent>
}

const at = (t: Token): Mdast.Node["position"] =>
  t.map === null ? undefined : { start: { line: t.map[0], column: 1 }, end: { line: t.map[1], column: 1 } }

/** GFM task item: `[ ]` or `[x]` then a space at the start of the item's first paragraph. */
const task = (item: Mdast.ListItem) => {
  const first = item.children[0]
  if (first?.type !== "paragraph") return
  const text = first.children[0]
  if (text?.type !== "text") return
  const m = /^\[([ xX])\](?: |$)/.exec(text.value)
  if (m === null) return
  item.checked = m[1] !== " "
  text.value = text.value.slice(m[0].length)
}

export const parse = (markdown: string): Mdast.Root => {
  const tokens = md.parse(markdown, {})
  const root: Mdast.Root = { type: "root", children: [] }
  const { top, push, open, close } = builder(root as unknown as Parent)
  let table: { node: Mdast.Table; row: Mdast.TableRow | undefined } | undefined
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!
    const position = at(t)
    const where = position === undefined ? {} : { position }
    switch (t.type) {
      case "paragraph_open":
      case "heading_open": {
        const content = tokens[i + 1]?.type === "inline" ? inline(tokens[i + 1]!.children ?? []) : []
        if (t.type === "heading_open") {
          const depth = Math.min(6, Math.max(1, Number(t.tag.slice(1)))) as Mdast.Heading["depth"]
          push({ type: "heading", depth, children: content, ...where } as Mdast.Heading)
        } else push({ type: "paragraph", children: content, ...where } as Mdast.Paragraph)
        i += 2 // inline, close
        break
      }
      case "hr":
        push({ type: "thematicBreak", ...where })
        break
      case "code_block":
      case "fence":
        push({ type: "code", lang: t.info.trim().split(/\s+/)[0] || null, value: t.content.replace(/\n$/, ""), ...where } as Mdast.Code)
        break
      case "blockquote_open":
        open({ type: "blockquote", children: [], ...where } as Mdast.Blockquote & Parent)
        break
      case "bullet_list_open":
      case "ordered_list_open":
        open({
          type: "list",
          ordered: t.type === "ordered_list_open",
          start: t.type === "ordered_list_open" ? Number(t.attrGet("start") ?? 1) : null,
          spread: false,
          children: [],
          ...where
        } as Mdast.List & Parent)
        break
      case "list_item_open":
        open({ type: "listItem", spread: false, children: [], ...where } as Mdast.ListItem & Parent)
        break
      case "list_item_close":
        task(top() as unknown as Mdast.ListItem)
        close()
        break
      case "blockquote_close":
      case "bullet_list_close":
      case "ordered_list_close":
        close()
        break
      case "table_open":
        table = { node: { type: "table", align: [], children: [], ...where }, row: undefined }
        push(table.node)
        break
      case "tr_open":
        if (table !== undefined) {
          table.row = { type: "tableRow", children: [] }
          table.node.children.push(table.row)
        }
        break
      case "th_open":
      case "td_open": {
        if (t.type === "th_open" && table !== undefined) {
          const style = attr(t, "style")
          table.node.align!.push(/right/.test(style) ? "right" : /center/.test(style) ? "center" : /left/.test(style) ? "left" : null)
        }
        const content = tokens[i + 1]?.type === "inline" ? inline(tokens[i + 1]!.children ?? []) : []
        table?.row?.children.push({ type: "tableCell", children: content })
        if (tokens[i + 1]?.type === "inline") i++
        break
      }
      case "table_close":
        table = undefined
        break
    }
  }
  return root
}
