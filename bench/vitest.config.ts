import { defineProject } from "vitest/config"

// Unit tests of the benchmarks' own pure parts (not the benchmarks: those run with `pnpm bench`).
export default defineProject({
  test: {
    name: "bench",
    include: ["streaming/*.test.ts", "stress/*.test.ts"],
    testTimeout: 30_000
  }
})
