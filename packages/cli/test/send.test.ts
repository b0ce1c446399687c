/**
 * `sluice send` embedded and against a real gateway (`sluice gateway --port 0` as a child process),
 * and `sluice gateway` itself: it prints its URL and stops cleanly on SIGTERM.
 */
import { spawn } from "node:child_process"
import { writeFileSync } from "node:fs"
import { silentServer } from "@sluice/core/fakes/silentServer"
import { describe, expect, it } from "vitest"
import { bin, cleanEnv, noStack, sluice, tempDir } from "./run.js"

interface Event {
  readonly _tag: string
  readonly seq: number
  readonly runId: string
  readonly reason?: string
  readonly text?: string
}

const startGateway = (dataDir: string, env: Record<string, string> = {}) => {
  const child = spawn(process.execPath, [bin, "gateway", "--port", "0", "--data-dir", dataDir], {
    env: cleanEnv(env),
    stdio: ["ignore", "pipe", "pipe"]
  })
  let out = ""
  let err = ""
  child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d))
  child.stderr.setEncoding("utf8").on("data", (d: string) => (err += d))
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)))
  const url = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`gateway did not start:\n${out}\n${err}`)), 90_000)
    const check = () => {
      const m = /web chat: (http:\/\/[^\s/]+)/.exec(out)
      if (m) {
        clearTimeout(timer)
        resolve(m[1]!)
      }
    }
    child.stdout.on("data", check)
    child.on("close", () => reject(new Error(`gateway exited:\n${out}\n${err}`)))
  })
  return { child, url, exited, stderr: () => err }
}

describe("sluice send", () => {
  it("embedded: prints the reply; --json prints the run's events as NDJSON; same data dir keeps the conversation", async () => {
    using dir = tempDir()
    const data = `${dir.path}/data`
    const plain = await sluice(["send", "hello, how do retries work?", "--data-dir", data, "--conversation", "c1"])
    expect(plain.code, plain.stderr).toBe(0)
    expect(plain.stdout).toContain("Offline demo model")
    expect(plain.stdout.trim().length).toBeGreaterThan(200)
    const json = await sluice(["send", "and timeouts?", "--json", "--data-dir", data, "--conversation", "c1"])
    expect(json.code, json.stderr).toBe(0)
    const events = json.stdout.trim().split("\n").map((l) => JSON.parse(l) as Event)
    expect(events[0]!._tag).toBe("UserMessage")
    expect(events.at(-1)).toMatchObject({ _tag: "RunEnded", reason: "completed" })
    expect(events.some((e) => e._tag === "Final")).toBe(true)
    // the second message continues the same conversation: its seqs come after the first run's
    expect(events[0]!.seq).toBeGreaterThan(3)
    for (let i = 1; i < events.length; i++) expect(events[i]!.seq).toBeGreaterThan(events[i - 1]!.seq)
    expect(new Set(events.map((e) => e.runId)).size).toBe(1)
  })

  it("a model upstream that never answers: the run fails within connectMs, naming the URL, and the error is the run's last word", async () => {
    using dir = tempDir()
    // Accepts the TCP connection and never writes a byte (a hung proxy, a host that drops packets).
    const hung = await silentServer()
    try {
      const url = hung.url
      writeFileSync(`${dir.path}/sluice.json`, JSON.stringify({ model: { timeouts: { connectMs: 500 } } }))
      const r = await sluice(["send", "hi", "--json", "--data-dir", `${dir.path}/data`, "--config", `${dir.path}/sluice.json`], {
        env: { ANTHROPIC_API_KEY: "sk-hung-test", ANTHROPIC_BASE_URL: url },
        timeoutMs: 30_000
      })
      expect(r.code).toBe(1)
      const message = `${url}/v1/messages: no response within 500 ms (connect timeout)`
      expect(r.stderr).toContain(message)
      expect(noStack(r.stderr)).toBe(true)
      expect(`${r.stdout}${r.stderr}`).not.toContain("sk-hung-test")
      const events = r.stdout.trim().split("\n").map((l) => JSON.parse(l) as Event & { readonly error?: { readonly tag: string; readonly message: string } })
      expect(events.at(-2)).toMatchObject({ _tag: "Error", error: { tag: "Timeout", message } })
      expect(events.at(-1)).toMatchObject({ _tag: "RunEnded", reason: "failed" })
    } finally {
      hung.close()
    }
  })

  it("embedded on a data directory a running gateway holds: refused at once, naming its pid and the --remote URL; nothing written", async () => {
    using dir = tempDir()
    const data = `${dir.path}/gw`
    const gw = startGateway(data)
    try {
      const base = await gw.url
      const before = await sluice(["send", "first, over the wire", "--remote", base, "--conversation", "X"])
      expect(before.code, before.stderr).toBe(0)
      const refused = await sluice(["send", "hi", "--data-dir", data, "--conversation", "X"])
      expect(refused.code).not.toBe(0)
      expect(refused.stderr).toContain(`pid ${gw.child.pid}`)
      expect(refused.stderr).toContain(`--remote ${base}`)
      expect(noStack(refused.stderr)).toBe(true)
      // the gateway is unharmed: the next post to X works (no duplicate seqs, no 500)
      const after = await sluice(["send", "second, over the wire", "--remote", base, "--conversation", "X", "--json"])
      expect(after.code, after.stderr).toBe(0)
      const events = after.stdout.trim().split("\n").map((l) => JSON.parse(l) as Event)
      expect(events.at(-1)).toMatchObject({ _tag: "RunEnded", reason: "completed" })
    } finally {
      gw.child.kill("SIGTERM")
    }
    expect(await gw.exited).toBe(143)
  })

  it("remote: against a running gateway (reply, then SIGTERM stops it cleanly); a bad token or no gateway is exit 4", async () => {
    using dir = tempDir()
    const gw = startGateway(`${dir.path}/gw`, { SLUICE_TOKEN: "secret-token" })
    try {
      const base = await gw.url
      const [ok, badToken] = await Promise.all([
        sluice(["send", "hi over the wire", "--remote", base, "--token", "secret-token"]),
        sluice(["send", "hi", "--remote", base, "--token", "wrong"])
      ])
      expect(ok.code, ok.stderr).toBe(0)
      expect(ok.stdout).toContain("Offline demo model")
      expect(badToken.code).toBe(4)
      expect(badToken.stderr).toMatch(/refused|Unauthorized/)
      expect(noStack(badToken.stderr)).toBe(true)
    } finally {
      gw.child.kill("SIGTERM")
    }
    expect(await gw.exited).toBe(143)
    const none = await sluice(["send", "hi", "--remote", "http://127.0.0.1:9"])
    expect(none.code).toBe(4)
    expect(none.stderr).toContain("cannot reach the gateway")
    // A host name that does not resolve is said at once (its own message), not after the 5 s of
    // retries a starting gateway gets.
    const nowhere = await sluice(["send", "hi", "--remote", "ws://no-such-host.invalid:1"])
    expect(nowhere.code).toBe(4)
    expect(nowhere.stderr).toContain("the host name does not resolve")
  })
})
