/**
 * One long reply through the whole run path (model → pipeline → runtime → SQLite → subscriber):
 * how run time and bytes published grow with the reply's length. Deltas of 16 chars, one per
 * upstream chunk, as a live Anthropic stream delivers them. Linear is the aim; quadratic growth
 * here means something re-sends or re-writes the whole reply per delta.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Exit, Fiber, Layer, Scope, Stream } from "effect"
import * as runtime from "../packages/core/src/internal/conversations/runtime.js"
import * as Model from "../packages/core/src/Model.js"
import * as SqliteStore from "../packages/core/src/sqlite/SqliteStore.js"

const DELTA = "lorem ipsum dol\n"

const longModel = (n: number): Model.ModelService => ({
  name: "bench-long",
  stream: () =>
    Stream.make({ _tag: "MessageStart", messageId: "m", model: "bench", usage: { inputTokens: 1, outputTokens: 0 } } as const).pipe(
      Stream.concat(
        Stream.range(1, n).pipe(
          Stream.mapEffect((i) => Effect.as(Effect.yieldNow(), { _tag: "TextDelta", index: 0, text: i % 50 === 0 ? "end.\n\n" : DELTA } as const))
        )
      ),
      Stream.concat(Stream.make({ _tag: "TextEnd", index: 0 } as const, { _tag: "MessageEnd" } as const))
    )
})

const one = async (n: number) => {
  const dir = mkdtempSync(join(tmpdir(), "sluice-bench-"))
  try {
    const scope = await Effect.runPromise(Scope.make())
    const layer = Layer.merge(SqliteStore.layer({ dataDir: dir }), Layer.succeed(Model.Model, longModel(n)))
    const ctx = await Effect.runPromise(Layer.buildWithScope(layer, scope))
    const rt = await Effect.runPromise(runtime.make().pipe(Effect.provide(ctx), Scope.extend(scope)))
    let events = 0
    let bytes = 0
    const t0 = performance.now()
    await Effect.runPromise(
      Effect.gen(function* () {
        const sub = yield* rt.service.subscribe("long").pipe(
          Stream.tap((e) =>
            Effect.sync(() => {
              events++
              bytes += JSON.stringify(e).length
            })
          ),
          Stream.takeUntil((e) => e._tag === "RunEnded"),
          Stream.runDrain,
          Effect.fork
        )
        yield* rt.service.send("long", "write a lot")
        yield* Fiber.join(sub)
      })
    )
    const dt = performance.now() - t0
    const kb = (n * DELTA.length) / 1024
    console.log(
      `reply ${kb.toFixed(0)} KiB in ${n} deltas: ${dt.toFixed(0)} ms (${((dt * 1000) / n).toFixed(0)} µs/delta), ${events} events, ${(bytes / 1024 / 1024).toFixed(1)} MiB published`
    )
    await Effect.runPromise(Scope.close(scope, Exit.void))
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

export default async () => {
  for (const n of [1000, 4000, 16000]) await one(n)
}
