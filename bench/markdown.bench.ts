/**
 * Rendering a reply part for a channel: `Markdown.render(part, dialect)` (CommonMark parse by
 * markdown-it into an mdast-shaped tree, then the per-dialect renderer) on 4,000-character parts of the
 * bench corpus (headings, lists, code fences, CJK, emoji), next to the simplest thing a user would
 * write instead, `marked.parse(part)` (GFM → HTML, no dialect), in the same rounds. Per part: the
 * median over the rounds of the mean time per part; "×" is render over marked.
 */
import { createRequire } from "node:module"
import { Markdown } from "../packages/channels/src/index.js"
import { corpus, median } from "./corpus.js"

export default async () => {
  // marked is the gateway's dependency (the web chat's renderer): resolve it from there.
  const markedPath = createRequire(new URL("../packages/gateway/package.json", import.meta.url)).resolve("marked")
  const { marked } = (await import(markedPath)) as { marked: { parse: (s: string, o?: object) => string } }
  const text = corpus(400_000, 11)
  const parts: Array<string> = []
  for (let i = 0; i + 4000 <= text.length; i += 4000) parts.push(text.slice(i, i + 4000))
  const dialects = ["telegram-html", "telegram-markdownv2", "slack", "discord", "plain"] as const
  // For scale, the parser this once used: micromark (mdast-util-from-markdown + GFM), parse only.
  const chPkg = createRequire(new URL("../packages/channels/package.json", import.meta.url))
  const { fromMarkdown } = (await import(chPkg.resolve("mdast-util-from-markdown"))) as { fromMarkdown: (s: string, o: object) => unknown }
  const { gfmFromMarkdown } = (await import(chPkg.resolve("mdast-util-gfm"))) as { gfmFromMarkdown: () => unknown }
  const { gfm } = (await import(chPkg.resolve("micromark-extension-gfm"))) as { gfm: () => unknown }
  const micromark = (p: string) => fromMarkdown(p, { extensions: [gfm()], mdastExtensions: [gfmFromMarkdown()] })
  const perPart = (f: (p: string) => unknown) => {
    const t0 = process.hrtime.bigint()
    for (const p of parts) f(p)
    return Number(process.hrtime.bigint() - t0) / 1e3 / parts.length
  }
  for (let i = 0; i < 3; i++) for (const d of dialects) perPart((p) => Markdown.render(p, d)) // warm-up
  perPart((p) => marked.parse(p, { async: false }))
  perPart(micromark)
  const rounds = 9
  // A preview: the part cut mid-word (open emphasis likely), closed, then rendered — what a draft costs.
  const preview = (p: string) => Markdown.render(Markdown.closeOpen(p.slice(0, 3001)), "telegram-html")
  const us: Record<string, Array<number>> = { marked: [], micromark: [], preview: [] }
  for (const d of dialects) us[d] = []
  for (let r = 0; r < rounds; r++) {
    us.marked!.push(perPart((p) => marked.parse(p, { async: false })))
    us.micromark!.push(perPart(micromark))
    for (const d of dialects) us[d]!.push(perPart((p) => Markdown.render(p, d)))
    us.preview!.push(perPart(preview))
  }
  const m = median(us.marked!)
  const rows = [
    { renderer: "marked.parse (GFM → HTML)", "µs/part (median)": m.toFixed(0), "MB/s": (4000 / m).toFixed(1), "×": "1.00" },
    { renderer: "micromark → mdast (parse only)", "µs/part (median)": median(us.micromark!).toFixed(0), "MB/s": (4000 / median(us.micromark!)).toFixed(1), "×": (median(us.micromark!) / m).toFixed(2) },
    ...dialects.map((d) => {
      const v = median(us[d]!)
      return { renderer: `Markdown.render ${d}`, "µs/part (median)": v.toFixed(0), "MB/s": (4000 / v).toFixed(1), "×": (v / m).toFixed(2) }
    }),
    {
      renderer: "preview: closeOpen + telegram-html (3,001 chars)",
      "µs/part (median)": median(us.preview!).toFixed(0),
      "MB/s": (3001 / median(us.preview!)).toFixed(1),
      "×": (median(us.preview!) / m).toFixed(2)
    }
  ]
  console.table(rows)
  console.log(`${parts.length} parts of 4,000 chars, ${rounds} rounds`)
}
