/**
 * Gateway metrics as Effect `Metric`s, rendered in Prometheus text format for `/metrics`.
 *
 * @since 0.1.0
 */
import { readdirSync } from "node:fs"
import { Effect, Metric, MetricBoundaries, MetricKeyType, MetricLabel, MetricState } from "effect"

/** Runs started by gateway clients. */
export const runsStarted = Metric.counter("sluice_runs_started_total", { description: "Runs started", incremental: true })
/** Runs ended, tagged with `reason`. */
export const runsEnded = Metric.counter("sluice_runs_ended_total", { description: "Runs ended by reason", incremental: true })
export const activeRuns = Metric.gauge("sluice_active_runs", { description: "Runs in progress" })
/** Open WebSocket and SSE connections, tagged with `transport`. */
export const activeConnections = Metric.gauge("sluice_active_connections", { description: "Open client connections" })
export const timeToFirstBlock = Metric.histogram(
  "sluice_time_to_first_block_seconds",
  MetricBoundaries.fromIterable([0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30]),
  "Time from an accepted message to the first visible output of its run"
)
/** Errors, tagged with `tag` (model error tags and gateway error codes). */
export const errors = Metric.counter("sluice_errors_total", { description: "Errors by tag", incremental: true })
export const framesSent = Metric.counter("sluice_ws_frames_sent_total", { description: "WebSocket frames sent", incremental: true })
export const batchesSent = Metric.counter("sluice_ws_batches_sent_total", {
  description: "WebSocket batch frames sent to clients that fell behind",
  incremental: true
})
export const slowClosed = Metric.counter("sluice_ws_slow_consumers_closed_total", {
  description: "Connections closed because the client could not keep up",
  incremental: true
})

// Synchronous helpers for hot paths outside Effect (WebSocket callbacks): no fiber, no allocation
// beyond the label array.
const labelsOf = (tags?: Record<string, string>): ReadonlyArray<MetricLabel.MetricLabel> =>
  tags === undefined ? [] : Object.entries(tags).map(([k, v]) => MetricLabel.make(k, v))
export const unsafeIncrement = (m: Metric.Metric.Counter<number>, tags?: Record<string, string>): void =>
  m.unsafeUpdate(1, labelsOf(tags))
export const unsafeGaugeAdd = (m: Metric.Metric.Gauge<number>, delta: number, tags?: Record<string, string>): void =>
  m.unsafeModify(delta, labelsOf(tags))
export const unsafeObserve = (m: Metric.Metric.Histogram<number>, value: number): void => m.unsafeUpdate(value, [])

const esc = (s: string) => s.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")
const labels = (tags: ReadonlyArray<{ key: string; value: string }>, extra?: string): string => {
  const parts = tags.map((t) => `${t.key}="${esc(t.value)}"`)
  if (extra) parts.push(extra)
  return parts.length ? `{${parts.join(",")}}` : ""
}

/** Open file descriptors (sockets included), where the system shows them (`/proc/self/fd`). */
const openFds = (): number | undefined => {
  try {
    return readdirSync("/proc/self/fd").length
  } catch {
    return undefined
  }
}

/**
 * The process, read at scrape time under the names Prometheus' Node client uses: resident memory,
 * V8 heap, open descriptors, and the event loop's live resources by type (`Timeout` counts timers,
 * `TCPSocketWrap` sockets), so a leak of any of them shows as a slope.
 */
const processLines = (): Array<string> => {
  const m = process.memoryUsage()
  const out = [
    "# HELP process_resident_memory_bytes Resident memory size in bytes",
    "# TYPE process_resident_memory_bytes gauge",
    `process_resident_memory_bytes ${m.rss}`,
    "# HELP nodejs_heap_size_used_bytes V8 heap in use, in bytes",
    "# TYPE nodejs_heap_size_used_bytes gauge",
    `nodejs_heap_size_used_bytes ${m.heapUsed}`,
    "# HELP nodejs_heap_size_total_bytes V8 heap reserved, in bytes",
    "# TYPE nodejs_heap_size_total_bytes gauge",
    `nodejs_heap_size_total_bytes ${m.heapTotal}`,
    "# HELP nodejs_external_memory_bytes Memory of C++ objects bound to JavaScript (buffers), in bytes",
    "# TYPE nodejs_external_memory_bytes gauge",
    `nodejs_external_memory_bytes ${m.external}`
  ]
  const fds = openFds()
  if (fds !== undefined) out.push("# HELP process_open_fds Open file descriptors", "# TYPE process_open_fds gauge", `process_open_fds ${fds}`)
  const byType = new Map<string, number>()
  for (const t of process.getActiveResourcesInfo()) byType.set(t, (byType.get(t) ?? 0) + 1)
  out.push("# HELP nodejs_active_resources Live event-loop resources by type", "# TYPE nodejs_active_resources gauge")
  for (const [t, n] of [...byType].sort(([a], [b]) => a.localeCompare(b))) out.push(`nodejs_active_resources{type="${esc(t)}"} ${n}`)
  return out
}

/**
 * Every registered metric whose name starts with `sluice_` (and Effect's `effect_fiber_*` when the
 * runtime counts fibers), then the process's own (`process_*`, `nodejs_*`), in Prometheus text format 0.0.4.
 */
export const prometheus: Effect.Effect<string> = Effect.map(Metric.snapshot, (pairs) => {
  const out: Array<string> = []
  const seen = new Set<string>()
  const sorted = [...pairs].sort((a, b) => a.metricKey.name.localeCompare(b.metricKey.name))
  for (const { metricKey: key, metricState: state } of sorted) {
    const name = key.name
    // Effect's own fiber counts are there when the runtime counts them (SLUICE_FIBER_METRICS=1).
    if (!name.startsWith("sluice_") && !(name.startsWith("effect_fiber_") && name !== "effect_fiber_lifetimes")) continue
    const type = name === "effect_fiber_active" ? "gauge" : MetricKeyType.isCounterKey(key.keyType)
      ? "counter"
      : MetricKeyType.isGaugeKey(key.keyType)
        ? "gauge"
        : MetricKeyType.isHistogramKey(key.keyType)
          ? "histogram"
          : undefined
    if (type === undefined) continue
    if (!seen.has(name)) {
      seen.add(name)
      if (key.description._tag === "Some") out.push(`# HELP ${name} ${key.description.value}`)
      out.push(`# TYPE ${name} ${type}`)
    }
    if (MetricState.isCounterState(state)) out.push(`${name}${labels(key.tags)} ${Number(state.count)}`)
    else if (MetricState.isGaugeState(state)) out.push(`${name}${labels(key.tags)} ${Number(state.value)}`)
    else if (MetricState.isHistogramState(state)) {
      for (const [le, count] of state.buckets) {
        out.push(`${name}_bucket${labels(key.tags, `le="${le === Infinity ? "+Inf" : le}"`)} ${count}`)
      }
      if (!state.buckets.some(([le]) => le === Infinity)) {
        out.push(`${name}_bucket${labels(key.tags, 'le="+Inf"')} ${state.count}`)
      }
      out.push(`${name}_sum${labels(key.tags)} ${state.sum}`)
      out.push(`${name}_count${labels(key.tags)} ${state.count}`)
    }
  }
  out.push(...processLines())
  return out.join("\n") + "\n"
})
