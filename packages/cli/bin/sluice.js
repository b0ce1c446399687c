#!/usr/bin/env node
// Launcher for the `sluice` CLI. Runs the esbuild bundle of the workspace sources (built on first
// use and after any source change, see bundle.js); if that cannot be built, or with
// SLUICE_NO_BUNDLE=1, runs the TypeScript sources through tsx's loader instead. Either way in this
// process (no wrapper process: signals and the TTY stay ours).
import { pathToFileURL } from "node:url"

let entry
if (process.env.SLUICE_NO_BUNDLE !== "1") {
  try {
    entry = await (await import("./bundle.js")).ensureBundle()
  } catch (e) {
    if (process.env.SLUICE_DEBUG) console.error("sluice: could not build the bundle, running the sources:", e)
  }
}
if (entry !== undefined) {
  await import(pathToFileURL(entry).href)
} else {
  const { register } = await import("tsx/esm/api")
  register()
  await import("../src/bin.ts")
}
