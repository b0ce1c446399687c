/**
 * Limits that hold under races, and metrics that mean what they say.
 */
import { describe, expect, it } from "vitest"
import { connect, start } from "./support/harness.js"

describe("limits under a burst", () => {
  it("10 sends for 10 new conversations in one burst on one WebSocket start exactly the cap's 4 runs", async () => {
    const gw = await start({ tokensPerSecond: 20, words: 200, graceMs: 50, limits: { maxRunsPerPrincipal: 4 } })
    try {
      const ws = await connect(gw.info.wsUrl)
      // All frames go out before any answer comes back.
      const answers = await Promise.all(
        Array.from({ length: 10 }, (_, i) => ws.request({ type: "send", conversationId: `burst-${i}`, text: `question ${i}` }))
      )
      const accepted = answers.filter((a) => a.ok === true)
      const refused = answers.filter((a) => a.ok !== true)
      expect(accepted).toHaveLength(4)
      expect(refused).toHaveLength(6)
      expect(refused.every((a) => a.error?.code === "TooManyRuns")).toBe(true)
      // and REST in the same burst counts against the same cap
      const rest = await fetch(`${gw.info.url}v1/conversations/burst-x/messages`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ text: "one more" })
      })
      expect(rest.status).toBe(429)
      ws.close()
    } finally {
      await gw.close()
    }
  }, 30_000)

  it("sluice_errors_total counts refusals only: successful POSTs add no PayloadTooLarge; a too-large body adds one", async () => {
    const gw = await start({ tokensPerSecond: 0, words: 10, limits: { maxBodyBytes: 4096 } })
    const metric = async () => {
      const text = await (await fetch(`${gw.info.url}metrics`)).text()
      return Number(/sluice_errors_total\{tag="PayloadTooLarge"\} (\d+)/.exec(text)?.[1] ?? "0")
    }
    try {
      const before = await metric()
      for (let i = 0; i < 3; i++) {
        const res = await fetch(`${gw.info.url}v1/conversations/m-${i}/messages`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ text: "hello" })
        })
        expect(res.status).toBeLessThan(300)
      }
      expect(await metric()).toBe(before)
      const big = await fetch(`${gw.info.url}v1/conversations/m-big/messages`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ text: "x".repeat(10_000) })
      })
      expect(big.status).toBe(413)
      expect(await metric()).toBe(before + 1)
      // A chunked body (no Content-Length) over the limit gets the same 413, not a reset connection.
      const chunk = new TextEncoder().encode(`{"text":"${"y".repeat(3000)}`)
      let sent = 0
      const stream = new ReadableStream<Uint8Array>({
        pull(c) {
          if (sent++ < 5) c.enqueue(chunk)
          else {
            c.enqueue(new TextEncoder().encode('"}'))
            c.close()
          }
        }
      })
      const chunked = await fetch(`${gw.info.url}v1/conversations/m-chunked/messages`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: stream,
        duplex: "half"
      } as RequestInit)
      expect(chunked.status).toBe(413)
      expect(((await chunked.json()) as { error: { code: string } }).error.code).toBe("PayloadTooLarge")
    } finally {
      await gw.close()
    }
  }, 30_000)
})

describe("/metrics access", () => {
  it("gateway.metricsToken lets a scraper in without being a principal; other tokens still work; none is a 401", async () => {
    const { Redacted } = await import("effect")
    const gw = await start({ tokens: ["alice-0123456789"], metricsToken: Redacted.make("scrape-me-42") })
    try {
      const get = (token?: string) => fetch(`${gw.info.url}metrics`, token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } })
      expect((await get()).status).toBe(401)
      expect((await get("wrong")).status).toBe(401)
      expect((await get("scrape-me-42")).status).toBe(200)
      expect((await get("alice-0123456789")).status).toBe(200)
      // the metrics token is no principal: it opens nothing else
      expect((await fetch(`${gw.info.url}v1/conversations`, { headers: { authorization: "Bearer scrape-me-42" } })).status).toBe(401)
    } finally {
      await gw.close()
    }
  })

  it("without tokens (loopback only) /metrics and /v1/models are open", async () => {
    const gw = await start({})
    try {
      expect((await fetch(`${gw.info.url}metrics`)).status).toBe(200)
      expect((await fetch(`${gw.info.url}v1/models`)).status).toBe(200)
    } finally {
      await gw.close()
    }
  })
})
