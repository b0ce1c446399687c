import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, RuntimeFlags, RuntimeFlagsPatch } from "effect"
import * as Metrics from "../src/Metrics.js"

const active = (text: string) => Number(/^effect_fiber_active (\d+)$/m.exec(text)?.[1] ?? Number.NaN)

describe("Metrics: Effect's fiber counts (SLUICE_FIBER_METRICS=1)", () => {
  it.effect("with the runtime counting, /metrics has effect_fiber_active as a gauge that follows fibers coming and going", () =>
    Effect.gen(function* () {
      const gate = yield* Deferred.make<void>()
      const before = active(yield* Metrics.prometheus)
      const fibers = yield* Effect.forEach(Array.from({ length: 5 }), () => Effect.fork(Deferred.await(gate)))
      const during = yield* Metrics.prometheus
      expect(during).toContain("# TYPE effect_fiber_active gauge")
      expect(during).not.toContain("effect_fiber_lifetimes")
      expect(active(during)).toBe(before + 5)
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.joinAll(fibers)
      expect(active(yield* Metrics.prometheus)).toBe(before)
    }).pipe(Effect.withRuntimeFlagsPatch(RuntimeFlagsPatch.enable(RuntimeFlags.RuntimeMetrics))))
})
