/** A model that cannot be reached says where it tried and why, through the real SDK. */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import { closedPort } from "../fakes/closedPort.js"
import { silentServer } from "../fakes/silentServer.js"
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

  it.live("an upstream that accepts the connection and never answers fails with a connect Timeout naming the URL, not after firstTokenMs", () =>
    Effect.acquireUseRelease(
      Effect.promise(silentServer),
      ({ url, connections }) =>
        Effect.gen(function* () {
          const model = AnthropicModel.make({
            apiKey: "sk-test",
            baseURL: url,
            timeouts: { connectMs: 300, firstTokenMs: 60_000 },
            retry: { maxAttempts: 3, baseDelayMs: 5, maxDelayMs: 10 }
          })
          const error = yield* model.stream({ messages: [{ role: "user", content: "hi" }] }).pipe(
            Stream.runDrain,
            Effect.flip,
            Effect.timeoutFail({ duration: "10 seconds", onTimeout: () => new Error("no connect timeout within 10 s") })
          )
          expect(error).toMatchObject({ _tag: "Timeout", which: "connect", afterMs: 300 })
          expect(error.message).toBe(`${url}/v1/messages: no response within 300 ms (connect timeout)`)
          expect(error.message).not.toContain("sk-test")
          // A silent upstream is not retried (each attempt would cost the user another connectMs).
          expect(connections()).toBe(1)
        }),
      ({ close }) => Effect.sync(close)
    )
  )
})
