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

  it("applyDraft: appends at the offset, is idempotent, and ignores a Draft past a gap", () => {
    const d = (offset: number, text: string) => ({ offset, text })
    expect(ReplyEvent.applyDraft("", d(0, "Hel"))).toBe("Hel")
    expect(ReplyEvent.applyDraft("Hel", d(3, "lo"))).toBe("Hello")
    expect(ReplyEvent.applyDraft("Hello", d(3, "lo"))).toBe("Hello") // seen again
    expect(ReplyEvent.applyDraft("Hello", d(3, "p!"))).toBe("Help!") // rewrites from the offset
    expect(ReplyEvent.applyDraft("He", d(3, "lo"))).toBe("He") // a Draft was missed: wait for the Final
  })
})
