import * as Config from "@sluice/core/Config"
import { Effect, Stream } from "effect"
import { describe, expect, it } from "vitest"
import * as Preview from "../src/Preview.js"
import * as FenceAlign from "../src/internal/fenceAlign.js"

const code = (n: number) => Array.from({ length: n }, (_, i) => `const value${i} = compute(${i}) // line ${i}`).join("\n")
const reply = `# Title\n\n${"Some intro words here. ".repeat(20)}\n\n\`\`\`ts\n${code(90)}\n\`\`\`\n\nDone.`

/** Text without fence lines and whitespace: what must survive any splitting. */
const squash = (s: string) => s.replace(/^ {0,3}```.*$/gm, "").replace(/\s+/g, "")

const fenceBalanced = (text: string) => (text.match(/^ {0,3}```/gm) ?? []).length % 2 === 0

const runPlan = (config: Config.Config, channel: string, text = reply) =>
  Effect.runPromise(
    Preview.run(Stream.fromIterable(Preview.eventsFromText(text)), Config.resolve(config, { channel }), { seed: 1 })
  )

describe("Preview", () => {
  it("on discord with block streaming: blocks within maxChars, messages within 2000 chars and 17 lines, fences repaired and reported", async () => {
    const p = await runPlan({ channels: { discord: { blockStreaming: true } }, agents: { defaults: { humanDelay: { mode: "natural" } } } }, "discord")
    const blocks = p.deliveries.filter((d) => d.kind === "block")
    expect(blocks.length).toBeGreaterThan(2)
    expect(blocks[0]!.delayMs).toBe(0)
    for (const d of blocks.slice(1)) {
      expect(d.delayMs).toBeGreaterThanOrEqual(800)
      expect(d.delayMs).toBeLessThanOrEqual(2500)
    }
    for (const d of blocks) {
      expect(d.text.length).toBeLessThanOrEqual(1200)
      for (const m of d.messages) {
        expect(m.length).toBeLessThanOrEqual(2000)
        expect(m.lines).toBeLessThanOrEqual(17)
        expect(fenceBalanced(m.text), m.text).toBe(true)
      }
    }
    expect(blocks.some((d) => d.fenceClosed)).toBe(true)
    expect(blocks.some((d) => d.fenceReopened)).toBe(true)
    expect(blocks.flatMap((d) => d.messages).some((m) => m.reopenedFence === "```ts")).toBe(true)
    // nothing is lost: the messages carry the whole reply (fence lines and whitespace at cuts aside)
    const delivered = p.deliveries.flatMap((d) => d.messages.map((m) => m.text)).join("\n")
    expect(squash(delivered)).toBe(squash(reply))
    expect(p.final).toBe("covered-by-blocks")
    const text = Preview.format(p)
    expect(text).toContain("block 1 ·")
    expect(text).toContain("code fence closed at the end")
    expect(text).toContain("delay ")
  })

  it("with block streaming off: only the final reply, split to the channel's limit", async () => {
    const p = await runPlan({}, "slack")
    expect(p.settings.blockStreaming).toBe(false)
    expect(p.deliveries.map((d) => d.kind)).toEqual(["final"])
    expect(p.final).toBe("sent")
    expect(p.deliveries[0]!.messages.map((m) => m.text).join("")).toContain("Done.")
  })

  it("the same seed gives the same delays", async () => {
    const config = { channels: { discord: { blockStreaming: true } }, agents: { defaults: { humanDelay: { mode: "natural" as const } } } }
    const [a, b] = await Promise.all([runPlan(config, "discord"), runPlan(config, "discord")])
    expect(a.deliveries.map((d) => d.delayMs)).toEqual(b.deliveries.map((d) => d.delayMs))
  })

  it("eventsFromText never splits a surrogate pair", () => {
    const text = "😀".repeat(20)
    const ds = Preview.deltas(text, 3)
    expect(ds.join("")).toBe(text)
    for (const d of ds) expect(d.charCodeAt(d.length - 1) >= 0xd800 && d.charCodeAt(d.length - 1) <= 0xdbff).toBe(false)
  })

  it("FenceAlign finds synthetic closers and openers only", () => {
    const source = "intro\n\n```ts\na\nb\nc\n```\n\nend"
    const blocks = ["intro", "```ts\na\nb\n```", "```ts\nc\n```", "end"]
    expect(FenceAlign.alignAll(blocks, source)).toEqual([
      { reopenedAtStart: false, closedAtEnd: false },
      { reopenedAtStart: false, closedAtEnd: true },
      { reopenedAtStart: true, closedAtEnd: false },
      { reopenedAtStart: false, closedAtEnd: false }
    ])
  })
})
