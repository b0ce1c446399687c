import { describe, expect, it } from "vitest"
import { checkAnswer } from "./badInput.js"

const check = (text: string) => {
  const failures: Array<string> = []
  const codes: Record<string, number> = {}
  checkAnswer(text, "case", failures, codes)
  return { failures, codes }
}

describe("an answer to bad input", () => {
  it("a documented typed error passes, and is counted by code", () => {
    expect(check(JSON.stringify({ error: { code: "BadFrame", message: "send.text: is missing" } }))).toEqual({ failures: [], codes: { BadFrame: 1 } })
    expect(check(JSON.stringify({ error: { message: "Unrecognized request argument supplied: x", type: "invalid_request_error", param: "x", code: "unknown_parameter" } })).failures).toEqual([])
    expect(check("event: Block\ndata: {}\n\n").failures).toEqual([])
  })

  it("finds an Internal error, an error without a message, a stack trace, Schema's internals and another principal's text", () => {
    expect(check(JSON.stringify({ error: { code: "Internal", message: "boom" } })).failures).toHaveLength(1)
    expect(check(JSON.stringify({ error: { code: "BadFrame", message: "" } })).failures).toHaveLength(1)
    expect(check(JSON.stringify({ error: { message: "x", type: "server_error" } })).failures).toHaveLength(1)
    expect(check("Error: x\n    at handler (/app/src/http.ts:12:7)").failures.length).toBeGreaterThan(0)
    expect(check(JSON.stringify({ error: { code: "BadFrame", message: "Expected Struct (Encoded side), actual null" } })).failures).toHaveLength(1)
    expect(check(JSON.stringify({ messages: [{ text: "BOBSECRET: bob's own words" }] })).failures).toHaveLength(1)
  })
})
