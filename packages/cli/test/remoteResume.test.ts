/**
 * `sluice send --remote` survives its gateway dying mid-reply: the gateway is SIGKILLed while the
 * reply streams, a new gateway starts on the same port and data directory, and the CLI reconnects
 * and resumes from the last seq it saw — every event once, in order, ending with the run's end.
 */
import { spawn } from "node:child_process"
import { writeFileSync } from "node:fs"
import { ReplyEvent } from "@sluice/core"
import { describe, expect, it } from "vitest"
import { bin, cleanEnv, noStack, tempDir } from "./run.js"

interface Event {
  readonly _tag: string
  readonly seq: number
  readonly reason?: string
  readonly text?: string
  readonly offset?: number
}

const start = (args: ReadonlyArray<string>, env: Record<string, string>) => {
  const child = spawn(process.execPath, [bin, ...args], { env: cleanEnv(env), stdio: ["ignore", "pipe", "pipe"] })
  let out = ""
  let err = ""
  child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d))
  child.stderr.setEncoding("utf8").on("data", (d: string) => (err += d))
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)))
  return { child, exited, out: () => out, err: () => err }
}

const until = async (ok: () => boolean, ms: number, what: () => string) => {
  const t0 = Date.now()
  while (!ok()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out: ${what()}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

describe("sluice send --remote", () => {
  it("reconnects and resumes after the gateway is killed mid-reply and comes back", async () => {
    using dir = tempDir()
    const config = `${dir.path}/sluice.json`
    // A slow offline model, so the kill lands mid-reply.
    writeFileSync(config, JSON.stringify({ model: { provider: "offline", offline: { tokensPerSecond: 40, words: 200 } } }))
    const env = { SLUICE_CONFIG: config }
    const data = `${dir.path}/data`
    const gw1 = start(["gateway", "--port", "0", "--data-dir", data], env)
    await until(() => /web chat: http:\/\/[^\s/]+/.test(gw1.out()), 90_000, () => gw1.out() + gw1.err())
    const base = /web chat: (http:\/\/[^\s/]+)/.exec(gw1.out())![1]!
    const port = new URL(base).port

    const cli = start(["send", "Tell me about canal locks", "--remote", base, "--json", "--conversation", "r1"], env)
    const events = () =>
      cli
        .out()
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l) as Event)
    await until(() => events().filter((e) => e._tag === "Draft" || e._tag === "Block").length >= 3, 90_000, () => cli.out() + cli.err())
    gw1.child.kill("SIGKILL")
    await gw1.exited

    const gw2 = start(["gateway", "--port", port, "--data-dir", data], env)
    try {
      const code = await Promise.race([cli.exited, new Promise<"timeout">((r) => setTimeout(() => r("timeout"), 90_000))])
      expect(code, cli.err()).not.toBe("timeout")
      expect(noStack(cli.err())).toBe(true)
      const got = events()
      // every event once and in order across the reconnect
      for (let i = 1; i < got.length; i++) expect(got[i]!.seq).toBeGreaterThan(got[i - 1]!.seq)
      // the killed run was recovered as interrupted on restart, and the CLI saw that end
      expect(got.at(-1)).toMatchObject({ _tag: "RunEnded", reason: "interrupted" })
      const final = got.find((e) => e._tag === "Final")
      // the reply as the CLI saw it grow (Drafts add text at an offset)
      const seen = got
        .filter((e) => e._tag === "Draft")
        .reduce((text, d) => ReplyEvent.applyDraft(text, { offset: d.offset!, text: d.text! }), "")
      expect(seen.length).toBeGreaterThan(0)
      // the interrupted reply is the reply's last checkpoint: the same text, cut where either stopped
      const kept = final?.text ?? ""
      expect(kept.length).toBeGreaterThan(0)
      expect(seen.startsWith(kept) || kept.startsWith(seen)).toBe(true)
    } finally {
      gw2.child.kill("SIGTERM")
      await gw2.exited
    }
  })
})
