import { describe, expect, it } from "@effect/vitest"
import { Model, type ModelEvent, type ReplyEvent } from "@sluice/core"
import { Effect, Layer, Ref, Stream } from "effect"
import { answer, EchoModel, program, Replies, toEvents } from "../embed-pipeline.js"

/** Replies captured in a Ref instead of printed: the Layer a test swaps in. */
const capture = Effect.gen(function* () {
  const seen = yield* Ref.make<Array<ReplyEvent.Payload>>([])
  const layer = Layer.succeed(Replies, { publish: (p) => Ref.update(seen, (xs) => [...xs, p]) })
  return { layer, seen: Ref.get(seen) }
})

const blocks = (ps: ReadonlyArray<ReplyEvent.Payload>) => ps.flatMap((p) => (p._tag === "Block" ? [p.text] : []))

describe("examples/embed-pipeline", () => {
  it.effect("the program turns its own model's stream into several blocks and one final reply", () =>
    Effect.gen(function* () {
      const { layer, seen } = yield* capture
      yield* program.pipe(Effect.provide(Layer.merge(EchoModel, layer)))
      const out = yield* seen
      expect(blocks(out).length).toBeGreaterThan(2)
      expect(blocks(out).every((b) => b.length <= 200)).toBe(true)
      expect(blocks(out)[0]?.startsWith("# Streaming, the short version\n\n")).toBe(true)
      expect(blocks(out).some((b) => b.includes("```ts\nconst blocks = events.pipe(Pipeline.make(settings))\n```"))).toBe(true)
      expect(out.filter((p) => p._tag === "Final")).toEqual([{ _tag: "Final", text: answer }])
      expect(out.at(-1)?._tag).toBe("Final")
    })
  )

  it.effect("another Model layer swapped in (with a retry) changes the reply, not the program", () =>
    Effect.gen(function* () {
      const { layer, seen } = yield* capture
      const events: Array<ModelEvent.ModelEvent> = [
        ...toEvents("This attempt fails half way").slice(0, 3),
        { _tag: "Rollback", attempt: 2, reason: "overloaded" },
        ...toEvents("Second attempt.\n\nIt works.")
      ]
      const Retrying = Layer.succeed(Model.Model, { name: "retrying", stream: () => Stream.fromIterable(events) })
      yield* program.pipe(Effect.provide(Layer.merge(Retrying, layer)))
      const out = yield* seen
      const rb = out.findIndex((p) => p._tag === "Rollback")
      expect(rb).toBeGreaterThanOrEqual(0)
      expect(blocks(out.slice(rb))).toEqual(["Second attempt.\n\nIt works."])
      expect(out.filter((p) => p._tag === "Final")).toEqual([{ _tag: "Final", text: "Second attempt.\n\nIt works." }])
    })
  )
})
