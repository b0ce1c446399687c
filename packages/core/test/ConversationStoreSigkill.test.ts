import { spawn } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Exit, Layer, Scope } from "effect"
import { ConversationStore, ReplyEvent } from "../src/index.js"
import * as SqliteStore from "../src/sqlite/SqliteStore.js"

const child = fileURLToPath(new URL("./fixtures/sigkillChild.ts", import.meta.url))
const groupChild = fileURLToPath(new URL("./fixtures/groupCommitChild.ts", import.meta.url))

/** Starts the child, waits until it printed `BLOCKS n` with n ≥ want, SIGKILLs it. */
const runAndKill = (dataDir: string, want: number) =>
  killAfter(child, dataDir, /BLOCKS (\d+)/g, want).then((out) => ({
    outputs: [...out.matchAll(/BLOCKS (\d+)/g)].length,
    maxSeen: Math.max(0, ...[...out.matchAll(/^SEEN (\d+)\n/gm)].map((m) => Number(m[1])))
  }))

/** Seqs in a conversation's log: strictly increasing (Drafts are never stored, and a crash skips seqs). */
const increasing = (seqs: ReadonlyArray<number>) => seqs.every((s, i) => i === 0 || s > seqs[i - 1]!)

/** Starts `script`, SIGKILLs it once its stdout matched `pattern` at least `want` times; resolves with its stdout. */
const killAfter = (script: string, dataDir: string, pattern: RegExp, want: number) =>
  new Promise<string>((resolve, reject) => {
    const p = spawn(process.execPath, ["--import", "tsx", script, dataDir], { stdio: ["ignore", "pipe", "pipe"] })
    let out = ""
    let err = ""
    const timer = setTimeout(() => {
      p.kill("SIGKILL")
      reject(new Error(`child did not stream in time: ${out.slice(-200)} ${err.slice(-2000)}`))
    }, 150_000)
    p.stderr.on("data", (d) => (err += String(d)))
    p.stdout.on("data", (d) => {
      out += String(d)
      const n = [...out.matchAll(pattern)].length
      if (n >= want) p.kill("SIGKILL")
    })
    p.on("exit", (_code, signal) => {
      clearTimeout(timer)
      if (signal === "SIGKILL") resolve(out)
      else reject(new Error(`child exited on its own (${_code}): ${err.slice(-2000)}`))
    })
  })

describe("ConversationStore crash recovery", () => {
  it.live("SIGKILL mid-run: history intact, run interrupted, no seq a client saw given again, log matching the messages", () =>
    Effect.gen(function* () {
      const dataDir = mkdtempSync(join(tmpdir(), "sluice-kill-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dataDir, { recursive: true, force: true })))
      const { outputs, maxSeen } = yield* Effect.promise(() => runAndKill(dataDir, 40))
      expect(outputs).toBeGreaterThanOrEqual(40)
      // reopen in this process: opening the store runs recovery
      const first = yield* Scope.make()
      const ctx = yield* Layer.buildWithScope(SqliteStore.layer({ dataDir }), first)
      const store = Context.get(ctx, ConversationStore.ConversationStore)
      const runs = yield* store.runs("k")
      expect(runs.map((r) => r.status)).toEqual(["completed", "interrupted"])
      const messages = yield* store.messages("k")
      expect(messages.map((m) => [m.role, m.status, m.interrupted])).toEqual([
        ["user", "complete", false],
        ["assistant", "complete", false],
        ["user", "complete", false],
        ["assistant", "interrupted", true]
      ])
      expect(messages[0]!.text).toBe("first question")
      expect(messages[1]!.text).toMatch(/^word0 word1/)
      const partial = messages[3]!.text
      expect(partial.length).toBeGreaterThan(0)
      expect(messages[1]!.text.startsWith(partial.replace(/\s+$/, "").slice(0, 20))).toBe(true)

      const events = yield* store.events("k", 0)
      // in seq order, and the conversation's next seq follows the last one
      expect(increasing(events.map((e) => e.seq))).toBe(true)
      expect((yield* store.load("k"))!.nextSeq).toBe(events.at(-1)!.seq + 1)
      // the killed run is closed in the log by recovery, and its Final is the kept partial text
      const second = events.filter((e) => e.runId === runs[1]!.id)
      expect(second.slice(-2).map((e) => e._tag)).toEqual(["Final", "RunEnded"])
      expect(second.at(-2)).toMatchObject({ text: partial, interrupted: true })
      expect(second.at(-1)).toMatchObject({ reason: "interrupted" })
      // the client saw Drafts that were never stored: recovery's events come after every seq it saw
      expect(maxSeen).toBeGreaterThan(0)
      expect(second.at(-2)!.seq).toBeGreaterThan(maxSeen)
      // every message has its event, and the interrupted reply holds at least the text of its persisted blocks
      for (const m of messages) {
        const ev = events.find((e) => e.seq === m.seq)
        expect(ev?._tag).toBe(m.role === "user" ? "UserMessage" : "RunStarted")
      }
      const blocks = second.filter((e): e is Extract<ReplyEvent.ReplyEvent, { _tag: "Block" }> => e._tag === "Block").map((b) => b.text)
      // the kept text is the reply's last checkpoint: at least its committed Blocks, never a Draft of the log
      expect(second.some((e) => e._tag === "Draft")).toBe(false)
      expect(partial.length).toBeGreaterThanOrEqual(blocks.join("\n\n").length)

      // opening again (after closing: one owner per data directory) changes nothing (recovery is idempotent)
      yield* Scope.close(first, Exit.void)
      const again = yield* Effect.scoped(
        Effect.flatMap(Layer.build(SqliteStore.layer({ dataDir })), (c) =>
          Context.get(c, ConversationStore.ConversationStore).events("k", 0)
        )
      )
      expect(again.length).toBe(events.length)
    }).pipe(Effect.scoped), 200_000)

  it.live("SIGKILL under group commit: every acknowledged message of 40 concurrent conversations survives, logs in seq order", () =>
    Effect.gen(function* () {
      const dataDir = mkdtempSync(join(tmpdir(), "sluice-kill-group-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dataDir, { recursive: true, force: true })))
      const out = yield* Effect.promise(() => killAfter(groupChild, dataDir, /^ACK /gm, 300))
      // only complete lines: a line cut by the kill was not acknowledged
      const acks = [...out.matchAll(/^ACK (\S+) (\S+) (\d+)\n/gm)].map((m) => ({ id: m[1]!, messageId: m[2]!, seq: Number(m[3]) }))
      expect(acks.length).toBeGreaterThanOrEqual(300)
      const ctx = yield* Layer.build(SqliteStore.layer({ dataDir }))
      const store = Context.get(ctx, ConversationStore.ConversationStore)
      const ids = [...new Set(acks.map((a) => a.id))]
      expect(ids.length).toBeGreaterThan(10)
      for (const id of ids) {
        const events = yield* store.events(id, 0)
        expect(increasing(events.map((e) => e.seq))).toBe(true)
        expect((yield* store.load(id))!.nextSeq).toBe(events.at(-1)!.seq + 1)
        const messages = yield* store.messages(id)
        for (const a of acks.filter((x) => x.id === id)) {
          expect(messages.find((m) => m.id === a.messageId)?.seq).toBe(a.seq)
          expect(events.find((e) => e.seq === a.seq)).toMatchObject({ _tag: "UserMessage", messageId: a.messageId })
        }
        // nothing left running, every run closed in the log
        const runs = yield* store.runs(id)
        for (const r of runs) {
          expect(r.status).not.toBe("running")
          expect(events.filter((e) => e.runId === r.id).at(-1)?._tag).toBe("RunEnded")
        }
      }
    }).pipe(Effect.scoped), 200_000)
})
