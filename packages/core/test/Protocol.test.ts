import { describe, expect, it } from "@effect/vitest"
import { Either, Schema } from "effect"
import * as Protocol from "../src/Protocol.js"

const Body = Schema.Struct({ text: Schema.String, mode: Schema.optionalWith(Schema.String, { default: () => "a" }) })
const issueOf = (u: unknown) => {
  const r = Schema.decodeUnknownEither(Body, { errors: "first" })(u)
  if (Either.isRight(r)) throw new Error("decoded")
  return Protocol.firstIssue(r.left)
}

describe("decode errors as a user reads them", () => {
  it("a frame's bad field is named, with what was expected and what came", () => {
    const r = Protocol.decodeClientFrame({ type: "send", id: 1, conversationId: "c", text: 5 })
    expect(Either.isLeft(r) && r.left).toEqual({ code: "BadFrame", message: "send.text: Expected string, actual 5" })
  })

  it("a body of the wrong shape says 'an object', not Schema's names for its sides", () => {
    expect(issueOf(null)).toEqual({ path: [], message: "Expected an object, actual null" })
    expect(issueOf([1, 2])?.message).toBe("Expected an object, actual [1,2]")
  })

  it("never repeats a long input back whole", () => {
    const issue = issueOf({ text: { big: "x".repeat(10_000) } })
    expect(issue?.path).toEqual(["text"])
    expect(issue!.message.length).toBeLessThan(100)
    expect(issue!.message).toMatch(/^Expected string, actual \{"big":"x+…$/)
  })
})
