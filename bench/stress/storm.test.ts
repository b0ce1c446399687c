import { describe, expect, it } from "vitest"
import { answerFor } from "./faultyFake.js"
import { judge } from "./storm.js"

const words = 5
const a0 = answerFor("chat0 question0", words).join("")
const a1 = answerFor("chat0 question1", words).join("")
const send = (t: number, text: string, taken = true) => ({ t, method: "sendMessage", taken, ...(taken ? { text } : {}) })

describe("the 429 storm's judge", () => {
  it("passes a chat that got each answer once, in order, split anywhere, paced 1 s apart with refusals between", () => {
    const calls = { "1000": [send(0, a0.slice(0, 10), false), send(1000, a0.slice(0, 10)), send(2000, `${a0.slice(10)}\n`), send(3100, a1)] }
    const j = judge(calls, ["chat0 question0", "chat0 question1"], ["1000"], words)
    expect(j.failures).toEqual([])
    expect(j.minGapMs).toBe(1000)
  })

  it("finds a message sent twice, one lost, a question asked twice, and a burst faster than 1 per second", () => {
    const prompts = ["chat0 question0", "chat0 question1"]
    expect(judge({ "1000": [send(0, a0), send(1000, a0), send(2000, a1)] }, prompts, ["1000"], words).mismatched).toBe(1)
    expect(judge({ "1000": [send(0, a0)] }, prompts, ["1000"], words).mismatched).toBe(1)
    expect(judge({ "1000": [send(0, a0), send(1000, a0)] }, ["chat0 question0", "chat0 question0"], ["1000"], words).failures.some((f) => f.includes("2 times"))).toBe(true)
    const fast = judge({ "1000": [send(0, a0), send(400, a1)] }, prompts, ["1000"], words)
    expect(fast.gapsUnder900).toBe(1)
    expect(fast.failures.some((f) => f.includes("less than 900 ms"))).toBe(true)
  })
})
