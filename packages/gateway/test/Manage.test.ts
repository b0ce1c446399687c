import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { connect, start, type Started } from "./support/harness.js"

const ALICE = "alice-token-0123456789"
const BOB = "bob-token-9876543210"
const auth = (token: string) => ({ authorization: `Bearer ${token}`, "content-type": "application/json" })

let gw: Started
const url = (p: string) => `${gw.info.url}${p.replace(/^\//, "")}`
const wsUrl = () => gw.info.wsUrl

beforeAll(async () => {
  // Slow enough that a run is surely still going right after its send is answered (~0.5 s per reply).
  gw = await start({ tokens: [ALICE, BOB], tokensPerSecond: 100, words: 50 })
})
afterAll(() => gw.close())

describe("managing conversations", () => {
  it("WS: update (title, system prompt, model) is validated and shows in list and welcome; the reply names the model that wrote it", async () => {
    const c = await connect(wsUrl(), { token: ALICE })
    try {
      const welcome = c.frames.find((f) => f.type === "welcome")!
      expect(welcome.model.choices).toEqual(["claude-haiku-4-5", "claude-sonnet-5-5", "claude-opus-5-5"])
      expect((await c.request({ type: "send", conversationId: "m1", text: "hello there" })).ok).toBe(true)
      await c.request({ type: "subscribe", conversationId: "m1" })
      await c.runEnded("m1")
      const bad = await c.request({ type: "update", conversationId: "m1", model: "gpt-4o" })
      expect(bad.error).toMatchObject({ code: "BadFrame" })
      expect(bad.error.message).toContain("model: must be one of \"claude-haiku-4-5\"")
      const ok = await c.request({ type: "update", conversationId: "m1", title: "Greetings", system: "Be brief.", model: "claude-opus-5-5" })
      expect(ok.result).toMatchObject({ conversationId: "m1", title: "Greetings", system: "Be brief.", model: "claude-opus-5-5" })
      const list = await c.request({ type: "list" })
      expect(list.result.find((x: { conversationId: string }) => x.conversationId === "m1")).toMatchObject({ title: "Greetings" })
      const final = c.events("m1").find((e) => e._tag === "Final")
      // The offline model answered, and says so; it is not the level's Claude model.
      expect(final!.model).toBe("offline-demo-model")
      // Someone else's conversation (ids are per principal: bob has no m1), or one that does not exist.
      const b = await connect(wsUrl(), { token: BOB })
      expect((await b.request({ type: "update", conversationId: "m1", title: "mine" })).error.code).toBe("NotFound")
      expect((await b.request({ type: "update", conversationId: "nope", title: "x" })).error.code).toBe("NotFound")
      b.close()
    } finally {
      c.close()
    }
  })

  it("WS: regenerate supersedes the last reply (Rewound), edit replaces a message; both refused while a run is going", async () => {
    const c = await connect(wsUrl(), { token: ALICE })
    try {
      const sent = await c.request({ type: "send", conversationId: "m2", text: "tell me about rivers" })
      await c.request({ type: "subscribe", conversationId: "m2" })
      const busy = await c.request({ type: "regenerate", conversationId: "m2" })
      expect(busy.error?.code).toBe("Conflict")
      await c.runEnded("m2")
      const firstStart = c.events("m2").find((e) => e._tag === "RunStarted")
      const regen = await c.request({ type: "regenerate", conversationId: "m2" })
      expect(regen.ok).toBe(true)
      await c.until(() => c.events("m2").filter((e) => e._tag === "RunEnded").length === 2, 15_000, "second run")
      expect(c.events("m2").find((e) => e._tag === "Rewound")).toMatchObject({ fromSeq: firstStart!.seq, runId: regen.result.runId })
      const history = (await c.request({ type: "history", conversationId: "m2" })).result
      expect(history.map((m: { role: string }) => m.role)).toEqual(["user", "assistant"])
      expect(history[1].runId).toBe(regen.result.runId)

      const edited = await c.request({ type: "edit", conversationId: "m2", messageId: sent.result.messageId, text: "tell me about lakes" })
      expect(edited.ok).toBe(true)
      await c.until(() => c.events("m2").filter((e) => e._tag === "RunEnded").length === 3, 15_000, "third run")
      const after = (await c.request({ type: "history", conversationId: "m2" })).result
      expect(after.map((m: { text: string }) => m.text)[0]).toBe("tell me about lakes")
      expect(after).toHaveLength(2)
      const wrong = await c.request({ type: "edit", conversationId: "m2", messageId: "no-such-id", text: "x" })
      expect(wrong.error).toMatchObject({ code: "NotFound" })
    } finally {
      c.close()
    }
  })

  it("WS: delete stops the run, tells every subscribed client, frees the run slot and the id", async () => {
    const c = await connect(wsUrl(), { token: ALICE })
    const other = await connect(wsUrl(), { token: ALICE })
    try {
      await c.request({ type: "send", conversationId: "m3", text: "write a long essay on the sea" })
      await c.request({ type: "subscribe", conversationId: "m3" })
      await c.request({ type: "send", conversationId: "m3", text: "and then one on lakes" }) // queued: it never runs
      await other.request({ type: "subscribe", conversationId: "m3" })
      await c.until(() => c.events("m3").some((e) => e._tag === "Draft"), 10_000, "first draft")
      const deleted = await c.request({ type: "delete", conversationId: "m3" })
      expect(deleted.result).toEqual({ deleted: true })
      await other.until(() => other.frames.find((f) => f.type === "ended" && f.conversationId === "m3"), 5000, "ended frame")
      expect(c.events("m3").at(-1)).toMatchObject({ _tag: "RunEnded", reason: "stopped" })
      expect((await c.request({ type: "history", conversationId: "m3" })).error.code).toBe("NotFound")
      expect((await c.request({ type: "list" })).result.some((x: { conversationId: string }) => x.conversationId === "m3")).toBe(false)
      const metrics = await (await fetch(`${gw.info.url}metrics`, { headers: { authorization: `Bearer ${ALICE}` } })).text()
      expect(metrics).toMatch(/^sluice_active_runs(\{[^}]*\})? 0$/m)
      // Bob may now use the id; Alice's old subscription hears none of it.
      const b = await connect(wsUrl(), { token: BOB })
      const before = other.events("m3").length
      expect((await b.request({ type: "send", conversationId: "m3", text: "bob here" })).ok).toBe(true)
      await b.request({ type: "subscribe", conversationId: "m3" })
      await b.runEnded("m3")
      expect(other.events("m3")).toHaveLength(before)
      b.close()
    } finally {
      c.close()
      other.close()
    }
  })

  it("HTTP: PATCH, PUT (edit), regenerate, export as Markdown and JSON, DELETE — owner-checked, clear errors", async () => {
    const post = await fetch(url("/v1/conversations/h1/messages"), { method: "POST", headers: auth(ALICE), body: JSON.stringify({ text: "a question" }) })
    expect(post.status).toBe(202)
    const accepted = await post.json()
    const waitIdle = async () => {
      for (let i = 0; i < 200; i++) {
        const list = await (await fetch(url("/v1/conversations"), { headers: auth(ALICE) })).json()
        if (!list.conversations.find((x: { conversationId: string }) => x.conversationId === "h1")?.running) return
        await new Promise((r) => setTimeout(r, 50))
      }
      throw new Error("still running")
    }
    await waitIdle()

    const patch = await fetch(url("/v1/conversations/h1"), { method: "PATCH", headers: auth(ALICE), body: JSON.stringify({ title: "Exported chat" }) })
    expect(patch.status).toBe(200)
    expect(await patch.json()).toMatchObject({ title: "Exported chat" })
    const badPatch = await fetch(url("/v1/conversations/h1"), { method: "PATCH", headers: auth(ALICE), body: JSON.stringify({ title: 5 }) })
    expect(badPatch.status).toBe(400)
    expect((await badPatch.json()).error.message).toContain("title")
    // bob has no h1 (ids are per principal): nothing of alice's can be deleted by him
    const notHis = await fetch(url("/v1/conversations/h1"), { method: "DELETE", headers: auth(BOB) })
    expect(notHis.status).toBe(404)

    const put = await fetch(url(`/v1/conversations/h1/messages/${accepted.messageId}`), {
      method: "PUT",
      headers: auth(ALICE),
      body: JSON.stringify({ text: "a better question" })
    })
    expect(put.status).toBe(202)
    await waitIdle()
    const regen = await fetch(url("/v1/conversations/h1/regenerate"), { method: "POST", headers: auth(ALICE) })
    expect(regen.status).toBe(202)
    await waitIdle()

    const md = await fetch(url("/v1/conversations/h1/export?format=markdown"), { headers: auth(ALICE) })
    expect(md.status).toBe(200)
    expect(md.headers.get("content-type")).toContain("text/markdown")
    expect(md.headers.get("content-disposition")).toContain('filename="Exported-chat.md"')
    const text = await md.text()
    expect(text.startsWith("# Exported chat\n")).toBe(true)
    expect(text).toContain("## You\n\na better question\n")
    expect(text).not.toContain("a question\n")
    expect(text.match(/## Assistant/g)).toHaveLength(1)
    const js = await (await fetch(url("/v1/conversations/h1/export?format=json"), { headers: auth(ALICE) })).json()
    expect(js).toMatchObject({ conversationId: "h1", title: "Exported chat" })
    expect(js.messages.map((m: { role: string }) => m.role)).toEqual(["user", "assistant"])
    const badFormat = await fetch(url("/v1/conversations/h1/export?format=pdf"), { headers: auth(ALICE) })
    expect(badFormat.status).toBe(400)
    expect((await badFormat.json()).error.message).toContain('format: must be "markdown" or "json"')

    const del = await fetch(url("/v1/conversations/h1"), { method: "DELETE", headers: auth(ALICE) })
    expect(await del.json()).toEqual({ deleted: true })
    const gone = await fetch(url("/v1/conversations/h1/messages"), { headers: auth(ALICE) })
    expect(gone.status).toBe(404)
  })
})
