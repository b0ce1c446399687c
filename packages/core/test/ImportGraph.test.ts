/**
 * What importing a module loads: the value imports (not `import type`) reachable from it.
 * `@sluice/core/Protocol` is what a client imports; it (and the root barrel) must not pull in a
 * driver — better-sqlite3 (native) or the Anthropic SDK.
 */
import { readFileSync } from "node:fs"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..")

/** Specifiers of the value imports and re-exports of one TypeScript file. */
const valueImports = (source: string): Array<string> => {
  const out: Array<string> = []
  const re = /^\s*(import|export)\s+(type\s+)?([^"';]*?)\s*from\s*"([^"]+)"|^\s*import\s+"([^"]+)"/gms
  for (const m of source.matchAll(re)) {
    if (m[5] !== undefined) {
      out.push(m[5])
      continue
    }
    if (m[2] !== undefined) continue // import type / export type
    const clause = m[3] ?? ""
    // `import { type A, type B }` is erased too
    const braces = /^\{([^}]*)\}$/.exec(clause.trim())
    if (braces && braces[1]!.split(",").every((s) => s.trim() === "" || s.trim().startsWith("type "))) continue
    out.push(m[4]!)
  }
  return out
}

const reachable = (entry: string): Set<string> => {
  const seen = new Set<string>()
  const external = new Set<string>()
  const visit = (file: string) => {
    if (seen.has(file)) return
    seen.add(file)
    for (const spec of valueImports(readFileSync(file, "utf8"))) {
      if (spec.startsWith(".")) visit(join(dirname(file), spec.replace(/\.js$/, ".ts")))
      else external.add(spec)
    }
  }
  visit(join(root, entry))
  return external
}

const drivers = (externals: Set<string>) =>
  [...externals].filter((s) => s === "better-sqlite3" || s.startsWith("@anthropic-ai/sdk") || s.startsWith("@effect/sql"))

describe("import graph", () => {
  it("the parser sees value imports and skips type-only ones", () => {
    expect(valueImports(`import type { A } from "a"\nimport { type B } from "b"\nimport { C } from "c"\nexport { D } from "d"\nimport "e"`)).toEqual([
      "c",
      "d",
      "e"
    ])
  })

  it("@sluice/core/Protocol loads no driver", () => {
    expect(drivers(reachable("src/Protocol.ts"))).toEqual([])
  })

  it("the root barrel loads no driver", () => {
    expect(drivers(reachable("src/index.ts"))).toEqual([])
  })

  it("the drivers are where their subpaths say", () => {
    expect(drivers(reachable("src/sqlite/SqliteStore.ts"))).toContain("better-sqlite3")
    expect(drivers(reachable("src/anthropic/AnthropicModel.ts"))).toContain("@anthropic-ai/sdk")
  })
})
