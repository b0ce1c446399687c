/**
 * Model layer numbers.
 * - Anthropic adapter vs the raw SDK stream, both against the fake server on loopback: a long text
 *   answer of N small deltas. events/s for each, and the adapter's added cost per event
 *   ((adapter − raw) / events). Median of 5 runs after a warm-up.
 * - Interrupt → the fake server sees the connection close (ms), 20 samples.
 * - The scripted offline model with the rate unlimited: raw events/s.
 * - The reasoning planner: µs per plan.
 */
import Anthropic from "@anthropic-ai/sdk"
import { Effect, Fiber, Stream } from "effect"
import { performance } from "node:perf_hooks"
import { Model, Reasoning } from "../packages/core/src/index.js"
import * as AnthropicModel from "../packages/core/src/anthropic/AnthropicModel.js"
import * as FakeAnthropic from "../packages/core/fakes/FakeAnthropic.js"

const median = (xs: Array<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const max = (xs: Array<number>) => Math.max(...xs)
const request: Model.ModelRequest = { messages: [{ role: "user", content: "go" }], maxTokens: 100_000 }

export default async () => {
  const server = await FakeAnthropic.start()
  try {
    const N = 20_000
    const client = new Anthropic({ apiKey: "sk-bench", baseURL: server.url, maxRetries: 0, logLevel: "off" })
    const adapter = AnthropicModel.make({ apiKey: "sk-bench", baseURL: server.url })

    const raw = async () => {
      server.enqueue(FakeAnthropic.longText(N))
      const t0 = performance.now()
      const s = await client.messages.create({ model: "claude-sonnet-5-5", max_tokens: 100_000, stream: true, messages: [{ role: "user", content: "go" }] })
      let n = 0
      for await (const _ of s) n++
      return { ms: performance.now() - t0, n }
    }
    const viaAdapter = async () => {
      server.enqueue(FakeAnthropic.longText(N))
      const t0 = performance.now()
      const n = await Effect.runPromise(Stream.runCount(adapter.stream(request)))
      return { ms: performance.now() - t0, n }
    }
    for (let i = 0; i < 2; i++) {
      await raw()
      await viaAdapter()
    }
    const raws: Array<number> = []
    const ads: Array<number> = []
    let rawN = 0
    let adN = 0
    for (let i = 0; i < 5; i++) {
      const r = await raw()
      const a = await viaAdapter()
      raws.push(r.ms)
      ads.push(a.ms)
      rawN = r.n
      adN = a.n
    }
    const rMs = median(raws)
    const aMs = median(ads)
    console.log(`Anthropic stream, ${N} text deltas of "tok ", loopback fake server (median of 5):`)
    console.table([
      { path: "raw SDK for-await", events: rawN, ms: +rMs.toFixed(1), "events/s": Math.round(rawN / (rMs / 1000)) },
      { path: "Model.makeAnthropic stream", events: adN, ms: +aMs.toFixed(1), "events/s": Math.round(adN / (aMs / 1000)) }
    ])
    console.log(`adapter overhead per raw event: ${(((aMs - rMs) / rawN) * 1000).toFixed(2)} µs`)

    // interrupt latency
    const samples: Array<number> = []
    for (let i = 0; i < 20; i++) {
      server.enqueue(FakeAnthropic.text(Array.from({ length: 500 }, () => "slow "), { deltaDelayMs: 10 }))
      const before = server.requests.length
      const closedMs = await Effect.runPromise(
        Effect.gen(function*() {
          const started = yield* Effect.makeLatch(false)
          const fiber = yield* adapter.stream(request).pipe(
            Stream.tap((e) => (e._tag === "TextDelta" ? started.open : Effect.void)),
            Stream.runDrain,
            Effect.fork
          )
          yield* started.await
          const t0 = performance.now()
          yield* Fiber.interrupt(fiber)
          const closedAt = yield* Effect.promise(() => server.whenClosed(server.requests[before]!))
          return closedAt - t0
        })
      )
      samples.push(closedMs)
    }
    console.log(
      `interrupt → fake server sees the connection close: median ${median(samples).toFixed(2)} ms, max ${max(samples).toFixed(2)} ms (20 samples)`
    )
  } finally {
    await server.close()
  }

  // scripted model, unlimited rate
  const scripted = Model.makeScripted({ tokensPerSecond: 0, words: 200_000 })
  await Effect.runPromise(Stream.runCount(scripted.stream({ messages: [{ role: "user", content: "warm" }] })))
  const ts: Array<{ ms: number; n: number }> = []
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now()
    const n = await Effect.runPromise(Stream.runCount(scripted.stream({ messages: [{ role: "user", content: `load ${i}` }] })))
    ts.push({ ms: performance.now() - t0, n })
  }
  const sMs = median(ts.map((t) => t.ms))
  const sN = ts[0]!.n
  console.log(`scripted model, ~200k words, rate unlimited: ${sN} events in ${sMs.toFixed(1)} ms → ${Math.round(sN / (sMs / 1000))} events/s (incl. composing)`)

  // planner
  const short = "What time is it in Tokyo?"
  const long = "Please review this design, because the system fails when `x == y`; ".repeat(30)
  for (const [name, msg] of [["short (5 words)", short], ["long (300 words)", long]] as const) {
    for (let i = 0; i < 2000; i++) Reasoning.plan(msg)
    const t0 = performance.now()
    for (let i = 0; i < 20_000; i++) Reasoning.plan(msg)
    console.log(`Reasoning.plan ${name}: ${(((performance.now() - t0) / 20_000) * 1000).toFixed(1)} µs/plan`)
  }
}
