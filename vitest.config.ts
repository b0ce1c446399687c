import { defineConfig } from "vitest/config"

// Each package (and the examples and benchmarks) is a project with its own vitest config.
// (`test.projects` replaces the deprecated vitest.workspace.ts file.)
export default defineConfig({
  test: {
    projects: ["packages/*", "examples", "bench"]
  }
})
