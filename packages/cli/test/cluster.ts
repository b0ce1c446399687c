/**
 * What the cluster tests share: a fresh database on the machine's PostgreSQL (dropped after),
 * gateway runners started as users start them (`sluice gateway --cluster …`), and an SSE reader.
 * PostgreSQL: see `@sluice/core/fakes/postgres`.
 */
import { spawn } from "node:child_process"
import { createServer } from "node:net"
import { bin, cleanEnv } from "./run.js"

export { database, pgUnavailable } from "@sluice/core/fakes/postgres"

/** A port nobody listens on right now. */
export const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const s = createServer()
    s.once("error", reject)
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port
      s.close(() => resolve(port))
    })
  })

export interface Runner {
  readonly base: string
  readonly runnerPort: number
  readonly out: () => string
  readonly kill: (signal: NodeJS.Signals) => Promise<number | null>
}

/** `sluice gateway --cluster` on its own ports, resolved once it serves. */
export const runner = async (databaseUrl: string, config: string, dataDir: string, runnerPort?: number): Promise<Runner> => {
  const port = runnerPort ?? (await freePort())
  const child = spawn(
    process.execPath,
    [bin, "gateway", "--cluster", "--database-url", databaseUrl, "--runner-port", String(port), "--port", "0", "--data-dir", dataDir],
    { env: cleanEnv({ SLUICE_CONFIG: config }), stdio: ["ignore", "pipe", "pipe"] }
  )
  let out = ""
  child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d))
  child.stderr.setEncoding("utf8").on("data", (d: string) => (out += d))
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)))
  const t0 = Date.now()
  while (!/web chat: http:\/\/[^\s/]+/.test(out)) {
    if (child.exitCode !== null || Date.now() - t0 > 60_000) throw new Error(`runner did not start: ${out}`)
    await new Promise((r) => setTimeout(r, 50))
  }
  return {
    base: /web chat: (http:\/\/[^\s/]+)/.exec(out)![1]!,
    runnerPort: port,
    out: () => out,
    kill: (signal) => {
      if (child.exitCode === null) child.kill(signal)
      return exited
    }
  }
}

export interface SseEvent {
  readonly _tag: string
  readonly seq: number
  readonly runId: string
  readonly text?: string
  readonly reason?: string
  readonly interrupted?: boolean
}

/** Reads a conversation's SSE stream into `events` until `stop()` (or `done` says so). */
export const sse = (base: string, conversationId: string, lastEventId?: number) => {
  const events: Array<SseEvent> = []
  const controller = new AbortController()
  const finished = (async () => {
    const res = await fetch(`${base}/v1/conversations/${conversationId}/events`, {
      headers: lastEventId === undefined ? {} : { "last-event-id": String(lastEventId) },
      signal: controller.signal
    })
    if (res.status !== 200) throw new Error(`SSE ${res.status}: ${await res.text()}`)
    const decoder = new TextDecoder()
    let buffer = ""
    const reader = res.body!.getReader()
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      buffer += decoder.decode(value, { stream: true })
      for (let i = buffer.indexOf("\n\n"); i >= 0; i = buffer.indexOf("\n\n")) {
        const frame = buffer.slice(0, i)
        buffer = buffer.slice(i + 2)
        const data = frame.split("\n").find((l) => l.startsWith("data: "))
        if (data !== undefined) events.push(JSON.parse(data.slice(6)) as SseEvent)
      }
    }
  })().catch((e) => {
    if (!controller.signal.aborted) throw e
  })
  return { events, stop: () => controller.abort(), finished }
}

export const until = async (ok: () => boolean, ms: number, what: () => string) => {
  const t0 = Date.now()
  while (!ok()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms} ms: ${what()}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

export const post = async (base: string, path: string, body: unknown) => {
  const res = await fetch(`${base}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) })
  return { status: res.status, body: (await res.json()) as Record<string, unknown> }
}

export const get = async (base: string, path: string) => (await (await fetch(`${base}${path}`)).json()) as Record<string, unknown>

/**
 * Waits until every runner is ready (holds shards), the shards are all held between them and
 * evenly: the hand-over of shards to a runner that joined is over, so conversations spread over all.
 */
export const allReady = async (runners: ReadonlyArray<Runner>, ms = 60_000) => {
  const t0 = Date.now()
  for (;;) {
    const states = await Promise.all(
      runners.map(async (r) => (await fetch(`${r.base}/readyz`)).json() as Promise<{ ready: boolean; cluster?: { shardsHeld: number; shards: number } }>)
    )
    const held = states.reduce((n, s) => n + (s.cluster?.shardsHeld ?? 0), 0)
    const total = states[0]?.cluster?.shards ?? 0
    // Each holds at least 80 % of its fair share: the conversations of a test spread over all.
    const balanced = states.every((s) => (s.cluster?.shardsHeld ?? 0) >= (0.8 * total) / states.length)
    if (states.every((s) => s.ready) && held === total && balanced) return states
    if (Date.now() - t0 > ms) throw new Error(`runners not ready: ${JSON.stringify(states)}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}
