import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { noStack, sluice, tempDir } from "./run.js"

interface JsonMessage {
  readonly delayMs: number
  readonly length: number
  readonly lines: number
  readonly fenceClosed: boolean
  readonly text: string
}

const code = Array.from({ length: 60 }, (_, i) => `let x${i} = ${i} // a line of code number ${i}`).join("\n")
const reply = `Intro paragraph.\n\n\`\`\`js\n${code}\n\`\`\`\n\nThe end.`

describe("sluice preview", () => {
  it("previews a file and stdin on a channel: messages within limits, delays, fence repairs; JSON lines", async () => {
    using dir = tempDir()
    writeFileSync(join(dir.path, "reply.md"), reply)
    writeFileSync(
      join(dir.path, "sluice.json"),
      JSON.stringify({ channels: { discord: { blockStreaming: true } }, agents: { defaults: { humanDelay: { mode: "natural" } } } })
    )
    const [human, json] = await Promise.all([
      sluice(["preview", "--channel", "discord", "reply.md"], { cwd: dir.path }),
      sluice(["preview", "--channel", "discord", "--json", "-"], { cwd: dir.path, input: reply })
    ])
    expect(human.code, human.stderr).toBe(0)
    expect(human.stdout).toContain("Preview of a reply from reply.md")
    expect(human.stdout).toMatch(/human delay\s+natural 800–2500 ms/)
    expect(human.stdout).toMatch(/block 2 · \d+ chars · delay \d+ ms/)
    expect(human.stdout).toContain('fence reopened with "```js"')
    expect(json.code, json.stderr).toBe(0)
    const lines = json.stdout.trim().split("\n").map((l) => JSON.parse(l) as JsonMessage)
    expect(lines.length).toBeGreaterThan(1)
    expect(lines[0]!.delayMs).toBe(0)
    for (const m of lines) {
      expect(m.length).toBeLessThanOrEqual(2000)
      expect(m.lines).toBeLessThanOrEqual(17)
      expect((m.text.match(/^```/gm) ?? []).length % 2).toBe(0)
    }
    expect(lines.some((m) => m.fenceClosed === true)).toBe(true)
    expect(lines.map((m) => m.text).join("\n")).toContain("The end.")
  })

  it("previews the offline model with no file; a missing file is a clear error", async () => {
    const [model, missing] = await Promise.all([
      sluice(["preview", "--summary"]),
      sluice(["preview", "--channel", "telegram", "no-such-file.md"])
    ])
    expect(model.code, model.stderr).toBe(0)
    expect(model.stdout).toContain("from the offline demo model")
    expect(model.stdout).toMatch(/block 1 · \d+ chars/)
    expect(missing.code).toBe(1)
    expect(missing.stderr).toContain("cannot read no-such-file.md")
    expect(noStack(missing.stderr)).toBe(true)
  })
})
