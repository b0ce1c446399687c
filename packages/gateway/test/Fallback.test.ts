/** Every request gets a JSON answer: unknown paths 404, known paths with another method 405 + Allow. */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ROUTES } from "../src/internal/fallback.js"
import { type Started, start } from "./support/harness.js"

let gw: Started
beforeAll(async () => {
  gw = await start({ tokensPerSecond: 0, words: 5 })
})
afterAll(() => gw.close())

const call = async (method: string, path: string) => {
  const res = await fetch(`${gw.info.url}${path.slice(1)}`, { method, ...(method === "GET" || method === "HEAD" ? {} : { body: "{}", headers: { "content-type": "application/json" } }) })
  const text = await res.text()
  return { status: res.status, allow: res.headers.get("allow"), type: res.headers.get("content-type") ?? "", text }
}

describe("unrouted requests", () => {
  it("an unknown path is a JSON 404; a known path with another method a JSON 405 naming the allowed ones", async () => {
    const nope = await call("GET", "/nope")
    expect(nope.status).toBe(404)
    expect(nope.type).toContain("application/json")
    expect(JSON.parse(nope.text)).toEqual({ error: { code: "NotFound", message: "no route for GET /nope" } })
    const wrong = await call("GET", "/v1/chat/completions")
    expect(wrong.status).toBe(405)
    expect(wrong.allow).toBe("POST")
    expect(JSON.parse(wrong.text).error.code).toBe("MethodNotAllowed")
    const del = await call("DELETE", "/v1/conversations/a/messages")
    expect(del.status).toBe(405)
    expect(del.allow).toBe("GET, POST, HEAD")
  })

  it("the fallback's route table is what the gateway really serves (no route it lists falls through)", async () => {
    for (const [methods, pattern] of ROUTES) {
      for (const method of methods.split(" ")) {
        const path = pattern.replace(/:[A-Za-z]+/g, "x")
        if (path === "/ws" || path.startsWith("/webhooks/")) continue // the upgrade is handled before the router; webhooks mount with channels (Webhooks.test.ts)
        const r = await call(method, path)
        expect(r.status === 405 || r.text.includes("no route for"), `${method} ${path} → ${r.status} ${r.text.slice(0, 80)}`).toBe(false)
      }
    }
  })
})

describe("HEAD", () => {
  it("a HEAD of a GET route is answered by it; of an unknown path a 404", async () => {
    expect((await call("HEAD", "/healthz")).status).toBe(200)
    expect((await call("HEAD", "/nope")).status).toBe(404)
  })
})

describe("SSE resume cursor", () => {
  it("Last-Event-ID must be a whole number: 12abc and -1 are 400s naming the header", async () => {
    const sent = await fetch(`${gw.info.url}v1/conversations/cur/messages`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ text: "hi" }) })
    expect(sent.status).toBe(202)
    for (const bad of ["12abc", "-1", "1.5", "abc"]) {
      const res = await fetch(`${gw.info.url}v1/conversations/cur/events`, { headers: { "last-event-id": bad } })
      expect(res.status, bad).toBe(400)
      expect(((await res.json()) as { error: { message: string } }).error.message).toContain("Last-Event-ID")
    }
  })
})

describe("conversation ids", () => {
  it("an id over 200 characters gets the same error over REST as over the WebSocket, without echoing it", async () => {
    const long = "x".repeat(250)
    const rest = await fetch(`${gw.info.url}v1/conversations/${long}/messages`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ text: "hi" }) })
    expect(rest.status).toBe(400)
    const restMessage = ((await rest.json()) as { error: { message: string } }).error.message
    expect(restMessage).toBe("conversationId: must be 1–200 characters (got 250)")
    const { connect } = await import("./support/harness.js")
    const ws = await connect(gw.info.wsUrl)
    const res = await ws.request({ type: "send", conversationId: long, text: "hi" })
    ws.close()
    expect(res.ok).toBe(false)
    expect(res.error.message).toBe("send.conversationId: must be 1–200 characters (got 250)")
    expect(JSON.stringify(res)).not.toContain(long)
  })
})
