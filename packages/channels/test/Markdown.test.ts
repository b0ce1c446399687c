import { describe, expect, it } from "@effect/vitest"
import fc from "fast-check"
import { fromMarkdown } from "mdast-util-from-markdown"
import { gfmFromMarkdown } from "mdast-util-gfm"
import { toString as mdastText } from "mdast-util-to-string"
import { gfm } from "micromark-extension-gfm"
import { parseHtml, parseMarkdownV2 } from "../fakes/telegramEntities.js"
import { Markdown } from "../src/index.js"

const sample = [
  "# Title",
  "",
  "Some **bold**, *italic*, _also italic_, ~~gone~~ and `a < b && c` code.",
  "A [link](https://example.com/a_(b)) and snake_case_name stay.",
  "- first item",
  "* second item 1.5 + 2 = 3.5!",
  "> quoted <tag> & more",
  "",
  "```ts",
  "const x = a < b ? `t` : \"\\\\\"",
  "```",
  "Done."
].join("\n")

describe("Markdown", () => {
  it("renders Telegram HTML that the Bot API parses, with the visible text of the plain rendering", () => {
    const html = Markdown.render(sample, "telegram-html")
    expect(html).toContain("<b>Title</b>")
    expect(html).toContain("<b>bold</b>, <i>italic</i>, <i>also italic</i>, <s>gone</s>")
    expect(html).toContain("<code>a &lt; b &amp;&amp; c</code>")
    expect(html).toContain('<a href="https://example.com/a_(b)">link</a>')
    expect(html).toContain("snake_case_name")
    expect(html).toContain("<blockquote>quoted &lt;tag&gt; &amp; more</blockquote>")
    expect(html).toContain('<pre><code class="language-ts">const x = a &lt; b ? `t` : "\\\\"</code></pre>')
    const parsed = parseHtml(html)
    expect(parsed).toEqual({ ok: true, text: expect.any(String) })
  })

  it("renders MarkdownV2 with every reserved character escaped", () => {
    const v2 = Markdown.render(sample, "telegram-markdownv2")
    expect(v2).toContain("*Title*")
    expect(v2).toContain("*bold*, _italic_, _also italic_, ~gone~")
    expect(v2).toContain("1\\.5 \\+ 2 \\= 3\\.5\\!")
    expect(v2).toContain("[link](https://example.com/a_(b\\))")
    expect(v2).toContain("snake\\_case\\_name")
    expect(v2).toContain("```ts\nconst x = a < b ? \\`t\\` : \"\\\\\\\\\"\n```")
    expect(parseMarkdownV2(v2).ok).toBe(true)
  })

  it("Telegram's parsers reject what the real API rejects", () => {
    expect(parseMarkdownV2("Total: 3.5!")).toEqual({
      ok: false,
      description: "Bad Request: can't parse entities: Character '.' is reserved and must be escaped with the preceding '\\'"
    })
    expect(parseMarkdownV2("*open bold").ok).toBe(false)
    expect(parseHtml("a <foo> b").ok).toBe(false)
    expect(parseHtml("<b>x").ok).toBe(false)
  })

  it("MarkdownV2: emphasis nested in itself is flattened, adjacent italics get Telegram's empty-bold separator", () => {
    // both were found by the property below: `__` reads as underline in MarkdownV2
    expect(Markdown.render("*__a_*", "telegram-markdownv2")).toBe("_\\_a_")
    expect(Markdown.render("*a*_b_", "telegram-markdownv2")).toBe("_a_**_b_")
    for (const md of ["*__a_*", "*a*_b_", "# A **b** c"]) {
      const v2 = parseMarkdownV2(Markdown.render(md, "telegram-markdownv2"))
      expect(v2).toEqual({ ok: true, text: (parseHtml(Markdown.render(md, "telegram-html")) as { text: string }).text })
    }
  })

  it("any text renders to Telegram HTML and MarkdownV2 the API accepts, showing the same visible text", () => {
    const piece = fc.constantFrom(
      ..."a, ,\n,*,**,_,__,~~,`,<,>,&,.,!,#,-,\\,|,(,),```,é,😀,1. ,- [ ] ".split(","),
      "[x](http://u.v/w)",
      "![i](http://p.q)",
      "<http://a.b>",
      "[r]",
      "\n[r]: http://d.e\n",
      "| a | b |\n|---|---|\n| c | d |\n"
    )
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 40 }), (ps) => {
        const md = ps.join("")
        const html = parseHtml(Markdown.render(md, "telegram-html"))
        const v2 = parseMarkdownV2(Markdown.render(md, "telegram-markdownv2"))
        expect(html.ok, JSON.stringify(md)).toBe(true)
        expect(v2.ok, JSON.stringify({ md, v2: Markdown.render(md, "telegram-markdownv2"), v2e: v2 })).toBe(true)
        if (html.ok && v2.ok) expect(v2.text).toBe(html.text)
      }),
      { numRuns: 500 }
    )
  })

  // An independent CommonMark + GFM parser (micromark, via mdast-util-from-markdown) as the oracle.
  const oracle = (md: string) => mdastText(fromMarkdown(md, { extensions: [gfm()], mdastExtensions: [gfmFromMarkdown()] }))

  it("property: the text Telegram shows is the source's own text, as a second CommonMark parser reads it", () => {
    // Markdown as a model writes it (a grammar: words, nested emphasis, code, links, escapes, autolinks,
    // in paragraphs, headings, quotes and lists), not delimiter soup: on runs like `a~~~~a~~` two
    // CommonMark implementations may legitimately differ (GFM leaves some of it to the parser).
    const word = fc.constantFrom("word", "é", "中文", "2", "a.b", "x<y", "&", "snake_case", "(p)", "!")
    const { inline } = fc.letrec((tie) => ({
      inline: fc.oneof(
        { depthSize: "small", withCrossShrink: true },
        word,
        fc.tuple(tie("inline"), fc.constantFrom(" ", " ", "\n"), tie("inline")).map(([a, s, b]) => `${a}${s}${b}`),
        tie("inline").map((x) => `**${x}**`),
        tie("inline").map((x) => `*${x}*`),
        word.map((w) => `~~${w}~~`), // (GFM leaves a run of 4 tildes, ~~~~, to the parser)
        word.map((w) => `\`${w}\``),
        word.map((w) => `[${w}](https://u.v/${encodeURIComponent(w)})`),
        fc.constantFrom("\\*", "\\_", "\\[", "<https://a.b/c>", "2 \\* 3")
      )
    })) as { inline: fc.Arbitrary<string> }
    const block = fc.oneof(
      inline,
      inline.map((x) => `# ${x.replace(/\n/g, " ")}`),
      inline.map((x) => `> ${x.replace(/\n/g, "\n> ")}`),
      inline.map((x) => `- ${x.replace(/\n/g, " ")}`),
      word.map((w) => `\`\`\`\n${w} < ${w}\n\`\`\``)
    )
    const doc = fc.array(block, { minLength: 1, maxLength: 5 }).map((bs) => bs.join("\n\n"))
    const squeeze = (s: string) => s.replace(/[\s•—]/g, "")
    fc.assert(
      fc.property(doc, (md) => {
        const html = parseHtml(Markdown.render(md, "telegram-html"))
        expect(html.ok).toBe(true)
        if (html.ok) expect(squeeze(html.text), JSON.stringify(md)).toBe(squeeze(oracle(md)))
      }),
      { numRuns: 500 }
    )
  })

  it("reads CommonMark as a Markdown viewer does: escapes, ***both***, soft breaks, autolinks, images, references, tables", () => {
    expect(Markdown.render("2 \\* 3 and \\_literal\\_", "telegram-html")).toBe("2 * 3 and _literal_")
    expect(Markdown.render("***bold italic***", "telegram-html")).toBe("<i><b>bold italic</b></i>")
    expect(Markdown.render("**across a\nsoft break**", "slack")).toBe("*across a\nsoft break*")
    expect(Markdown.render("see <https://x.io/a>", "telegram-html")).toBe('see <a href="https://x.io/a">https://x.io/a</a>')
    expect(Markdown.render("![a cat](https://x.io/c.png)", "whatsapp")).toBe("a cat (https://x.io/c.png)")
    expect(Markdown.render("[docs][d]\n\n[d]: https://d.io", "slack")).toBe("<https://d.io|docs>")
    expect(Markdown.render("1. one\n2. two\n   - nested\n- [x] done", "plain")).toBe("1. one\n2. two\n   • nested\n• ☑ done")
    const table = Markdown.render("| name | n |\n|:--|--:|\n| apples | 3 |\n| kiwi | 12 |", "telegram-html")
    expect(table).toBe("<pre>name   |  n\n-------+---\napples |  3\nkiwi   | 12</pre>")
  })

  it("renders Slack mrkdwn", () => {
    expect(Markdown.render("**Deploy** to *prod* & [docs](https://d.io) <now>", "slack")).toBe(
      "*Deploy* to _prod_ &amp; <https://d.io|docs> &lt;now&gt;"
    )
    expect(Markdown.render("## Plan\n~~old~~", "slack")).toBe("*Plan*\n~old~")
  })

  it("renders WhatsApp formatting, Discord markdown, Signal plain", () => {
    expect(Markdown.render("**b** _i_ ~~s~~ [t](https://x.y)\n```\ncode\n```", "whatsapp")).toBe("*b* _i_ ~s~ t (https://x.y)\n```code```")
    // Discord: its own markers, spoilers kept, markdown characters in text escaped, masked links without embeds
    expect(Markdown.render("**b** ||spoiler|| 2 \\* 3 # not a heading", "discord")).toBe("**b** ||spoiler|| 2 \\* 3 \\# not a heading")
    expect(Markdown.render("_i_ ~~s~~ [t](https://x.y) <https://a.b> ``x`y``", "discord")).toBe("*i* ~~s~~ [t](<https://x.y>) https://a.b `` x`y ``")
    // Discord has no tables or images: a monospace block, a link
    expect(Markdown.render("| a | b |\n|---|---|\n| 1 | 2 |", "discord")).toBe("```\na | b\n--+--\n1 | 2\n```")
    expect(Markdown.render("![chart](https://x.y/c.png)", "discord")).toBe("[chart](<https://x.y/c.png>)")
    expect(Markdown.render("```ts\nconst a = 1\n```", "discord")).toBe("```ts\nconst a = 1\n```")
    expect(Markdown.toPlain("# Hi\n**b** `c` [t](https://x.y)\n```py\nprint(1)\n```")).toBe("Hi\nb c t (https://x.y)\nprint(1)")
  })

  it("closeOpen: a preview of a reply still being written shows its open emphasis and code as they will look", () => {
    expect(Markdown.closeOpen("Use **only th")).toBe("Use **only th**")
    expect(Markdown.render(Markdown.closeOpen("Use **only th"), "telegram-html")).toBe("Use <b>only th</b>")
    expect(Markdown.closeOpen("run `npm i")).toBe("run `npm i`")
    expect(Markdown.closeOpen("**bold *and it")).toBe("**bold *and it***")
    expect(Markdown.render(Markdown.closeOpen("**bold *and it"), "plain")).toBe("bold and it")
    expect(Markdown.closeOpen("~~gone ")).toBe("~~gone~~")
    // nothing open, or not an opener: unchanged
    for (const t of ["done **bold** here", "2*3 = 6", "snake_case_na", "* item", "a ** b", "```ts\nconst a = `x", "\\*not"]) {
      expect(Markdown.closeOpen(t)).toBe(t)
    }
  })

  it("property: every prefix of a reply, closed, shows a prefix of what the finished reply shows (no stray markers)", () => {
    const word = fc.constantFrom("word", "é", "中文", "2", "a.b", "snake_case", "(p)")
    const { inline } = fc.letrec((tie) => ({
      inline: fc.oneof(
        { depthSize: "small", withCrossShrink: true },
        word,
        fc.tuple(tie("inline"), tie("inline")).map(([a, b]) => `${a} ${b}`),
        tie("inline").map((x) => `**${x}**`),
        tie("inline").map((x) => `*${x}*`),
        word.map((w) => `~~${w}~~`),
        word.map((w) => `\`${w}\``)
      )
    })) as { inline: fc.Arbitrary<string> }
    const squeeze = (x: string) => x.replace(/\s/g, "")
    fc.assert(
      fc.property(fc.array(inline, { minLength: 1, maxLength: 4 }).map((ps) => ps.join("\n\n")), (md) => {
        const full = squeeze(Markdown.toPlain(md))
        // cut after each word, as a stream of tokens would
        for (const m of md.matchAll(/\S(?=\s|$)/g)) {
          const shown = squeeze(Markdown.toPlain(Markdown.closeOpen(md.slice(0, m.index + 1))))
          expect(full.startsWith(shown), JSON.stringify(md.slice(0, m.index + 1))).toBe(true)
        }
      }),
      { numRuns: 300 }
    )
  })
})
