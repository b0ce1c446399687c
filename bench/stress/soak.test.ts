import { describe, expect, it } from "vitest"
import { slopePerMinute } from "./soak.js"

describe("the soak's slope", () => {
  it("is the least-squares growth per minute, flat for noise around a level", () => {
    expect(slopePerMinute([{ t: 0, y: 10 }, { t: 60_000, y: 70 }, { t: 120_000, y: 130 }])).toBeCloseTo(60)
    expect(slopePerMinute([{ t: 0, y: 5 }, { t: 30_000, y: 7 }, { t: 60_000, y: 5 }, { t: 90_000, y: 7 }, { t: 120_000, y: 5 }])).toBeCloseTo(0, 5)
    expect(slopePerMinute([{ t: 0, y: 100 }, { t: 60_000, y: 40 }])).toBeCloseTo(-60)
    expect(slopePerMinute([{ t: 5, y: 1 }])).toBe(0)
  })
})
