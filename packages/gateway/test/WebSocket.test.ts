import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { connect, firehose, open, start, type Client, type Started } from "./support/harness.js"

const seqsOf = (events: Array<Record<string, any>>) => events.map((e) => e.seq as number)
/** Contiguous seqs: no gap, no duplicate, in order. */
const isRun = (events: Array<Record<string, any>>) => {
  const seqs = seqsOf(events)
  for (let i = 1; i < seqs.length; i++) if (seqs[i] !== seqs[i - 1]! + 1) return false
  return true
}
/** Strictly increasing seqs (drafts of runs that ended before they were read are compacted away). */
const isIncreasing = (events: Array<Record<string, any>>) => {
  const seqs = seqsOf(events)
  for (let i = 1; i < seqs.length; i++) if (seqs[i]! <= seqs[i - 1]!) return false
  return true
}

describe("WebSocket protocol", () => {
  let gw: Started
  const clients: Array<Client> = []
  const track = (c: Client) => {
    clients.push(c)
    return c
  }
  beforeAll(async () => {
    gw = await start({ limits: { messagesPerSecond: 20, burst: 20 } })
  })
  afterAll(async () => {
    for (const c of clients) c.close()
    await gw.close()
  })

  it("hello → welcome; send, subscribe and receive the whole run in seq order", async () => {
    const c = track(await connect(gw.info.wsUrl))
    const welcome = c.frames.find((f) => f.type === "welcome")!
    expect(welcome).toMatchObject({ protocol: 1, principal: "local", encoding: "json", compression: "none" })
    expect(welcome.model).toMatchObject({ name: "offline demo model", offline: true })
    const sent = await c.request({ type: "send", conversationId: "ws-1", text: "Hello there" })
    expect(sent.ok).toBe(true)
    const sub = await c.request({ type: "subscribe", conversationId: "ws-1", fromSeq: sent.result.seq - 1 })
    expect(sub.ok).toBe(true)
    await c.runEnded("ws-1")
    const events = c.events("ws-1")
    expect(events[0]).toMatchObject({ _tag: "UserMessage", text: "Hello there", seq: sent.result.seq })
    expect(events.map((e) => e._tag)).toContain("Final")
    expect(isIncreasing(events)).toBe(true)
    const history = await c.request({ type: "history", conversationId: "ws-1" })
    expect(history.result.map((m: any) => m.role)).toEqual(["user", "assistant"])
    const list = await c.request({ type: "list" })
    expect(list.result.map((s: any) => s.conversationId)).toContain("ws-1")
  })

  it("reconnect with the last seq: everything missed arrives exactly once", async () => {
    const a = track(await connect(gw.info.wsUrl))
    const sent = await a.request({ type: "send", conversationId: "ws-resume", text: "Tell me a long story please" })
    await a.request({ type: "subscribe", conversationId: "ws-resume", fromSeq: 0 })
    await a.until(() => a.events("ws-resume").length >= 4, 10_000, "a few events")
    a.close()
    const seen = a.events("ws-resume")
    const last = seen[seen.length - 1]!.seq
    const b = track(await connect(gw.info.wsUrl))
    await b.request({ type: "subscribe", conversationId: "ws-resume", fromSeq: last })
    await b.runEnded("ws-resume")
    const all = [...seen, ...b.events("ws-resume")]
    expect(all[0]!.seq).toBe(sent.result.seq)
    expect(isIncreasing(all)).toBe(true)
    // A fresh reader from 0 sees the same sequence (drafts of ended runs may be compacted).
    const fresh = track(await connect(gw.info.wsUrl))
    await fresh.request({ type: "subscribe", conversationId: "ws-resume", fromSeq: 0 })
    await fresh.runEnded("ws-resume")
    const ref = fresh.events("ws-resume").filter((e) => e._tag !== "Draft")
    expect(all.filter((e) => e._tag !== "Draft").map((e) => e.seq)).toEqual(ref.map((e) => e.seq))
  })

  it("bad JSON and invalid requests get error frames naming the problem; the connection stays up", async () => {
    const c = track(await connect(gw.info.wsUrl))
    c.sendRaw("{not json")
    await c.until(() => c.frames.find((f) => f.type === "error"))
    expect(c.frames.find((f) => f.type === "error")!.error.code).toBe("BadJson")
    c.sendRaw(JSON.stringify({ type: "send", id: 7, conversationId: "x" }))
    const res = await c.until(() => c.frames.find((f) => f.type === "res" && f.id === 7))
    expect(res.error).toMatchObject({ code: "BadFrame", message: "send.text: is missing" })
    c.sendRaw(JSON.stringify({ type: "launch", id: 8 }))
    const res8 = await c.until(() => c.frames.find((f) => f.type === "res" && f.id === 8))
    expect(res8.error.message).toContain('unknown frame type "launch"')
    const ping = await c.request({ type: "ping" })
    expect(ping.ok).toBe(true)
    expect(c.closed).toBeUndefined()
  })

  it("a request before hello closes with 4000; a wrong protocol version with 4005", async () => {
    const c = track(await open(gw.info.wsUrl))
    c.sendRaw(JSON.stringify({ type: "list", id: 1 }))
    await c.until(() => c.closed)
    expect(c.closed!.code).toBe(4000)
    const d = track(await open(gw.info.wsUrl))
    d.sendRaw(JSON.stringify({ type: "hello", protocol: 99 }))
    await d.until(() => d.closed)
    expect(d.closed).toMatchObject({ code: 4005 })
    expect(d.closed!.reason).toContain("unsupported protocol 99")
  })

  it("an oversized frame closes with 1009, and what was accepted before is kept", async () => {
    const small = await start({ limits: { maxFrameBytes: 4096 } })
    try {
      const c = await connect(small.info.wsUrl)
      const sent = await c.request({ type: "send", conversationId: "big", text: "first message" })
      expect(sent.ok).toBe(true)
      c.sendRaw(JSON.stringify({ type: "send", id: 99, conversationId: "big", text: "x".repeat(10_000) }))
      await c.until(() => c.closed)
      expect(c.closed!.code).toBe(1009)
      const d = await connect(small.info.wsUrl)
      const h = await d.request({ type: "history", conversationId: "big" })
      expect(h.result[0]).toMatchObject({ role: "user", text: "first message" })
      d.close()
    } finally {
      await small.close()
    }
  })

  it("rate limit: a burst past the limit gets RateLimited errors, the connection stays up", async () => {
    const c = track(await connect(gw.info.wsUrl))
    for (let i = 0; i < 40; i++) c.sendRaw(JSON.stringify({ type: "ping", id: `p${i}` }))
    await c.until(() => c.frames.filter((f) => f.type === "res").length >= 40)
    const limited = c.frames.filter((f) => f.type === "res" && !f.ok)
    expect(limited.length).toBeGreaterThan(0)
    expect(limited[0]!.error.code).toBe("RateLimited")
    expect(limited[0]!.error.retryAfterMs).toBeGreaterThan(0)
    expect(c.closed).toBeUndefined()
  })

  it("MessagePack: chosen in hello, every server frame is binary MessagePack", async () => {
    const c = track(await connect(gw.info.wsUrl, { encoding: "msgpack" }))
    expect(c.frames[0]).toMatchObject({ type: "welcome", encoding: "msgpack" })
    const sent = await c.request({ type: "send", conversationId: "mp", text: "hi" })
    await c.request({ type: "subscribe", conversationId: "mp", fromSeq: sent.result.seq - 1 })
    await c.runEnded("mp")
    expect(isIncreasing(c.events("mp"))).toBe(true)
  })

  it("permessage-deflate only when asked for at upgrade", async () => {
    const plain = track(await connect(gw.info.wsUrl, {}, { perMessageDeflate: true }))
    expect(plain.frames[0]!.compression).toBe("none")
    const z = track(await connect(`${gw.info.wsUrl}?compression=permessage-deflate`, {}, { perMessageDeflate: true }))
    expect(z.frames[0]!.compression).toBe("permessage-deflate")
    const r = await z.request({ type: "ping" })
    expect(r.ok).toBe(true)
  })
})

describe("WebSocket backpressure and liveness", () => {
  // 4000 deltas of 2000 chars: ~16 MB of Drafts and Blocks, more than the loopback socket buffers
  // (up to ~4 MB send + receive here) can hide from the server's bufferedAmount.
  it("a client that falls behind gets batch frames with every event once, in order", async () => {
    const gw = await start({ model: firehose(4000, 2000), limits: { sendHighWaterBytes: 16 * 1024, maxPendingBytes: 1 << 30 } })
    try {
      const c = await connect(gw.info.wsUrl)
      const first = await c.request({ type: "send", conversationId: "behind", text: "warm up" })
      await c.request({ type: "subscribe", conversationId: "behind", fromSeq: first.result.seq - 1 })
      await c.runEnded("behind")
      const before = c.frames.length
      ;(c.ws as any)._socket.pause()
      const other = await connect(gw.info.wsUrl)
      await other.request({ type: "send", conversationId: "behind", text: "again" })
      await new Promise((r) => setTimeout(r, 1500))
      ;(c.ws as any)._socket.resume()
      await c.until(() => c.events("behind").filter((e) => e._tag === "RunEnded").length === 2, 15_000, "second run")
      expect(c.frames.slice(before).some((f) => f.type === "batch")).toBe(true)
      const events = c.events("behind")
      expect(isIncreasing(events)).toBe(true)
      expect(events[0]!.seq).toBe(first.result.seq)
      // The second run was live: every one of its events, none twice, none missing.
      const second = events.slice(events.findIndex((e) => e._tag === "RunEnded") + 1)
      expect(second[0]!._tag).toBe("UserMessage")
      expect(isRun(second)).toBe(true)
      other.close()
      c.close()
    } finally {
      await gw.close()
    }
  }, 20_000)

  it("a client that cannot keep up is closed with 4008 instead of growing memory", async () => {
    const gw = await start({
      model: firehose(4000, 2000),
      limits: { sendHighWaterBytes: 16 * 1024, maxPendingBytes: 64 * 1024, slowConsumerMs: 1_000 }
    })
    try {
      const c = await connect(gw.info.wsUrl)
      const first = await c.request({ type: "send", conversationId: "stuck", text: "warm up" })
      await c.request({ type: "subscribe", conversationId: "stuck", fromSeq: first.result.seq - 1 })
      await c.runEnded("stuck")
      // stop reading: kernel buffers fill, then the server's. (The warm-up reply is short: a long one
      // would let the kernel grow the receive buffer — up to 32 MB here — past what the run sends.)
      ;(c.ws as any)._socket.pause()
      const other = await connect(gw.info.wsUrl)
      await other.request({ type: "send", conversationId: "stuck", text: "now stream a lot" })
      const waitClosed = new Promise<void>((resolve) => {
        const t = setInterval(() => {
          if (gw.info.connections() === 1) {
            clearInterval(t)
            resolve()
          }
        }, 20)
      })
      await waitClosed
      ;(c.ws as any)._socket.resume()
      await c.until(() => c.closed, 5000, "close")
      expect(c.closed!.code).toBe(4008)
      expect(c.closed!.reason).toContain("too slow")
      other.close()
    } finally {
      await gw.close()
    }
  }, 45_000) // 16 MB through a paused socket: slow when the 2 cores are shared

  it("heartbeat: a peer that stops answering pings is closed", async () => {
    const gw = await start({ heartbeatMs: 100 })
    try {
      const c = await connect(gw.info.wsUrl)
      expect(gw.info.connections()).toBe(1)
      ;(c.ws as any)._socket.pause() // no pongs from here on
      const t0 = Date.now()
      while (gw.info.connections() > 0 && Date.now() - t0 < 3000) await new Promise((r) => setTimeout(r, 20))
      expect(gw.info.connections()).toBe(0)
      c.close()
    } finally {
      await gw.close()
    }
  })
})
