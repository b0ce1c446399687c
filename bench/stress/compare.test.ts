import { describe, expect, it } from "vitest"
import { compare, type Ev } from "./compare.js"

const ev = (seq: number, _tag: string, extra: Partial<Ev> = {}): Ev => ({ _tag, seq, runId: "r", ...extra })
const ref: ReadonlyArray<Ev> = [
  ev(1, "UserMessage", { text: "hi" }),
  ev(2, "RunStarted"),
  ev(3, "Draft", { offset: 0, text: "Hel" }),
  ev(4, "Draft", { offset: 3, text: "lo " }),
  ev(5, "Block", { text: "Hello " }),
  ev(6, "Draft", { offset: 6, text: "world" }),
  ev(7, "Final", { text: "Hello world" }),
  ev(8, "RunEnded")
]

describe("resume comparison", () => {
  it("a reader that got everything passes", () => {
    expect(compare(ref, ref, "x")).toMatchObject({ lost: 0, duplicated: 0, outOfOrder: 0, draftMismatches: 0, compared: 5, drafts: 3, failures: [] })
  })

  it("counts a lost, a duplicated and an out-of-order event", () => {
    expect(compare(ref, ref.filter((e) => e.seq !== 5), "x")).toMatchObject({ lost: 1 })
    expect(compare(ref, [...ref.slice(0, 5), ref[4]!, ...ref.slice(5)], "x")).toMatchObject({ duplicated: 1, outOfOrder: 1 })
    const swapped = [ref[0]!, ref[2]!, ref[1]!, ...ref.slice(3)]
    expect(compare(ref, swapped, "x").outOfOrder).toBeGreaterThan(0)
  })

  it("a fold of missed Drafts (offset 0, the whole preview, the last one's seq) leaves the preview the same; a wrong Draft does not", () => {
    const folded = [ref[0]!, ref[1]!, ev(4, "Draft", { offset: 0, text: "Hello " }), ...ref.slice(4)]
    expect(compare(ref, folded, "x")).toMatchObject({ draftMismatches: 0, failures: [] })
    const wrong = [ref[0]!, ref[1]!, ev(4, "Draft", { offset: 0, text: "Help " }), ...ref.slice(4)]
    expect(compare(ref, wrong, "x").draftMismatches).toBe(2) // the wrong preview, and the next Draft built on it
  })
})
