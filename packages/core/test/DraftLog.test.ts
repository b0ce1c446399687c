import { describe, expect, it } from "@effect/vitest"
import fc from "fast-check"
import { DraftLog, MAX_DRAFTS, mergeBySeq } from "../src/internal/conversations/draftLog.js"
import { applyDraft, type ReplyEvent } from "../src/ReplyEvent.js"

const draft = (seq: number, offset: number, text: string): ReplyEvent => ({ _tag: "Draft", seq, offset, text, conversationId: "c", runId: "r", at: 0 })
const shown = (evs: ReadonlyArray<ReplyEvent>, from = "") =>
  evs.reduce((t, e) => (e._tag === "Draft" ? applyDraft(t, e) : t), from)

describe("DraftLog (the running attempt's Drafts, in memory)", () => {
  it("holds at most MAX_DRAFTS + 1 events however long the reply, and a reader from any seq ends with the same preview", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 3 * MAX_DRAFTS }), fc.nat(), (n, at) => {
        const log = new DraftLog()
        const all: Array<ReplyEvent> = []
        let text = ""
        for (let i = 1; i <= n; i++) {
          const d = draft(i, text.length, `w${i} `)
          text = applyDraft(text, d as Extract<ReplyEvent, { _tag: "Draft" }>)
          all.push(d)
          log.published([d])
        }
        expect(log.size).toBeLessThanOrEqual(MAX_DRAFTS + 1)
        // a reader that saw the first `from` Drafts, then catches up from the log
        const from = at % (n + 1)
        const caughtUp = log.since(from)
        expect(caughtUp.every((e, i) => e.seq > from && (i === 0 || e.seq > caughtUp[i - 1]!.seq))).toBe(true)
        expect(shown(caughtUp, shown(all.slice(0, from)))).toBe(text)
      }),
      { numRuns: 30 }
    )
  })

  it("a Rollback or RunEnded drops them (the attempt is void or the Final has the text)", () => {
    const log = new DraftLog()
    log.published([draft(1, 0, "a"), draft(2, 1, "b")])
    expect(log.since(0).map((e) => e.seq)).toEqual([1, 2])
    log.published([{ _tag: "Rollback", seq: 3, discardFromSeq: 1, attempt: 2, reason: "x", conversationId: "c", runId: "r", at: 0 }])
    expect(log.since(0)).toEqual([])
    log.published([draft(4, 0, "c")])
    log.published([{ _tag: "RunEnded", seq: 5, reason: "completed", conversationId: "c", runId: "r", at: 0 }])
    expect(log.since(0)).toEqual([])
  })

  it("mergeBySeq: the union of two seq-ordered lists, in order, each seq once", () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.nat(200)), fc.uniqueArray(fc.nat(200)), (xs, ys) => {
        const a = [...xs].sort((p, q) => p - q).map((s) => draft(s, 0, "a"))
        const b = [...ys].sort((p, q) => p - q).map((s) => draft(s, 0, "b"))
        const m = mergeBySeq(a, b)
        expect(m.map((e) => e.seq)).toEqual([...new Set([...xs, ...ys])].sort((p, q) => p - q))
        // a tie keeps the first list's event
        for (const e of m) if (xs.includes(e.seq)) expect(e).toMatchObject({ text: "a" })
      })
    )
  })
})
