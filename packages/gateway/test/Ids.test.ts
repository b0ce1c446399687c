/** Per-principal conversation ids (`src/internal/ids.ts`): no two principals' ids meet in the store. */
import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import * as Ids from "../src/internal/ids.js"

const principal = fc.oneof(fc.constant("local"), fc.string({ minLength: 1, maxLength: 12 }), fc.constantFrom("a", "a/b", "a%2Fb", "@x", "telegram:support"))
const id = fc.oneof(fc.string({ minLength: 1, maxLength: 20 }), fc.constantFrom("demo", "b/c", "x/y/z", "%2F")).filter((s) => !Ids.reserved(s))

describe("per-principal conversation ids", () => {
  it("a stored id belongs to exactly one (principal, id) pair, and reads back as the id (property)", () => {
    fc.assert(
      fc.property(principal, id, principal, id, (p1, i1, p2, i2) => {
        expect(Ids.external(p1, Ids.scoped(p1, i1))).toBe(i1)
        if (Ids.scoped(p1, i1) === Ids.scoped(p2, i2)) expect([p1, i1]).toEqual([p2, i2])
      }),
      { numRuns: 20_000 }
    )
  })

  it("events read as the principal's own ids; local's are passed through as they are", () => {
    const ev = { conversationId: Ids.scoped("alice", "demo"), seq: 1 }
    expect(Ids.eventFor("alice", ev).conversationId).toBe("demo")
    const local = [{ conversationId: "demo", seq: 1 }]
    expect(Ids.eventsFor<(typeof local)[number]>("local")(local)).toBe(local)
  })
})
