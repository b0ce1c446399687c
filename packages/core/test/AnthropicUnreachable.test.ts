/** A model that cannot be reached says where it tried and why, through the real SDK. */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import { closedPort } from "../fakes/closedPort.js"
import * as AnthropicModel from "../src/anthropic/AnthropicModel.js"

describe("Anthropic unreachable", () => {
  it.live("a refused connection fails with the URL that failed and the reason", () =>
    Effect.gen(function* () {
      const port = yield* Effect.promise(closedPort)
      const model = AnthropicModel.make({ apiKey: "sk-test", baseURL: `http://127.0.0.1:${port}`, retry: { maxAttempts: 2, baseDelayMs: 5, maxDelayMs: 10 } })
      const error = yield* model.stream({ messages: [{ role: "user", content: "hi" }] }).pipe(Stream.runDrain, Effect.flip)
      expect(error._tag).toBe("Network")
      expect(error.message).toContain(`http://127.0.0.1:${port}/v1/messages`)
      expect(error.message).toContain("ECONNREFUSED")
      expect(error.message).not.toContain("sk-test")
    })
  )
})
