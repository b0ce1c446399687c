/**
 * The fake server speaks the wire protocol itself (checked with plain fetch, no SDK), accepts both
 * API versions and both auth headers, records requests and connections, and closes everything.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as FakeAnthropic from "../fakes/FakeAnthropic.js"

const body = (o: Record<string, unknown> = {}) =>
  JSON.stringify({ model: "claude-sonnet-5-5", max_tokens: 100, stream: true, messages: [{ role: "user", content: "hi" }], ...o })

const post = (url: string, headers: Record<string, string>, payload = body()) =>
  Effect.promise(async () => {
    const res = await fetch(`${url}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: payload
    })
    return { status: res.status, headers: res.headers, text: await res.text() }
  })

const frames = (text: string) =>
  text
    .split("\n\n")
    .filter((f) => f.trim() !== "")
    .map((f) => {
      const lines = f.split("\n")
      return { event: lines[0]!.replace(/^event: /, ""), data: JSON.parse(lines[1]!.replace(/^data: /, "")) }
    })

const v1 = { "anthropic-version": "2023-06-01", "x-api-key": "sk-any" }
const v2 = { "anthropic-version": "2026-10-21", authorization: "Bearer sk-any" }

describe("FakeAnthropic", () => {
  it.scoped("speaks SSE exactly: event+data lines, type = event name, usage in start and delta, a ping", () =>
    Effect.gen(function*() {
      const server = yield* FakeAnthropic.make()
      server.enqueue(FakeAnthropic.text(["Sure", " — Paris."]))
      const res = yield* post(server.url, v1)
      expect(res.status).toBe(200)
      expect(res.headers.get("content-type")).toBe("text/event-stream; charset=utf-8")
      expect(res.headers.get("request-id")).toMatch(/^req_/)
      const fs = frames(res.text)
      expect(fs.map((f) => f.event)).toEqual([
        "message_start", "content_block_start", "ping", "content_block_delta", "content_block_delta",
        "content_block_stop", "message_delta", "message_stop"
      ])
      for (const f of fs) expect(f.data.type).toBe(f.event)
      expect(fs[0]!.data.message).toMatchObject({ content: [], usage: { input_tokens: 21, output_tokens: 1 } })
      expect(fs[6]!.data).toMatchObject({ delta: { stop_reason: "end_turn" }, usage: { output_tokens: expect.any(Number) } })
    }))

  it.scoped("accepts both API versions and both auth headers; rejects the rest with API error bodies", () =>
    Effect.gen(function*() {
      const server = yield* FakeAnthropic.make()
      expect((yield* post(server.url, v1)).status).toBe(200)
      expect((yield* post(server.url, v2)).status).toBe(200)
      const noAuth = yield* post(server.url, { "anthropic-version": "2023-06-01" })
      expect(noAuth.status).toBe(401)
      expect(JSON.parse(noAuth.text)).toMatchObject({ type: "error", error: { type: "authentication_error" } })
      const badVersion = yield* post(server.url, { ...v1, "anthropic-version": "2020-01-01" })
      expect(badVersion.status).toBe(400)
      expect(JSON.parse(badVersion.text).error.type).toBe("invalid_request_error")
      const notStream = yield* post(server.url, v1, body({ stream: false }))
      expect(notStream.status).toBe(400)
      const wrongPath = yield* Effect.promise(() => fetch(`${server.url}/v1/complete`, { method: "POST", headers: v1 }))
      expect(wrongPath.status).toBe(404)
      yield* Effect.promise(() => wrongPath.text())
      expect(server.requests.map((r) => [r.auth, r.apiVersion])).toEqual([
        ["x-api-key", "2023-06-01"], ["bearer", "2026-10-21"], [null, "2023-06-01"],
        ["x-api-key", "2020-01-01"], ["x-api-key", "2023-06-01"], ["x-api-key", "2023-06-01"]
      ])
    }))

  it.scoped("scripts are consumed one per request, then the default answers from the message", () =>
    Effect.gen(function*() {
      const server = yield* FakeAnthropic.make()
      server.enqueue(FakeAnthropic.rateLimited(2), FakeAnthropic.overloaded())
      const r1 = yield* post(server.url, v1)
      expect(r1.status).toBe(429)
      expect(r1.headers.get("retry-after")).toBe("2")
      expect(JSON.parse(r1.text).error.type).toBe("rate_limit_error")
      const r2 = yield* post(server.url, v1)
      expect(r2.status).toBe(529)
      expect(JSON.parse(r2.text).error.type).toBe("overloaded_error")
      const r3 = yield* post(server.url, v1, body({ messages: [{ role: "user", content: "explain backoff" }] }))
      const text = frames(r3.text)
        .filter((f) => f.data.delta?.type === "text_delta")
        .map((f) => f.data.delta.text)
        .join("")
      expect(text).toContain("explain backoff")
      expect(server.pending()).toBe(0)
      expect(server.requests[2]!.body.messages[0].content).toBe("explain backoff")
    }))

  it.scoped("the default thinks first when the request enables thinking", () =>
    Effect.gen(function*() {
      const server = yield* FakeAnthropic.make()
      const res = yield* post(server.url, v2, body({ thinking: { type: "adaptive" } }))
      const fs = frames(res.text)
      expect(fs[1]!.data.content_block.type).toBe("thinking")
      expect(fs.some((f) => f.data.delta?.type === "signature_delta")).toBe(true)
    }))

  it.scoped("mid-stream error: an error frame and the end of the body, with no message_stop", () =>
    Effect.gen(function*() {
      const server = yield* FakeAnthropic.make()
      server.enqueue(FakeAnthropic.errorMidStream(["a", "b"]))
      const fs = frames((yield* post(server.url, v1)).text)
      expect(fs.at(-1)).toEqual({ event: "error", data: { type: "error", error: { type: "overloaded_error", message: "Overloaded" } } })
      expect(fs.some((f) => f.event === "message_stop")).toBe(false)
    }))

  it.scoped("records connections; a reset is recorded; close() leaves nothing open", () =>
    Effect.gen(function*() {
      const server = yield* Effect.promise(() => FakeAnthropic.start())
      server.enqueue(FakeAnthropic.resetMidStream(), FakeAnthropic.stallAfterStart())
      const reset = yield* Effect.promise(() =>
        fetch(`${server.url}/v1/messages`, { method: "POST", headers: v1, body: body() }).then((r) => r.text()).then(
          () => "ended",
          (e: unknown) => `failed: ${String((e as Error).message)}`
        )
      )
      expect(reset).toMatch(/^failed/)
      expect(server.requests[0]!.outcome).toBe("reset")
      // a stalled request stays open until the server closes
      const controller = new AbortController()
      const stalled = fetch(`${server.url}/v1/messages`, { method: "POST", headers: v1, body: body(), signal: controller.signal })
        .then((r) => r.text())
        .catch(() => "aborted")
      yield* Effect.promise(() => new Promise((r) => setTimeout(r, 100)))
      expect(server.openConnections()).toBeGreaterThanOrEqual(1)
      controller.abort()
      yield* Effect.promise(() => stalled)
      yield* Effect.promise(() => server.whenClosed(server.requests[1]!))
      expect(server.requests[1]!.outcome).toBe("aborted")
      yield* Effect.promise(() => server.close())
      expect(server.openConnections()).toBe(0)
      expect(server.connections.every((c) => c.closedAt !== undefined)).toBe(true)
    }))
})
