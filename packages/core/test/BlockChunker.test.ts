import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Stream } from "effect"
import { BlockChunker } from "../src/index.js"

type Run = { texts: Array<string>; sources: Array<string>; buffered: string }

/** Feed deltas (drain after each), then optionally force. */
const run = (o: BlockChunker.Options, deltas: string | ReadonlyArray<string>, force = true): Run => {
  const c = BlockChunker.make(o)
  const out: Array<BlockChunker.Block> = []
  for (const d of typeof deltas === "string" ? [deltas] : deltas) {
    c.append(d)
    out.push(...c.drain())
  }
  if (force) out.push(...c.drain({ force: true }))
  return { texts: out.map((b) => b.text), sources: out.map((b) => b.source), buffered: c.buffered }
}
/** No lone surrogate (String.prototype.isWellFormed is not in the ES2022 lib). */
const wellFormed = (s: string): boolean => !/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(s)
const joined = (r: Run) => r.sources.join("") + r.buffered

describe("BlockChunker: bounds and break preference", () => {
  it("emits nothing below minChars, then cuts at the last paragraph break", () => {
    const c = BlockChunker.make({ minChars: 20, maxChars: 100 })
    c.append("Short one.\n\nTwo")
    expect(c.drain()).toEqual([])
    c.append(" more words here.\n\nThird para")
    const blocks = c.drain()
    expect(blocks.map((b) => b.text)).toEqual(["Short one.\n\nTwo more words here."])
    expect(blocks[0]!.source).toBe("Short one.\n\nTwo more words here.\n\n")
    expect(c.buffered).toBe("Third para")
  })

  it("paragraph preference falls back to newline, then sentence; waits below maxChars when none", () => {
    expect(run({ minChars: 5, maxChars: 100 }, "line one\nline two", false).texts).toEqual(["line one"])
    expect(run({ minChars: 3, maxChars: 100 }, "One. Two three", false).texts).toEqual(["One."])
    const r = run({ minChars: 5, maxChars: 100 }, "no break at all here", false)
    expect(r.texts).toEqual([])
    expect(r.buffered).toBe("no break at all here")
  })

  it("newline preference ignores sentence ends; sentence preference ignores newlines", () => {
    expect(run({ minChars: 3, maxChars: 100, breakPreference: "newline" }, "A. B. C", false).texts).toEqual([])
    expect(run({ minChars: 3, maxChars: 100, breakPreference: "newline" }, "A. B.\nC", false).texts).toEqual(["A. B."])
    expect(run({ minChars: 3, maxChars: 100, breakPreference: "sentence" }, "abc\ndef\nghi", false).texts).toEqual([])
    expect(run({ minChars: 3, maxChars: 100, breakPreference: "sentence" }, "abc\nd. ef", false).texts).toEqual([
      "abc\nd."
    ])
  })

  it("at maxChars without a preferred break: whitespace fallback, keeping separators (reference §1.5)", () => {
    const r = run({ minChars: 3, maxChars: 10 }, "abcdefghijk\n\n   indented para")
    expect(r.texts).toEqual(["abcdefghij", "k\n\n  ", "indented", "para"])
    expect(joined(r)).toBe("abcdefghijk\n\n   indented para")
  })

  it("trailing spaces before a newline stay in the block", () => {
    expect(run({ minChars: 3, maxChars: 10 }, "foo   \nbar baz qux").texts[0]).toBe("foo   ")
  })

  it("sentence ends: end of a full window counts (decimal split quirk, §1.6)", () => {
    const r = run({ minChars: 1, maxChars: 10, breakPreference: "sentence" }, "abcdefghi.5 more text here")
    expect(r.texts).toEqual(["abcdefghi.", "5 more", "text here"])
  })

  it("a '.' at the end of a streaming buffer is not a sentence end until the next char arrives", () => {
    const c = BlockChunker.make({ minChars: 3, maxChars: 100, breakPreference: "sentence" })
    c.append("Version 3.")
    expect(c.drain()).toEqual([])
    c.append("5 is out. Next")
    expect(c.drain().map((b) => b.text)).toEqual(["Version 3.5 is out."])
  })

  it("hard cut at maxChars when there is no whitespace", () => {
    expect(run({ minChars: 2, maxChars: 4 }, "abcdefghij").texts).toEqual(["abcd", "efgh", "ij"])
  })

  it("normalises options: floors, minChars ≥ 1, maxChars ≥ minChars", () => {
    expect(run({ minChars: 0, maxChars: 2.9 }, "abcde").texts).toEqual(["ab", "cd", "e"])
    expect(run({ minChars: 5, maxChars: 1 }, "abcdefghij", false).texts).toEqual(["abcde", "fghij"])
  })
})

describe("BlockChunker: forced drain", () => {
  it("forced and ≤ maxChars: one block, internal separators and trailing whitespace kept", () => {
    const r = run({ minChars: 100, maxChars: 200 }, "a\n\nb\n\n")
    expect(r.texts).toEqual(["a\n\nb\n\n"])
  })

  it("whitespace-only remainder: empty text, source still counted", () => {
    const c = BlockChunker.make({ minChars: 1, maxChars: 50 })
    c.append("  \n ")
    expect(c.drain({ force: true })).toEqual([{ text: "", source: "  \n " }])
    expect(c.buffered).toBe("")
  })

  it("forced and > maxChars: cut at the last break, then the tail at every paragraph (reference §1.4)", () => {
    const input = "aaaa bbbb\n\ncc\n\ndd\n\nee"
    const c = BlockChunker.make({ minChars: 5, maxChars: 12 })
    c.append(input)
    const blocks = c.drain({ force: true })
    expect(blocks.map((b) => b.text)).toEqual(["aaaa bbbb", "cc", "dd", "ee"])
    expect(blocks.map((b) => b.source).join("")).toBe(input)
  })

  it("the tail of a cut is attached to the last block's source", () => {
    const c = BlockChunker.make({ minChars: 2, maxChars: 4 })
    c.append("abcdef\n\n")
    const blocks = c.drain({ force: true })
    expect(blocks.map((b) => b.text)).toEqual(["abcd", "ef"])
    expect(blocks.map((b) => b.source).join("")).toBe("abcdef\n\n")
  })
})

describe("BlockChunker: separators and source", () => {
  it("leading newlines after a cut are skipped in text even when they arrive later, kept in source", () => {
    const r = run({ minChars: 3, maxChars: 100 }, ["Para one.\n", "\n", "\nPara two is here.\n", "\nx"])
    expect(r.texts).toEqual(["Para one.", "Para two is here.", "x"])
    expect(r.sources.join("")).toBe("Para one.\n\n\nPara two is here.\n\nx")
  })

  it("CRLF blank lines are not paragraph breaks (reference); the newline still is", () => {
    const r = run({ minChars: 3, maxChars: 100 }, "one\r\n\r\ntwo", false)
    expect(r.texts).toEqual(["one\r\n\r"])
    expect(r.buffered).toBe("two")
  })
})

describe("BlockChunker: code fences", () => {
  it("never splits inside a fence while a safe break exists (the break after the closer wins)", () => {
    const input = "Intro.\n\n```ts\nconst a = 1\n\nconst b = 2\n```\n\nAfter the code block.\n\nMore"
    const r = run({ minChars: 10, maxChars: 60 }, input, false)
    expect(r.texts).toEqual(["Intro.\n\n```ts\nconst a = 1\n\nconst b = 2\n```"])
    expect(r.buffered).toBe("After the code block.\n\nMore")
  })

  it("forced split inside a fence closes and reopens it within budget (reference §1.7)", () => {
    const r = run({ minChars: 10, maxChars: 30 }, "```txt\n" + "a".repeat(80) + "\n```")
    const full = "```txt\n" + "a".repeat(19) + "\n```"
    expect(r.texts).toEqual([full, full, full, full, "```txt\naaaa\n```"])
    expect(joined(r)).toBe("```txt\n" + "a".repeat(80) + "\n```")
    expect(r.sources[1]).toBe("a".repeat(19))
  })

  it("a split inside a fence ends at a line end, so no code line is cut in the middle", () => {
    const lines = Array.from({ length: 30 }, (_, i) => `const value${String(i).padStart(2, "0")} = compute(${i})`)
    const input = "```ts\n" + lines.join("\n") + "\n```\n"
    const r = run({ minChars: 50, maxChars: 200 }, input)
    expect(r.texts.length).toBeGreaterThan(3)
    for (const t of r.texts) {
      expect(t.length).toBeLessThanOrEqual(200)
      const body = t.split("\n").slice(1, -1)
      expect(t.split("\n")[0]).toBe("```ts")
      for (const line of body) expect(lines).toContain(line)
    }
    expect(r.texts.flatMap((t) => t.split("\n").slice(1, -1))).toEqual(lines)
    expect(joined(r)).toBe(input)
  })

  it("streams a fence split as soon as maxChars is reached, buffering the rest (reference §1.7)", () => {
    const c = BlockChunker.make({ minChars: 8, maxChars: 20 })
    c.append("```ts\nabcdefghijklm")
    expect(c.drain()).toEqual([])
    c.append("n")
    expect(c.drain()).toEqual([{ text: "```ts\nabcdefghij\n```", source: "```ts\nabcdefghij" }])
    expect(c.buffered).toBe("klmn")
    c.append("\n```\nafter")
    expect(c.drain({ force: true }).map((b) => b.text)).toEqual(["```ts\nklmn\n```", "after"])
  })

  it("keeps marker char, length and indent: tildes, 4-char markers, indented openers", () => {
    const input = "  ~~~~py\n" + "x = 1\n".repeat(10) + "  ~~~~\n"
    const r = run({ minChars: 5, maxChars: 40 }, input)
    for (const t of r.texts) {
      expect(t.startsWith("  ~~~~py\n")).toBe(true)
      expect(t.trimEnd().endsWith("  ~~~~")).toBe(true)
      expect(t.length).toBeLessThanOrEqual(40)
    }
    expect(joined(r)).toBe(input)
  })

  it("a closer may be longer and differently indented; a shorter or other-char line does not close", () => {
    const input = "```\na\n~~~\n``\n ````\n\nafter"
    const r = run({ minChars: 1, maxChars: 100 }, input, false)
    expect(r.texts).toEqual(["```\na\n~~~\n``\n ````"])
  })

  it("a long info string is reopened bare, and the first opener is rewritten bare too", () => {
    const info = "typescript title=\"a-very-long-file-name.ts\""
    const input = "```" + info + "\n" + "b".repeat(60) + "\n```"
    const r = run({ minChars: 5, maxChars: 30 }, input)
    expect(r.texts[0]!.startsWith("```\nbbb")).toBe(true)
    for (const t of r.texts) {
      expect(t.length).toBeLessThanOrEqual(30)
      expect(t.startsWith("```\n")).toBe(true)
      expect(t.endsWith("```")).toBe(true)
    }
    expect(joined(r)).toBe(input)
  })

  it("cuts raw (unbalanced) when even a bare close + reopen cannot fit", () => {
    const input = "`````\n" + "c".repeat(20) + "\n`````"
    const r = run({ minChars: 2, maxChars: 12 }, input)
    expect(r.texts[0]).toBe(input.slice(0, 12))
    expect(r.texts.every((t) => t.length <= 12)).toBe(true)
    expect(joined(r)).toBe(input)
  })

  it("an unclosed fence at the end of a forced drain is emitted as is", () => {
    expect(run({ minChars: 1, maxChars: 100 }, "```js\nlet x").texts).toEqual(["```js\nlet x"])
  })
})

describe("BlockChunker: UTF-16", () => {
  it("never splits a surrogate pair at a hard cut", () => {
    const input = "😀".repeat(10)
    const r = run({ minChars: 1, maxChars: 5 }, input)
    for (const t of r.texts) expect(wellFormed(t)).toBe(true)
    expect(r.texts.every((t) => t.length <= 5)).toBe(true)
    expect(joined(r)).toBe(input)
  })

  it("with maxChars 1, an emoji is still one whole block (the only case a block exceeds maxChars)", () => {
    const r = run({ minChars: 1, maxChars: 1 }, "a😀b")
    expect(r.texts).toEqual(["a", "😀", "b"])
  })

  it("inside a fence too: a delta ending between the halves of an emoji is not cut there", () => {
    // found by the property suite: the fence split used to emit the lone high surrogate
    const text = "? word\n   ```😀   ```py title=x\n😀"
    const r = run({ minChars: 1, maxChars: 24 }, [text.slice(0, 33), text.slice(33)])
    for (const t of r.texts) expect(wellFormed(t)).toBe(true)
    expect(joined(r)).toBe(text)
  })

  it("a fence opener with room for one content unit before an emoji ends the block before the fence", () => {
    // found by the pipeline property suite (seed 1739477828): "\n```\n😀" + "\n```" was 11 > 10
    for (const text of ["\n```\n😀a😀", "x\n```\n😀a😀bcdefgh😀", "\n```\n😀😀😀😀😀😀\n```\n"]) {
      for (const step of [1, 2, 100]) {
        const deltas = Array.from({ length: Math.ceil(text.length / step) }, (_, i) => text.slice(i * step, (i + 1) * step))
        const r = run({ minChars: 10, maxChars: 10 }, deltas)
        for (const t of r.texts) {
          expect(t.length).toBeLessThanOrEqual(10)
          expect(wellFormed(t)).toBe(true)
        }
        expect(joined(r)).toBe(text)
      }
    }
  })

  it("waits for the low half when a delta ends between the two halves at the cap", () => {
    const c = BlockChunker.make({ minChars: 1, maxChars: 4 })
    c.append("abc\ud83d")
    const first = c.drain()
    expect(first.map((b) => b.text)).toEqual(["abc"])
    c.append("\ude00z")
    expect(c.drain({ force: true }).map((b) => b.text)).toEqual(["😀z"])
  })
})

describe("BlockChunker: flushOnParagraph", () => {
  it("waits for minChars before the first paragraph flush (reference §1.9)", () => {
    const r = run(
      { minChars: 30, maxChars: 200, flushOnParagraph: true },
      ["First paragraph.\n\n", "Second paragraph.\n\n", "Third paragraph."],
      false
    )
    expect(r.texts).toEqual(["First paragraph.\n\nSecond paragraph."])
    expect(r.buffered).toBe("Third paragraph.")
  })

  it("flushes at every blank line (spaces allowed) once past minChars, in one drain", () => {
    const r = run({ minChars: 3, maxChars: 200, flushOnParagraph: true }, "Alpha\n \nBeta\n\nGamma\n\nDelta", false)
    expect(r.texts).toEqual(["Alpha", "Beta", "Gamma"])
    expect(r.buffered).toBe("Delta")
  })

  it("forced drain under maxChars emits one block", () => {
    const r = run({ minChars: 300, maxChars: 400, flushOnParagraph: true }, "a\n\nb\n\nc")
    expect(r.texts).toEqual(["a\n\nb\n\nc"])
  })
})

describe("BlockChunker: Stream combinators", () => {
  it.effect("chunk: deltas in, blocks out, force-drained at the end", () =>
    Effect.gen(function* () {
      const input = "First paragraph here.\n\nSecond one.\n\nTail"
      const deltas = input.match(/.{1,5}/gs)!
      const blocks = yield* Stream.fromIterable(deltas).pipe(
        BlockChunker.chunk({ minChars: 10, maxChars: 100 }),
        Stream.runCollect
      )
      const arr = Chunk.toReadonlyArray(blocks)
      expect(arr.map((b) => b.text)).toEqual(["First paragraph here.", "Second one.", "Tail"])
      expect(arr.map((b) => b.source).join("")).toBe(input)
    })
  )

  it.effect("chunkWithFlush: Flush forces a drain; message_end mode only drains at Flush", () =>
    Effect.gen(function* () {
      const items = [
        BlockChunker.text("one two.\n\nthree"),
        BlockChunker.flush,
        BlockChunker.text("four\n\nfive six")
      ]
      const eager = yield* Stream.fromIterable(items).pipe(
        BlockChunker.chunkWithFlush({ minChars: 3, maxChars: 100 }),
        Stream.runCollect
      )
      expect(Chunk.toReadonlyArray(eager).map((b) => b.text)).toEqual(["one two.", "three", "four", "five six"])
      const lazy = yield* Stream.fromIterable(items).pipe(
        BlockChunker.chunkWithFlush({ minChars: 3, maxChars: 100, drainEachText: false }),
        Stream.runCollect
      )
      expect(Chunk.toReadonlyArray(lazy).map((b) => b.text)).toEqual(["one two.\n\nthree", "four\n\nfive six"])
    })
  )
})
