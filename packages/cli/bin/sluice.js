#!/usr/bin/env node
// Launcher for the `sluice` CLI: the package ships TypeScript sources, so register tsx's ESM
// loader in this process (no wrapper process: signals and the TTY stay ours) and run the entry.
import { register } from "tsx/esm/api"

register()
await import("../src/bin.ts")
