import { describe, expect, it } from "@effect/vitest"
import { Config } from "@sluice/core"
import { Channel } from "../src/index.js"

describe("Channel capabilities", () => {
  it("agree with core's effective settings: the limit `sluice config show` reports is the one the adapter splits at", () => {
    for (const id of Channel.ChannelId.literals) {
      const caps = Channel.capabilities[id]
      const s = Config.resolve({}, { channel: id })
      expect([id, s.textChunkLimit]).toEqual([id, caps.textChunkLimit])
      expect([id, s.maxLinesPerMessage]).toEqual([id, caps.maxLinesPerMessage])
    }
  })
})
