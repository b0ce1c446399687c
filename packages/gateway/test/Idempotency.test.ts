/** A retried send with the same clientMessageId (WS field, REST body or Idempotency-Key) is answered once. */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { connect, start, type Started } from "./support/harness.js"

describe("idempotent sends through the gateway", () => {
  let gw: Started
  beforeAll(async () => {
    gw = await start({ tokensPerSecond: 2000, words: 20 })
  })
  afterAll(() => gw.close())
  const url = (path: string) => `${gw.info.url.replace(/\/$/, "")}${path}`

  it("WebSocket: the retry gets the first acceptance with duplicate: true, and there is one run", async () => {
    const c = await connect(gw.info.wsUrl)
    try {
      const first = await c.request({ type: "send", conversationId: "ws-1", text: "hello", clientMessageId: "k-1" })
      const again = await c.request({ type: "send", conversationId: "ws-1", text: "hello", clientMessageId: "k-1" })
      expect(first.ok).toBe(true)
      expect(again.result).toEqual({ ...first.result, duplicate: true })
      await c.request({ type: "subscribe", conversationId: "ws-1", fromSeq: 0 })
      await c.runEnded("ws-1")
      await new Promise((r) => setTimeout(r, 100))
      const evs = c.events("ws-1")
      expect(evs.filter((e) => e._tag === "UserMessage").length).toBe(1)
      expect(evs.filter((e) => e._tag === "RunStarted").length).toBe(1)
      const bad = await c.request({ type: "send", conversationId: "ws-1", text: "x", clientMessageId: "" })
      expect(bad.ok).toBe(false)
      expect(bad.error.message).toContain("clientMessageId")
    } finally {
      c.close()
    }
  })

  it("REST: body clientMessageId and the Idempotency-Key header both deduplicate", async () => {
    const post = (body: object, headers: Record<string, string> = {}) =>
      fetch(url("/v1/conversations/rest-1/messages"), {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: JSON.stringify(body)
      }).then(async (r) => ({ status: r.status, body: (await r.json()) as Record<string, unknown> }))
    const a = await post({ text: "one", clientMessageId: "b-1" })
    const b = await post({ text: "one", clientMessageId: "b-1" })
    expect(a.status).toBe(202)
    expect(b.body).toEqual({ ...a.body, duplicate: true })
    const c = await post({ text: "two" }, { "idempotency-key": "h-1" })
    const d = await post({ text: "two" }, { "idempotency-key": "h-1" })
    expect(d.body).toEqual({ ...c.body, duplicate: true })
    expect(c.body.messageId).not.toBe(a.body.messageId)
  })
})
