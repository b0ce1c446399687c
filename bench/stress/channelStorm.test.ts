import { describe, expect, it } from "vitest"
import { answerFor } from "./faultyFake.js"
import { chatIdOf, judgeStorm } from "./channelStorm.js"

const words = 5
const a0 = answerFor("chat0 question0", words).join("")
const a1 = answerFor("chat0 question1", words).join("")
const prompts = ["chat0 question0", "chat0 question1"]
const call = (t: number, taken = true) => ({ t, method: "chat.postMessage", taken })

describe("the channels' 429 storm judge", () => {
  it("passes a chat whose messages show each answer once, in order, split anywhere, with Slack's calls 1 s apart", () => {
    const d = chatIdOf("slack", 0)
    const j = judgeStorm("slack", { calls: { [d]: [call(0, false), call(1000), call(2000), call(3000)] }, texts: { [d]: [a0.slice(0, 9), `${a0.slice(9)}\n`, a1] } }, prompts, 1, words)
    expect(j.failures).toEqual([])
    expect(j.minGapMs).toBe(1000)
  })

  it("finds an answer twice, one lost, a question asked twice, and Slack calls faster than 1 per second (not WhatsApp's)", () => {
    const d = chatIdOf("slack", 0)
    const calls = { [d]: [call(0), call(1000)] }
    expect(judgeStorm("slack", { calls, texts: { [d]: [a0, a0, a1] } }, prompts, 1, words).mismatched).toBe(1)
    expect(judgeStorm("slack", { calls, texts: { [d]: [a0] } }, prompts, 1, words).mismatched).toBe(1)
    expect(judgeStorm("slack", { calls, texts: { [d]: [a0, a0] } }, ["chat0 question0", "chat0 question0"], 1, words).failures.some((f) => f.includes("2 times"))).toBe(true)
    const fast = { [d]: [call(0), call(300)] }
    expect(judgeStorm("slack", { calls: fast, texts: { [d]: [a0, a1] } }, prompts, 1, words).failures.some((f) => f.includes("less than 900 ms"))).toBe(true)
    const w = chatIdOf("whatsapp", 0)
    expect(judgeStorm("whatsapp", { calls: { [w]: [call(0), call(300)] }, texts: { [w]: [a0, a1] } }, prompts, 1, words).failures).toEqual([])
    const g = chatIdOf("discord", 0)
    expect(judgeStorm("discord", { calls: { [g]: [call(0), call(300)] }, texts: { [g]: [a0, a1] }, bucketRefused: 0 }, prompts, 1, words).failures).toEqual([])
    expect(judgeStorm("discord", { calls: { [g]: [call(0), call(300)] }, texts: { [g]: [a0, a1] }, bucketRefused: 2 }, prompts, 1, words).failures[0]).toMatch(/bucket/)
  })
})
