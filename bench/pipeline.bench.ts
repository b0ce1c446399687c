/**
 * Full Pipeline throughput (BlockChunker → Coalescer → HumanDelay off) on the markdown corpus
 * (bench/corpus.ts), fed as 4–8 char TextDelta events, then TextEnd and MessageEnd.
 * Settings are the defaults a web client gets (`Config.resolve({})`): blocks 800/1200 paragraph,
 * coalesce 800/1200/1000 ms. The input is synchronous, so the coalescer's idle timer never fires:
 * this measures the CPU cost of the path. 1 MB and 10 MB: equal MB/s means linear cost.
 *
 * The model stream is built as it is consumed, in chunks of `batch` events (a model client emits
 * what one network read parsed): 4096 (what `Stream.fromIterable` would batch), and 64 for a row
 * with many more upstream chunks (more Drafts, more per-chunk Stream work). Each delta is sliced
 * from the text when its chunk is built, so nothing holds millions of delta strings alive.
 * The first row runs the model stream alone (no pipeline): that much of every other row is the
 * input, not the pipeline. Every run checks Final.text === input. "× loop": best CPU time over the best CPU time of a plain
 * loop that slices the same deltas and reads each char (bench/corpus.ts `yardstick`).
 */
import { Chunk, Effect, Option, Stream } from "effect"
import { Config, type ModelEvent, Pipeline, type StreamingSettings } from "../packages/core/src/index.js"
import { best, checkLinear, corpus, deltaLengths, mbps, median, timed, yardstick } from "./corpus.js"

const modelStream = (text: string, lengths: Uint8Array, batch: number): Stream.Stream<ModelEvent.ModelEvent> =>
  Stream.unfoldChunk({ i: 0, at: 0, ended: false }, (s) => {
    if (s.ended) return Option.none()
    const out: Array<ModelEvent.ModelEvent> = []
    let { i, at } = s
    const stop = Math.min(lengths.length, i + batch)
    for (; i < stop; i++) {
      const next = at + lengths[i]!
      out.push({ _tag: "TextDelta", index: 0, text: text.slice(at, next) })
      at = next
    }
    const ended = i === lengths.length
    if (ended) out.push({ _tag: "TextEnd", index: 0 }, { _tag: "MessageEnd" })
    return Option.some([Chunk.unsafeFromArray(out), { i, at, ended }] as const)
  })

const runOnce = (text: string, lengths: Uint8Array, batch: number, settings: StreamingSettings.StreamingSettings) =>
  Effect.runPromise(
    modelStream(text, lengths, batch).pipe(
      Pipeline.make(settings),
      Stream.runFold({ blocks: 0, drafts: 0, final: "" }, (s, p) => {
        if (p._tag === "Block") s.blocks++
        else if (p._tag === "Draft") s.drafts++
        else if (p._tag === "Final") s.final = p.text
        return s
      })
    )
  )

/** The model stream alone (building the events), to read the pipeline rows against. */
const inputOnly = (text: string, lengths: Uint8Array, batch: number) =>
  Effect.runPromise(
    modelStream(text, lengths, batch).pipe(
      Stream.runDrain,
      Effect.as({ blocks: 0, drafts: 0, final: "" })
    )
  )

export default async () => {
  const web = Config.resolve(Config.empty)
  const modes: ReadonlyArray<readonly [string, StreamingSettings.StreamingSettings | undefined, number]> = [
    ["input only: model stream, no pipeline", undefined, 4096],
    ["text_end (blocks as ready)", web, 4096],
    ["text_end, 64-event chunks", web, 64],
    ["message_end (one forced drain)", { ...web, blockStreamingBreak: "message_end" }, 4096],
    ["off (Final only)", { ...web, blockStreaming: false }, 4096]
  ]
  const warmText = corpus(1_000_000, 7)
  const warm = deltaLengths(warmText, 7)
  for (let i = 0; i < 3; i++) for (const [, s, b] of modes) if (s !== undefined) await runOnce(warmText, warm, b, s)

  const rows: Array<Record<string, string | number>> = []
  const summary: Array<string> = []
  for (const size of [1_000_000, 10_000_000]) {
    const text = corpus(size, 42)
    const ds = deltaLengths(text, 42)
    const mb = Buffer.byteLength(text) / 1e6
    const runs = size > 1_000_000 ? 3 : 5
    const loop: Array<number> = []
    const acc = modes.map(() => ({ ms: [] as Array<number>, cpu: [] as Array<number>, blocks: 0, drafts: 0 }))
    for (let i = 0; i < runs; i++) {
      for (let k = 0; k < 3; k++) loop.push(yardstick(text, ds))
      for (let m = 0; m < modes.length; m++) {
        const [, s, b] = modes[m]!
        const r = await timed(() => (s === undefined ? inputOnly(text, ds, b) : runOnce(text, ds, b, s)))
        if (s !== undefined && r.value.final !== text) throw new Error("Final.text differs from the input")
        acc[m]!.ms.push(r.ms)
        acc[m]!.cpu.push(r.cpuMs)
        acc[m]!.blocks = r.value.blocks
        acc[m]!.drafts = r.value.drafts
      }
    }
    rows.push({
      mode: "yardstick: charCodeAt loop", MB: mb.toFixed(2), events: ds.length, blocks: "", drafts: "",
      "MB/s best": "", "MB/s median": "", "cpu MB/s best": mbps(mb, best(loop)), "cpu MB/s median": mbps(mb, median(loop)), "× loop": "1.0"
    })
    modes.forEach(([name], m) => {
      const a = acc[m]!
      const ratio = best(a.cpu) / best(loop)
      rows.push({
        mode: name, MB: mb.toFixed(2), events: ds.length + 2, blocks: a.blocks, drafts: a.drafts,
        "MB/s best": mbps(mb, best(a.ms)), "MB/s median": mbps(mb, median(a.ms)),
        "cpu MB/s best": mbps(mb, best(a.cpu)), "cpu MB/s median": mbps(mb, median(a.cpu)),
        "× loop": ratio.toFixed(1)
      })
      summary.push(`${mb.toFixed(0)} MB ${name}: ${m === 0 ? "input" : "pipeline"} costs ${ratio.toFixed(1)}× a plain character loop`)
    })
  }
  console.table(rows)
  for (const s of summary) console.log(s)
  checkLinear(rows)
}
