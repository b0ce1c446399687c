import { describe, expect, it } from "@effect/vitest"
import fc from "fast-check"
import { OutboundSplitter } from "../src/index.js"
import * as Fences from "../src/internal/fences.js"

const word = fc.oneof(
  fc.stringMatching(/^[a-z]{1,12}$/),
  fc.constantFrom("😀", "𝄞x", "é", "—", "a.", "end!"),
  fc.stringMatching(/^[A-Za-z0-9]{20,90}$/) // long unbreakable runs
)
const line = fc.array(word, { minLength: 0, maxLength: 14 }).map((ws) => ws.join(" "))
const paragraph = fc.array(line, { minLength: 1, maxLength: 5 }).map((ls) => ls.join("\n"))
const fence = fc
  .record({
    ch: fc.constantFrom("```", "~~~", "````"),
    lang: fc.constantFrom("", "ts", "python", "sh"),
    body: fc.array(line, { minLength: 0, maxLength: 30 })
  })
  .map(({ body, ch, lang }) => [ch + lang, ...body, ch].join("\n"))
const doc = fc
  .array(fc.oneof({ weight: 3, arbitrary: paragraph }, { weight: 1, arbitrary: fence }), { minLength: 1, maxLength: 8 })
  .chain((blocks) => fc.constantFrom("\n\n", "\n", "\n\n\n").map((sep) => blocks.join(sep)))
const options = fc.record({
  limit: fc.integer({ min: 40, max: 400 }),
  chunkMode: fc.constantFrom<OutboundSplitter.ChunkMode>("length", "newline"),
  maxLines: fc.option(fc.integer({ min: 3, max: 20 }), { nil: undefined })
})

const lines = (s: string) => s.split("\n").length
const loneSurrogate = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/

describe("OutboundSplitter", () => {
  it("keeps every part within the limit and the line cap", () => {
    fc.assert(
      fc.property(doc, options, (text, o) => {
        for (const p of OutboundSplitter.split(text, o)) {
          expect(p.length).toBeLessThanOrEqual(o.limit)
          if (o.maxLines !== undefined) expect(lines(p)).toBeLessThanOrEqual(o.maxLines)
          expect(p.trim()).not.toBe("")
        }
      }),
      { numRuns: 400 }
    )
  })

  it("never leaves a fence open in a part when the input's fences are balanced", () => {
    fc.assert(
      fc.property(doc, options, (text, o) => {
        fc.pre(Fences.balanced(text))
        for (const p of OutboundSplitter.split(text, o)) expect(Fences.balanced(p), JSON.stringify(p)).toBe(true)
      }),
      { numRuns: 400 }
    )
  })

  it("loses nothing: parts are the input's ranges in order, only whitespace and synthetic fence lines differ", () => {
    fc.assert(
      fc.property(doc, options, (text, o) => {
        const parts = OutboundSplitter.parts(text, o)
        let prev = 0
        for (const p of parts) {
          expect(p.start).toBeGreaterThanOrEqual(prev)
          expect(text.slice(prev, p.start).trim()).toBe("") // the dropped separator
          expect(p.text).toBe(p.reopened + text.slice(p.start, p.end) + p.closed)
          if (p.reopened !== "") expect(p.reopened).toMatch(/^ {0,3}(`{3,}|~{3,})[a-z]*\n$/)
          if (p.closed !== "") expect(p.closed).toMatch(/^\n {0,3}(`{3,}|~{3,})$/)
          prev = p.end
        }
        expect(text.slice(prev).trim()).toBe("")
        // and so, with whitespace removed, the parts minus synthetic fence lines rejoin to the input
        const squash = (s: string) => s.replace(/\s+/g, "")
        expect(squash(parts.map((p) => text.slice(p.start, p.end)).join(""))).toBe(squash(text))
      }),
      { numRuns: 400 }
    )
  })

  it("with maxBytes (Signal), no part is over the byte cap either, and nothing is lost", () => {
    const cjk = fc.constantFrom("段落", "测试文本", "日本語のテキスト", "😀", "é", "ascii words", "\n", "\n\n", " ")
    const text = fc.array(fc.oneof({ weight: 6, arbitrary: cjk }, { weight: 1, arbitrary: doc }), { minLength: 1, maxLength: 40 }).map((xs) => xs.join(""))
    fc.assert(
      fc.property(text, fc.integer({ min: 64, max: 600 }), fc.integer({ min: 40, max: 400 }), (t, maxBytes, limit) => {
        const ps = OutboundSplitter.parts(t, { limit, maxBytes })
        for (const p of ps) {
          expect(OutboundSplitter.utf8Length(p.text)).toBeLessThanOrEqual(maxBytes)
          expect(p.text.length).toBeLessThanOrEqual(limit)
          expect(loneSurrogate.test(p.text)).toBe(false)
        }
        // the parts' source ranges cover the input in order, only whitespace between them
        let at = 0
        for (const p of ps) {
          expect(t.slice(at, p.start).trim()).toBe("")
          at = p.end
        }
        expect(t.slice(at).trim()).toBe("")
      }),
      { numRuns: 200 }
    )
  })

  it("a fence opener line longer than the limit is cut like plain text: the limit wins (the API's would)", () => {
    const text = "intro\n```" + "A".repeat(60) + "\ncode\n```\nafter"
    const parts = OutboundSplitter.parts(text, { limit: 40 })
    expect(parts.every((p) => p.text.length <= 40)).toBe(true)
    expect(parts.map((p) => p.text).join("")).toContain("A".repeat(30))
    let at = 0
    for (const p of parts) {
      expect(text.slice(at, p.start).trim()).toBe("")
      at = p.end
    }
  })

  it("Signal: 2000 CJK characters are split to 2 KiB messages, not sent as one 6 KB body", () => {
    const text = "这是一个很长的回答。".repeat(200)
    const parts = OutboundSplitter.split(text, { limit: 2000, maxBytes: 2048 })
    expect(parts.length).toBe(3)
    expect(parts.every((p) => OutboundSplitter.utf8Length(p) <= 2048)).toBe(true)
    expect(parts.join("")).toBe(text)
  })

  it("never splits a surrogate pair", () => {
    const emojiRun = fc.array(fc.constantFrom("😀", "🎉", "a", " ", "\n"), { minLength: 1, maxLength: 600 }).map((a) => a.join(""))
    fc.assert(
      fc.property(emojiRun, fc.integer({ min: 16, max: 64 }), (text, limit) => {
        for (const p of OutboundSplitter.split(text, { limit })) {
          expect(loneSurrogate.test(p)).toBe(false)
          expect(p.length).toBeLessThanOrEqual(limit)
        }
      }),
      { numRuns: 300 }
    )
  })

  it("never splits a grapheme: skin tones, flags and family emoji stay whole", () => {
    const seg = new Intl.Segmenter(undefined, { granularity: "grapheme" })
    const graphemes = (s: string) => Array.from(seg.segment(s), (g) => g.segment)
    const run = fc.array(fc.constantFrom("👍🏽", "🇩🇪", "👨‍👩‍👧‍👦", "é", "a", " "), { minLength: 1, maxLength: 400 }).map((a) => a.join(""))
    fc.assert(
      fc.property(run, fc.integer({ min: 16, max: 64 }), (text, limit) => {
        const parts = OutboundSplitter.split(text, { limit })
        const whole = new Set(graphemes(text))
        for (const p of parts) {
          expect(p.length).toBeLessThanOrEqual(limit)
          for (const g of graphemes(p)) expect(whole.has(g)).toBe(true)
        }
        expect(parts.join("").replace(/\s/g, "")).toBe(text.replace(/\s/g, ""))
      }),
      { numRuns: 300 }
    )
  })

  it("sends a reply that fits as one message, unchanged", () => {
    expect(OutboundSplitter.split("Hello **world**\n\nSecond para.", { limit: 4000 })).toEqual([
      "Hello **world**\n\nSecond para."
    ])
    expect(OutboundSplitter.split("  \n\n ", { limit: 4000 })).toEqual([])
  })

  it("closes and reopens a fence cut in the middle, info string kept", () => {
    const code = "```ts\n" + Array.from({ length: 10 }, (_, i) => `const v${i} = ${i}`).join("\n") + "\n```"
    const out = OutboundSplitter.split(code, { limit: 80 })
    expect(out.length).toBeGreaterThan(1)
    for (const p of out) {
      expect(p.startsWith("```ts\n")).toBe(true)
      expect(p.endsWith("\n```")).toBe(true)
      expect(p.length).toBeLessThanOrEqual(80)
    }
    expect(out.join("\n").replace(/\n```\n```ts/g, "")).toBe(code)
  })

  it("newline mode packs whole paragraphs; length mode fills up to the last newline", () => {
    const text = "aaaa\n\nbbbb cccc\ndddd"
    expect(OutboundSplitter.split(text, { limit: 16, chunkMode: "newline" })).toEqual(["aaaa", "bbbb cccc\ndddd"])
    expect(OutboundSplitter.split(text, { limit: 16, chunkMode: "length" })).toEqual(["aaaa\n\nbbbb cccc", "dddd"])
  })

  it("applies Discord's 17-line soft cap even under the char limit", () => {
    const text = Array.from({ length: 40 }, (_, i) => `line ${i}`).join("\n")
    const out = OutboundSplitter.split(text, { limit: 2000, maxLines: 17 })
    expect(out.map(lines)).toEqual([17, 17, 6])
    expect(out.join("\n")).toBe(text)
  })
})

describe("OutboundSplitter keeps tables together", () => {
  const cell = fc.stringMatching(/^[a-z0-9]{1,10}$/)
  const table = fc
    .record({ cols: fc.integer({ min: 2, max: 4 }), rows: fc.integer({ min: 1, max: 8 }) })
    .chain(({ cols, rows }) =>
      fc.array(fc.array(cell, { minLength: cols, maxLength: cols }), { minLength: rows + 1, maxLength: rows + 1 }).map((grid) =>
        [`| ${grid[0]!.join(" | ")} |`, `|${" --- |".repeat(cols)}`, ...grid.slice(1).map((r) => `| ${r.join(" | ")} |`)].join("\n")
      )
    )
  const withTables = fc
    .array(fc.oneof({ weight: 2, arbitrary: paragraph }, { weight: 1, arbitrary: table }), { minLength: 2, maxLength: 8 })
    .map((blocks) => ({ text: blocks.join("\n\n"), tables: blocks.filter((b) => b.startsWith("| ")) }))

  it("a table that fits in one message is never cut; nothing is lost (property)", () => {
    fc.assert(
      fc.property(withTables, fc.integer({ min: 120, max: 600 }), fc.constantFrom<OutboundSplitter.ChunkMode>("length", "newline"), ({ text, tables }, limit, chunkMode) => {
        const parts = OutboundSplitter.split(text, { limit, chunkMode })
        expect(parts.every((p) => p.length <= limit)).toBe(true)
        expect(parts.join("").replace(/\s+/g, "")).toBe(text.replace(/\s+/g, ""))
        for (const t of tables) if (t.length <= limit) expect(parts.some((p) => p.includes(t))).toBe(true)
      }),
      { numRuns: 300 }
    )
  })

  it("the cut moves before a table that would not fit in the rest of the message", () => {
    const intro = "Here is the comparison you asked for, with the numbers from last week."
    const table = ["| cache | hit rate | p99 |", "| --- | --- | --- |", "| none | 0% | 240 ms |", "| lru | 81% | 35 ms |", "| arc | 86% | 31 ms |"].join("\n")
    const parts = OutboundSplitter.split(`${intro}\n\n${table}\n\nThat is all.`, { limit: 140 })
    expect(parts[0]).toBe(intro)
    expect(parts[1]!.startsWith(table)).toBe(true)
  })
})
