import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import OpenAI from "openai"
import { Effect } from "effect"
import { Auth } from "../src/index.js"
import { connect, start, type Started } from "./support/harness.js"

const ALICE = "alice-token-0123456789"
const BOB = "bob-token-9876543210"

/** Reads an SSE response into events until `stop` says so (or the body ends). */
const readSse = async (res: Response, stop: (events: Array<{ id?: string; event?: string; data: string }>) => boolean) => {
  const reader = res.body!.getReader()
  const decoder = new TextDecoder()
  let buf = ""
  const events: Array<{ id?: string; event?: string; data: string }> = []
  const comments: Array<string> = []
  while (!stop(events)) {
    const { value, done } = await reader.read()
    if (done) break
    buf += decoder.decode(value, { stream: true })
    let i: number
    // biome-ignore lint/suspicious/noAssignInExpressions: the usual SSE frame-splitting loop
    while ((i = buf.indexOf("\n\n")) >= 0) {
      const raw = buf.slice(0, i)
      buf = buf.slice(i + 2)
      const ev: { id?: string; event?: string; data: string } = { data: "" }
      let has = false
      for (const line of raw.split("\n")) {
        if (line.startsWith(":")) comments.push(line)
        else if (line.startsWith("id: ")) ev.id = line.slice(4)
        else if (line.startsWith("event: ")) ev.event = line.slice(7)
        else if (line.startsWith("data: ")) {
          ev.data += line.slice(6)
          has = true
        }
      }
      if (has) events.push(ev)
    }
  }
  await reader.cancel()
  return { events, comments }
}

const auth = (token: string) => ({ authorization: `Bearer ${token}`, "content-type": "application/json" })

describe("limits", () => {
  it("limits: body size → 413, concurrent runs per principal → 429 TooManyRuns", async () => {
    const small = await start({ tokens: [BOB], tokensPerSecond: 50, limits: { maxBodyBytes: 2048, maxRunsPerPrincipal: 1 } })
    const url = (p: string) => `${small.info.url}${p.replace(/^\//, "")}`
    try {
    const big = await fetch(url("/v1/conversations/big/messages"), {
      method: "POST",
      headers: auth(BOB),
      body: JSON.stringify({ text: "x".repeat(5000) })
    })
    expect(big.status).toBe(413)
    expect((await big.json()).error.code).toBe("PayloadTooLarge")
    const bad = await fetch(url("/v1/conversations/b1/messages"), { method: "POST", headers: auth(BOB), body: "{}" })
    expect(bad.status).toBe(400)
    expect((await bad.json()).error.message).toContain("text")
    const one = await fetch(url("/v1/conversations/b1/messages"), {
      method: "POST",
      headers: auth(BOB),
      body: JSON.stringify({ text: "first run, a long one please" })
    })
    expect(one.status).toBe(202)
    const two = await fetch(url("/v1/conversations/b2/messages"), {
      method: "POST",
      headers: auth(BOB),
      body: JSON.stringify({ text: "second run" })
    })
    expect(two.status).toBe(429)
    expect((await two.json()).error.code).toBe("TooManyRuns")
    await fetch(url("/v1/conversations/b1/stop"), { method: "POST", headers: auth(BOB) })
    } finally {
      await small.close()
    }
  })

})

describe("HTTP, SSE and the OpenAI-compatible endpoint", () => {
  let gw: Started
  const url = (p: string) => `${gw.info.url}${p.replace(/^\//, "")}`
  beforeAll(async () => {
    gw = await start({
      tokens: [ALICE, { token: BOB, principal: "bob" }],
      sseHeartbeatMs: 200,
      limits: { maxBodyBytes: 2048 }
    })
  })
  afterAll(async () => {
    await gw.close()
  })

  it("REST: send, read history, list; SSE resumes from Last-Event-ID with heartbeat comments", async () => {
    const sent = await fetch(url("/v1/conversations/h1/messages"), {
      method: "POST",
      headers: auth(ALICE),
      body: JSON.stringify({ text: "Hello over HTTP" })
    })
    expect(sent.status).toBe(202)
    const accepted = await sent.json()
    const sse = await fetch(url("/v1/conversations/h1/events"), { headers: auth(ALICE) })
    expect(sse.headers.get("content-type")).toContain("text/event-stream")
    const first = await readSse(sse, (evs) => evs.some((e) => e.event === "RunEnded"))

    expect(first.events[0]).toMatchObject({ id: String(accepted.seq), event: "UserMessage" })
    // Resume from the middle: exactly the events after it.
    const middle = first.events[Math.floor(first.events.length / 2)]!
    const again = await fetch(url("/v1/conversations/h1/events"), { headers: { ...auth(ALICE), "last-event-id": middle.id! } })
    const rest = await readSse(again, (evs) => evs.some((e) => e.event === "RunEnded"))
    // Everything after the cursor, once (drafts of the ended run are compacted away on replay).
    const after = (evs: typeof first.events) => evs.filter((e) => Number(e.id) > Number(middle.id) && e.event !== "Draft").map((e) => e.id)
    expect(after(rest.events)).toEqual(after(first.events))
    const ids = rest.events.map((e) => Number(e.id))

    expect(new Set(ids).size).toBe(ids.length)
    // Heartbeat comments arrive on an idle stream.
    const idle = await fetch(url(`/v1/conversations/h1/events?fromSeq=${ids[ids.length - 1]}`), { headers: auth(ALICE) })
    const t0 = Date.now()
    const beat = await readSse(idle, () => Date.now() - t0 > 700)
    expect(beat.comments).toContain(": ping")
    const history = await (await fetch(url("/v1/conversations/h1/messages"), { headers: auth(ALICE) })).json()
    expect(history.messages.map((m: any) => m.role)).toEqual(["user", "assistant"])
    const list = await (await fetch(url("/v1/conversations"), { headers: auth(ALICE) })).json()
    expect(list.conversations.map((c: any) => c.conversationId)).toContain("h1")
  })

  it("ids are per principal: another's conversation cannot be read, subscribed to, stopped or taken, by HTTP, SSE or WS", async () => {
    const sent = await fetch(url("/v1/conversations/alice-only/messages"), {
      method: "POST",
      headers: auth(ALICE),
      body: JSON.stringify({ text: "secret" })
    })
    expect((await sent.json()).conversationId).toBe("alice-only") // the id as the client gave it
    // For bob, "alice-only" is a conversation of his own, which does not exist yet.
    const read = await fetch(url("/v1/conversations/alice-only/messages"), { headers: auth(BOB) })
    expect(read.status).toBe(404)
    expect((await read.json()).error.code).toBe("NotFound")
    expect((await fetch(url("/v1/conversations/alice-only/stop"), { method: "POST", headers: auth(BOB) })).status).toBe(404)
    expect((await fetch(url("/v1/conversations/alice-only/events?token=" + BOB))).status).toBe(404)
    const ws = await connect(gw.info.wsUrl, { token: BOB })
    expect(ws.frames[0]).toMatchObject({ type: "welcome", principal: "bob" })
    for (const type of ["subscribe", "history", "stop"]) {
      const res = await ws.request({ type, conversationId: "alice-only" })
      expect(res.error.code).toBe("NotFound")
    }
    // The name is not taken from bob: he gets his own conversation under it, and alice's is untouched.
    const bobs = await ws.request({ type: "send", conversationId: "alice-only", text: "mine now?" })
    expect(bobs.result.conversationId).toBe("alice-only")
    await ws.request({ type: "subscribe", conversationId: "alice-only", fromSeq: 0 })
    await ws.runEnded("alice-only")
    const seen = ws.events("alice-only")
    expect(seen.every((e) => e.conversationId === "alice-only")).toBe(true) // his id, not the store's
    expect(JSON.stringify(seen)).not.toContain("secret")
    ws.close()
    const alices = (await (await fetch(url("/v1/conversations/alice-only/messages"), { headers: auth(ALICE) })).json()).messages
    expect(alices.filter((m: any) => m.role === "user").map((m: any) => m.text)).toEqual(["secret"])
    const bobList = (await (await fetch(url("/v1/conversations"), { headers: auth(BOB) })).json()).conversations
    expect(bobList.map((c: any) => c.conversationId)).toEqual(["alice-only"])
    // A conversation alice made before ids were scoped (plain id in the store) is still hers, by that id.
    await Effect.runPromise(gw.conversations.send("from-before", "old times", { owner: Auth.principalOf(ALICE) }))
    const old = await (await fetch(url("/v1/conversations/from-before/messages"), { headers: auth(ALICE) })).json()
    expect(old.messages?.[0]?.text, JSON.stringify(old)).toBe("old times")
    const aliceList = (await (await fetch(url("/v1/conversations"), { headers: auth(ALICE) })).json()).conversations
    expect(aliceList.map((c: any) => c.conversationId)).toEqual(expect.arrayContaining(["alice-only", "from-before"]))
    expect((await fetch(url("/v1/conversations/from-before/messages"), { headers: auth(BOB) })).status).toBe(404)
    // Ids starting with @ are the store's own: refused.
    const reserved = await fetch(url(`/v1/conversations/${encodeURIComponent("@alice/alice-only")}/messages`), { headers: auth(BOB) })
    expect(reserved.status).toBe(400)
    expect((await reserved.json()).error.message).toMatch(/must not start with @/)
    const noToken = await fetch(url("/v1/conversations"))
    expect(noToken.status).toBe(401)
    const badWs = await connect(gw.info.wsUrl, { token: "wrong" })
    expect(badWs.closed?.code).toBe(4001)
  })

  it("OpenAI client: non-streaming and streaming chat completions", async () => {
    const client = new OpenAI({ apiKey: ALICE, baseURL: `${gw.info.url}v1`, maxRetries: 0 })
    const done = await client.chat.completions.create({ model: "sluice", messages: [{ role: "user", content: "Say hello" }] })
    expect(done.object).toBe("chat.completion")
    expect(done.choices[0]!.message.content!.length).toBeGreaterThan(20)
    const stream = await client.chat.completions.create({
      model: "sluice",
      stream: true,
      messages: [{ role: "user", content: "Say hello again" }]
    })
    let text = ""
    let finish: string | null = null
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? ""
      finish = chunk.choices[0]?.finish_reason ?? finish
    }
    expect(text.length).toBeGreaterThan(20)
    expect(finish).toBe("stop")
    const bad = await new OpenAI({ apiKey: "nope", baseURL: `${gw.info.url}v1`, maxRetries: 0 }).chat.completions
      .create({ model: "sluice", messages: [{ role: "user", content: "x" }] })
      .catch((e) => e)
    expect(bad.status).toBe(401)
  }, 40_000)

  it("health, readiness and Prometheus metrics", async () => {
    expect((await fetch(url("/healthz"))).status).toBe(200)
    expect(await (await fetch(url("/readyz"))).json()).toEqual({ ready: true })
    // With tokens configured, /metrics needs one (a principal's, or gateway.metricsToken)
    expect((await fetch(url("/metrics"))).status).toBe(401)
    expect((await fetch(url("/v1/models"))).status).toBe(401)
    const text = await (await fetch(url("/metrics"), { headers: { authorization: `Bearer ${ALICE}` } })).text()
    expect(text).toContain("# TYPE sluice_runs_started_total counter")
    expect(text).toMatch(/sluice_active_connections\{transport="(ws|sse)"\} \d+/)
    expect(text).toContain("sluice_time_to_first_block_seconds_bucket")
    expect(text).toMatch(/sluice_errors_total\{tag="NotFound"\} [1-9]/)
    // The process's own, as Prometheus' Node client names them: memory, heap, descriptors, live timers and sockets
    const value = (re: RegExp) => Number(re.exec(text)?.[1])
    expect(value(/^process_resident_memory_bytes (\d+)$/m)).toBeGreaterThan(10_000_000)
    expect(value(/^nodejs_heap_size_used_bytes (\d+)$/m)).toBeGreaterThan(1_000_000)
    expect(value(/^process_open_fds (\d+)$/m)).toBeGreaterThan(3)
    expect(value(/^nodejs_active_resources\{type="TCPServerWrap"\} (\d+)$/m)).toBeGreaterThanOrEqual(1)
  })
})
