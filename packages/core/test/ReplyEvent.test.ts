import { describe, expect, it } from "@effect/vitest"
import { Schema } from "effect"
import { ReplyEvent } from "../src/index.js"

describe("ReplyEvent", () => {
  it("round-trips through JSON and rejects an event without seq", () => {
    const ev: ReplyEvent.ReplyEvent = {
      _tag: "Block",
      seq: 3,
      conversationId: "c1",
      runId: "r1",
      at: 1,
      index: 0,
      text: "hello"
    }
    const json = JSON.stringify(Schema.encodeSync(ReplyEvent.ReplyEvent)(ev))
    expect(Schema.decodeUnknownSync(ReplyEvent.ReplyEvent)(JSON.parse(json))).toEqual(ev)
    const { seq: _seq, ...noSeq } = ev
    expect(() => Schema.decodeUnknownSync(ReplyEvent.ReplyEvent)(noSeq)).toThrow(/seq/)
  })
})
