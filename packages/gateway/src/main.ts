/**
 * `pnpm start` until the CLI's `sluice gateway` exists: `node --import tsx packages/gateway/src/main.ts
 * [--host H] [--port P] [--data-dir D] [--token T] [--config F]`.
 */
import { NodeRuntime } from "@effect/platform-node"
import { parseArgs } from "node:util"
import * as Gateway from "./Gateway.js"

const { values } = parseArgs({
  options: {
    host: { type: "string" },
    port: { type: "string" },
    "data-dir": { type: "string" },
    token: { type: "string", multiple: true },
    config: { type: "string" }
  }
})

NodeRuntime.runMain(
  Gateway.run({
    host: values.host,
    port: values.port !== undefined ? Number(values.port) : undefined,
    dataDir: values["data-dir"],
    tokens: values.token,
    configFile: values.config
  })
)
