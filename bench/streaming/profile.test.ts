import { describe, expect, it } from "vitest"
import { type CpuProfile, categorise, resolveFrame, shares, sourceIndex } from "./profile.js"

const frame = (functionName: string, url: string) => ({ functionName, url })

describe("profile categories", () => {
  it("puts each frame where the benchmark's report says it belongs", () => {
    expect(categorise(frame("(garbage collector)", ""))).toBe("gc")
    expect(categorise(frame("(idle)", ""))).toBe("idle")
    expect(categorise(frame("run", "file:///w/node_modules/.pnpm/effect@3.22.4/node_modules/effect/dist/esm/internal/fiberRuntime.js"))).toBe("effect")
    expect(categorise(frame("prepare", "file:///w/node_modules/.pnpm/better-sqlite3@12.11.1/node_modules/better-sqlite3/lib/methods/wrappers.js"))).toBe("sqlite")
    expect(categorise(frame("execute", "file:///w/node_modules/.pnpm/@effect+sql-sqlite-node@0.49.1/node_modules/@effect/sql-sqlite-node/dist/esm/SqliteClient.js"))).toBe("sqlite")
    expect(categorise(frame("decode", "file:///w/node_modules/.pnpm/@anthropic-ai+sdk@1.12.0/node_modules/@anthropic-ai/sdk/core/streaming.mjs"))).toBe("sdk")
    expect(categorise(frame("take", "file:///w/packages/core/src/internal/eventLog.ts"))).toBe("ours")
    expect(categorise(frame("writeGeneric", "node:internal/stream_base_commons"))).toBe("sockets")
    expect(categorise(frame("sendFrame", "file:///w/node_modules/.pnpm/ws@8.18.0/node_modules/ws/lib/sender.js"))).toBe("sockets")
    expect(categorise(frame("parse", ""))).toBe("other")
  })

  it("shares are of busy time, from samples and their time deltas", () => {
    const p: CpuProfile = {
      nodes: [
        { id: 1, callFrame: frame("(root)", "") },
        { id: 2, callFrame: frame("(idle)", "") },
        { id: 3, callFrame: frame("(garbage collector)", "") },
        { id: 4, callFrame: frame("take", "file:///w/packages/core/src/internal/eventLog.ts") }
      ],
      samples: [2, 3, 4, 4, 2],
      timeDeltas: [1000, 100, 200, 100, 5000]
    }
    const s = shares(p)
    expect(s.busyMs).toBeCloseTo(0.4)
    expect(s.shares.gc).toBeCloseTo(0.25)
    expect(s.shares.ours).toBeCloseTo(0.75)
    expect(s.shares.idle).toBe(0)
    expect(s.topOurs).toEqual([["take (core/src/internal/eventLog.ts:1)", 0.75]])
  })
})

describe("profiles of the bundle", () => {
  it("maps a bundle line to the module esbuild marked above it", () => {
    const text = ["import x", "// ../../w/node_modules/.pnpm/effect@3.22.4/node_modules/effect/dist/esm/Stream.js", "a", "b", "// ../../w/packages/core/src/internal/conversations/eventLog.ts", "c"].join("\n")
    const index = sourceIndex(text)
    const at = (lineNumber: number) => resolveFrame({ functionName: "f", url: "file:///cache/sluice-cli/x/chunk.js", lineNumber }, index)
    expect(categorise(at(3))).toBe("effect")
    expect(categorise(at(5))).toBe("ours")
    expect(at(0).url).toBe("file:///cache/sluice-cli/x/chunk.js")
  })

  it("maps the workspace's own modules of a bundle built from packages/cli (`../core/src/…`, `src/…`)", () => {
    const text = ["// ../../node_modules/.pnpm/effect@3.22.4/node_modules/effect/dist/esm/Stream.js", "a", "// ../core/src/internal/conversations/runLoop.ts", "b", "// src/internal/options.ts", "c"].join("\n")
    const index = sourceIndex(text)
    const at = (lineNumber: number) => resolveFrame({ functionName: "f", url: "file:///cache/sluice-cli/x/chunk.js", lineNumber }, index)
    expect(categorise(at(1))).toBe("effect")
    expect(at(3).url).toBe("/packages/core/src/internal/conversations/runLoop.ts")
    expect(categorise(at(3))).toBe("ours")
    expect(at(5).url).toBe("/packages/cli/src/internal/options.ts")
  })
})
