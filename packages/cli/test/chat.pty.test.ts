/**
 * The interactive chat in a real pseudo-terminal (`script` allocates it): the child sees a TTY,
 * keystrokes go in through script's stdin, Ctrl-C is the byte \x03 as a terminal sends it.
 */
import { spawn } from "node:child_process"
import { describe, expect, it } from "vitest"
import { bin, cleanEnv, tempDir } from "./run.js"

// biome-ignore lint/suspicious/noControlCharactersInRegex: removing terminal escapes is the point
const stripAnsi = (s: string) => s.replace(/\u001b\[[0-9;?]*[A-Za-z]/g, "")

describe("sluice chat in a terminal", () => {
  it("shows blocks as they arrive, Ctrl-C stops a reply without exiting, a second Ctrl-C quits (twice in all); history shows on start", async () => {
    using dir = tempDir()
    const cmd = `${process.execPath} ${bin} chat --data-dir ${dir.path}/data --conversation pty`
    const start = () => {
      const child = spawn("script", ["-q", "-e", "-c", cmd, "/dev/null"], {
        cwd: dir.path,
        env: { ...cleanEnv({ NO_COLOR: undefined }), TERM: "xterm", COLUMNS: "100", LINES: "40" },
        stdio: ["pipe", "pipe", "pipe"]
      })
      let out = ""
      child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d))
      const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)))
      const waitFor = async (what: string | RegExp, from: number, ms = 60_000): Promise<number> => {
        const deadline = Date.now() + ms
        while (Date.now() < deadline) {
          const text = stripAnsi(out).slice(from)
          const i = typeof what === "string" ? text.indexOf(what) : text.search(what)
          if (i >= 0) return from + i + 1
          await new Promise((r) => setTimeout(r, 50))
        }
        throw new Error(`timed out waiting for ${String(what)}; output:\n${stripAnsi(out)}`)
      }
      return { child, exited, waitFor, text: () => stripAnsi(out), type: (s: string) => child.stdin.write(s) }
    }

    const t = start()
    try {
      let at = await t.waitFor("sluice chat · conversation pty", 0)
      at = await t.waitFor("› ", at)
      // 1. a whole reply: blocks arrive, then the prompt returns
      t.type("how do retries work?\r")
      at = await t.waitFor("Offline demo model", at)
      at = await t.waitFor(/tell me where it gets stuck|Want me to go deeper|\n› /, at)
      at = await t.waitFor("› ", at - 1)
      // 2. Ctrl-C while the model works stops the reply, the chat goes on
      t.type("now explain the design of a big system\r")
      at = await t.waitFor(/waiting for the model|step \d+\/\d+|Offline demo model/, at)
      t.type("\x03")
      at = await t.waitFor("(reply stopped)", at)
      at = await t.waitFor("› ", at)
      expect(t.child.exitCode).toBe(null)
      // 3. the second Ctrl-C quits: twice in all, not three times
      t.type("\x03")
      expect(await t.exited).toBe(0)
    } finally {
      t.child.kill("SIGKILL")
    }

    // history shows when the conversation is opened again
    const again = start()
    try {
      await again.waitFor("you › how do retries work?", 0)
      let at2 = await again.waitFor("(interrupted)", 0)
      at2 = await again.waitFor("› ", at2)
      // Ctrl-C at the prompt arms, the second quits
      again.type("\x03")
      await again.waitFor("press Ctrl-C again to quit", at2)
      again.type("\x03")
      expect(await again.exited).toBe(0)
    } finally {
      again.child.kill("SIGKILL")
    }
  }, 240_000)
})
