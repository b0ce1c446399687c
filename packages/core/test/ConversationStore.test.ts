import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import * as SqlClient from "@effect/sql/SqlClient"
import { ConversationStore, type ReplyEvent } from "../src/index.js"
import { migrations } from "../src/sqlite/internal/migrations.js"
import { open } from "../src/sqlite/internal/db.js"
import * as SqliteStore from "../src/sqlite/SqliteStore.js"

const block = (conversationId: string, seq: number): ReplyEvent.ReplyEvent => ({
  _tag: "Block", seq, conversationId, runId: "r1", at: 0, index: seq, text: `b${seq}`
})

describe("ConversationStore (SQLite)", () => {
  it.scoped("a database written by schema version 1 is migrated with its log intact", () =>
    Effect.gen(function* () {
      const dataDir = mkdtempSync(join(tmpdir(), "sluice-migrate-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dataDir, { recursive: true, force: true })))
      const file = join(dataDir, "sluice.db")
      // version 1 only, with a conversation and its events
      yield* Effect.scoped(
        Effect.gen(function* () {
          const { sql, db } = yield* open(file)
          yield* sql.withTransaction(Effect.zipRight(migrations["0001_conversations"], sql`PRAGMA user_version = 1`)).pipe(
            Effect.provideService(SqlClient.SqlClient, sql)
          )
          db.prepare("INSERT INTO conversations (id, title, next_seq, created_at, updated_at) VALUES ('old', 't', 4, 0, 0)").run()
          const ins = db.prepare("INSERT INTO events (conversation_id, seq, run_id, tag, body) VALUES (?, ?, ?, ?, ?)")
          for (const seq of [1, 2, 3]) ins.run("old", seq, "r1", "Block", JSON.stringify(block("old", seq)))
        })
      )
      const store = Context.get(yield* Layer.build(SqliteStore.layer({ dataDir })), ConversationStore.ConversationStore)
      expect((yield* store.events("old", 0)).map((e) => e.seq)).toEqual([1, 2, 3])
      expect((yield* store.events("old", 2)).map((e) => e.seq)).toEqual([3])
      // appends continue after the migrated rows; a duplicate seq is still refused
      const conversation = { id: "old", title: "t", nextSeq: 5, queueMode: "followup" as const, createdAt: 0, updatedAt: 1, prunedBefore: 1 }
      yield* store.commit({ conversation, messages: [], runs: [], events: [block("old", 4)] })
      expect((yield* store.events("old", 0)).map((e) => e.seq)).toEqual([1, 2, 3, 4])
      const dup = yield* Effect.either(store.commit({ conversation, messages: [], runs: [], events: [block("old", 4)] }))
      expect(dup._tag).toBe("Left")
    }))

  it.scoped("commitMany is one transaction: a failing commit leaves none of the batch behind", () =>
    Effect.gen(function* () {
      const store = Context.get(yield* Layer.build(SqliteStore.layerMemory()), ConversationStore.ConversationStore)
      const conv = (id: string, nextSeq: number) => ({ id, title: id, nextSeq, queueMode: "followup" as const, createdAt: 0, updatedAt: 0, prunedBefore: 1 })
      yield* store.commit({ conversation: conv("b", 2), messages: [], runs: [], events: [block("b", 1)] })
      const r = yield* Effect.either(
        store.commitMany([
          { conversation: conv("a", 2), messages: [], runs: [], events: [block("a", 1)] },
          { conversation: conv("b", 2), messages: [], runs: [], events: [block("b", 1)] } // duplicate seq
        ])
      )
      expect(r._tag).toBe("Left")
      expect(yield* store.load("a")).toBeUndefined()
      expect(yield* store.events("a", 0)).toEqual([])
      expect((yield* store.events("b", 0)).length).toBe(1)
    }))

  it.scoped("a Drafts-only commit may leave the row alone; the next seq loaded still follows the log", () =>
    Effect.gen(function* () {
      const store = Context.get(yield* Layer.build(SqliteStore.layerMemory()), ConversationStore.ConversationStore)
      const conv = (nextSeq: number, title: string) => ({ id: "c", title, nextSeq, queueMode: "followup" as const, createdAt: 0, updatedAt: nextSeq, prunedBefore: 1 })
      yield* store.commit({ conversation: conv(2, "first"), messages: [], runs: [], events: [block("c", 1)] })
      yield* store.commit({ conversation: conv(4, "not written"), conversationChanged: false, messages: [], runs: [], events: [block("c", 2), block("c", 3)] })
      const loaded = yield* store.load("c")
      expect(loaded).toMatchObject({ title: "first", updatedAt: 2, nextSeq: 4 })
      expect((yield* store.events("c", 0)).map((e) => e.seq)).toEqual([1, 2, 3])
    }))
})
