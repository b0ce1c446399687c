import { describe, expect, it } from "vitest"
import { checkRun } from "./faults.js"

const ev = (seq: number, _tag: string, extra: Record<string, unknown> = {}) => ({ _tag, seq, runId: "r", ...extra })
const answer = "one two three "

describe("a run's check under model faults", () => {
  it("a retried run whose void attempt was rolled back, then completed with one copy, passes", () => {
    const run = [
      ev(1, "UserMessage", { text: "p" }),
      ev(2, "RunStarted"),
      ev(3, "Draft", { offset: 0, text: "one " }),
      ev(4, "Rollback"),
      ev(5, "Draft", { offset: 0, text: "one two " }),
      ev(6, "Block", { text: "one two three" }),
      ev(7, "Final", { text: answer }),
      ev(8, "RunEnded", { reason: "completed" })
    ]
    expect(checkRun(run, answer, "x")).toEqual([])
  })

  it("finds text shown twice, a Final that is not one copy, a failure without an Error and a missing end", () => {
    const twice = [ev(1, "Draft", { offset: 0, text: "one " }), ev(2, "Draft", { offset: 4, text: "one two " }), ev(3, "RunEnded", { reason: "failed" }), ev(4, "Error")]
    expect(checkRun(twice, answer, "x")).toHaveLength(1)
    const noRollback = [ev(1, "Block", { text: "one" }), ev(2, "Block", { text: "one two three" }), ev(3, "Final", { text: answer }), ev(4, "RunEnded", { reason: "completed" })]
    expect(checkRun(noRollback, answer, "x")).toHaveLength(1)
    expect(checkRun([ev(1, "Final", { text: answer + answer }), ev(2, "RunEnded", { reason: "completed" })], answer, "x")).toHaveLength(1)
    expect(checkRun([ev(1, "RunEnded", { reason: "failed" })], answer, "x")).toHaveLength(1)
    expect(checkRun([ev(1, "Final", { text: answer })], answer, "x")).toHaveLength(1)
  })
})
