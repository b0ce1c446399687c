import { describe, expect, it } from "@effect/vitest"
import fc from "fast-check"
import { BlockChunker } from "../src/index.js"

// ---- generators ---------------------------------------------------------------------------

/** Markdown-ish soup: fences anywhere (open, closed, unclosed), blank lines, CRLF, surrogates. */
const soup = fc
  .array(
    fc.constantFrom(
      "word",
      "another",
      " ",
      "  ",
      "\t",
      "\n",
      "\n\n",
      "\n \n",
      "\r\n",
      "\r\n\r\n",
      ". ",
      "! ",
      "? ",
      "3.5",
      "```",
      "```js\n",
      "\n```\n",
      "~~~~\n",
      "\n~~~~",
      "  ```py title=x\n",
      "\n   ```",
      "😀",
      "👍🏽",
      "段落。",
      "x".repeat(30),
      "- item\n",
      "# Head\n"
    ),
    { maxLength: 80 }
  )
  .map((xs) => xs.join(""))

/** Markdown whose fences are all closed, fence lines always at line starts. */
const closedFence = fc
  .record({
    indent: fc.integer({ min: 0, max: 3 }),
    ch: fc.constantFrom("`", "~"),
    len: fc.integer({ min: 3, max: 4 }),
    info: fc.constantFrom("", "ts", "python title=\"a b c\"", "x".repeat(40)),
    lines: fc.array(fc.constantFrom("code();", "", "  nested(1, 2)", "a".repeat(50), "é😀ü", "x = 1. y = 2"), {
      minLength: 0,
      maxLength: 12
    })
  })
  .map(({ indent, ch, len, info, lines }) => {
    const m = " ".repeat(indent) + ch.repeat(len)
    return [m + info, ...lines, m].join("\n")
  })
const paragraph = fc
  .array(fc.constantFrom("Lorem", "ipsum.", "dolor", "sit!", "段落", "😀", "amet?", "w".repeat(25)), {
    minLength: 1,
    maxLength: 20
  })
  .map((ws) => ws.join(" "))
const structured = fc
  .array(fc.tuple(fc.oneof(paragraph, closedFence), fc.constantFrom("\n", "\n\n", "\n\n\n")), { maxLength: 10 })
  .map((parts) => parts.map(([p, sep]) => p + sep).join(""))

const options = fc
  .record({
    minChars: fc.integer({ min: 1, max: 60 }),
    extra: fc.integer({ min: 0, max: 160 }),
    breakPreference: fc.constantFrom("paragraph" as const, "newline" as const, "sentence" as const),
    flushOnParagraph: fc.boolean()
  })
  .map(({ minChars, extra, breakPreference, flushOnParagraph }) => ({
    minChars,
    maxChars: Math.max(24, minChars * 2 + extra),
    breakPreference,
    flushOnParagraph
  }))

/** Cut points → deltas (may split surrogate pairs). */
const split = (text: string, cuts: ReadonlyArray<number>): Array<string> => {
  const points = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b)
  const out: Array<string> = []
  let prev = 0
  for (const p of points) {
    out.push(text.slice(prev, p))
    prev = p
  }
  out.push(text.slice(prev))
  return out
}

type Emitted = { block: BlockChunker.Block; forced: boolean }

/** actions[i]: 0 = append only, 1 = append + drain, 2 = append + forced drain. Final forced drain. */
const feed = (o: BlockChunker.Options, deltas: ReadonlyArray<string>, actions: ReadonlyArray<number>) => {
  const c = BlockChunker.make(o)
  const out: Array<Emitted> = []
  let fed = ""
  deltas.forEach((d, i) => {
    c.append(d)
    fed += d
    const a = actions.length === 0 ? 1 : actions[i % actions.length]!
    // A forced drain says "the text ends here": never between the halves of a surrogate pair.
    const last = fed.charCodeAt(fed.length - 1)
    const force = a === 2 && !(last >= 0xd800 && last <= 0xdbff)
    if (a > 0) for (const block of c.drain({ force })) out.push({ block, forced: force })
    expect(out.map((e) => e.block.source).join("") + c.buffered).toBe(fed)
  })
  for (const block of c.drain({ force: true })) out.push({ block, forced: true })
  return { out, buffered: c.buffered }
}

const wellFormed = (s: string): boolean =>
  !/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(s)

/** Every fence opened in `text` is closed in `text` (same char, at least as long, 0–3 spaces). */
const balanced = (text: string): boolean => {
  let open: { ch: string; len: number } | undefined
  for (const line of text.split("\n")) {
    if (open === undefined) {
      const m = /^ {0,3}(`{3,}|~{3,})/.exec(line)
      if (m) open = { ch: m[1]![0]!, len: m[1]!.length }
    } else {
      const m = /^ {0,3}(`{3,}|~{3,})[ \t\r]*$/.exec(line)
      if (m && m[1]![0] === open.ch && m[1]!.length >= open.len) open = undefined
    }
  }
  return open === undefined
}

const actionsArb = fc.array(fc.constantFrom(0, 1, 1, 1, 2), { maxLength: 12 })
const cutsArb = fc.array(fc.nat(), { maxLength: 60 })
const params = { numRuns: 400 }

// ---- properties -----------------------------------------------------------------------------

describe("BlockChunker properties", () => {
  it("(1) joined sources + buffered reproduce the input at every step", () => {
    fc.assert(
      fc.property(options, fc.oneof(soup, structured), cutsArb, actionsArb, (o, text, cuts, actions) => {
        const { out, buffered } = feed(o, split(text, cuts), actions)
        expect(buffered).toBe("")
        expect(out.map((e) => e.block.source).join("")).toBe(text)
      }),
      params
    )
  })

  it("(2) no block text is longer than maxChars", () => {
    fc.assert(
      fc.property(options, fc.oneof(soup, structured), cutsArb, actionsArb, (o, text, cuts, actions) => {
        for (const { block } of feed(o, split(text, cuts), actions).out)
          expect(block.text.length).toBeLessThanOrEqual(o.maxChars)
      }),
      params
    )
  })

  it("(3) with closed fences, every block's fences are balanced, also after forced splits inside them", () => {
    fc.assert(
      fc.property(options, structured, cutsArb, fc.array(fc.constantFrom(0, 1), { maxLength: 12 }), (o, text, cuts, actions) => {
        for (const { block } of feed(o, split(text, cuts), actions).out) expect(balanced(block.text)).toBe(true)
      }),
      params
    )
  })

  it("(4) nothing shorter than minChars is emitted except by a forced drain", () => {
    fc.assert(
      fc.property(options, fc.oneof(soup, structured), cutsArb, actionsArb, (o, text, cuts, actions) => {
        const { out, buffered } = feed(o, split(text, cuts), actions)
        out.forEach(({ block, forced }, i) => {
          if (forced || block.text.length >= o.minChars) return
          // Exception 1: the block ends right before a code fence that cannot fit in the same block
          // (its opener, content and closer are over maxChars): the text before it goes out alone.
          const rest = out.slice(i + 1).map((e) => e.block.source).join("") + buffered
          const fence = /^ {0,3}(`{3,}|~{3,})/.exec(rest)
          // (even a bare opener, 2 chars of content and the closer would not have fit after it)
          if (fence !== null && block.text.length + 2 * fence[0].length + 4 > o.maxChars) return
          // Exception 2: a fence opener line too long to reopen was written as its bare
          // marker, so the text shrank below minChars while the consumed source did not.
          expect(block.source.length).toBeGreaterThanOrEqual(o.minChars)
          expect(block.source).toMatch(/^ {0,3}(`{3,}|~{3,})[^\n]+\n/m)
          expect(block.text).toMatch(/^ {0,3}(`{3,}|~{3,})\n/m)
        })
      }),
      params
    )
  })

  it("(5) no block text splits a surrogate pair", () => {
    fc.assert(
      fc.property(options, fc.oneof(soup, structured), cutsArb, actionsArb, (o, text, cuts, actions) => {
        for (const { block } of feed(o, split(text, cuts), actions).out) expect(wellFormed(block.text)).toBe(true)
      }),
      params
    )
  })

  it("(6) with one forced drain at the end, the blocks do not depend on how the input was split", () => {
    fc.assert(
      fc.property(options, fc.oneof(soup, structured), cutsArb, (o, text, cuts) => {
        const whole = feed(o, [text], [0]).out.map((e) => e.block)
        const pieces = feed(o, split(text, cuts), [0]).out.map((e) => e.block)
        expect(pieces).toEqual(whole)
      }),
      params
    )
  })
})
