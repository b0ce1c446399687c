/**
 * BlockChunker throughput: markdown corpus (bench/corpus.ts, code fences, CJK, emoji) fed in 4–8
 * char deltas (sliced from the text as the run goes, like a model client parsing them), options
 * 800/1200 paragraph.
 * - text_end: append + non-forced drain after every delta, forced drain at the end.
 * - message_end: append every delta, one forced drain at the end.
 * 1 MB and 10 MB: equal MB/s means linear cost. Each row: best and median of several runs after a
 * warm-up, wall and CPU time, and "× loop" = the chunker's best CPU time over the best CPU time of
 * a plain loop that slices the same deltas and reads each char (bench/corpus.ts `yardstick`),
 * measured in the same rounds. On a loaded machine MB/s
 * moves with the load; the ratio stays put. Every run checks that the joined sources equal the input.
 */
import { BlockChunker } from "../packages/core/src/index.js"
import { best, checkLinear, corpus, deltaLengths, mbps, median, timed, yardstick } from "./corpus.js"

const options: BlockChunker.Options = { minChars: 800, maxChars: 1200, breakPreference: "paragraph" }

const runOnce = (text: string, lengths: Uint8Array, eager: boolean): Array<BlockChunker.Block> => {
  const c = BlockChunker.make(options)
  const out: Array<BlockChunker.Block> = []
  for (let i = 0, at = 0; i < lengths.length; i++) {
    const next = at + lengths[i]!
    c.append(text.slice(at, next))
    at = next
    if (eager) {
      const bs = c.drain()
      for (let j = 0; j < bs.length; j++) out.push(bs[j]!)
    }
  }
  for (const b of c.drain({ force: true })) out.push(b)
  return out
}

export default async () => {
  const rows: Array<Record<string, string | number>> = []
  const warmText = corpus(1_000_000, 7)
  const warm = deltaLengths(warmText, 7)
  for (let i = 0; i < 5; i++) {
    runOnce(warmText, warm, true)
    runOnce(warmText, warm, false)
    yardstick(warmText, warm)
  }
  const summary: Array<string> = []
  for (const size of [1_000_000, 10_000_000]) {
    const text = corpus(size, 42)
    const ds = deltaLengths(text, 42)
    const mb = Buffer.byteLength(text) / 1e6
    const runs = size > 1_000_000 ? 3 : 7
    const loop: Array<number> = []
    const res = { eager: { ms: [] as Array<number>, cpu: [] as Array<number>, blocks: 0 }, lazy: { ms: [] as Array<number>, cpu: [] as Array<number>, blocks: 0 } }
    for (let i = 0; i < runs; i++) {
      for (let k = 0; k < 3; k++) loop.push(yardstick(text, ds))
      for (const eager of [true, false]) {
        const r = await timed(() => runOnce(text, ds, eager))
        if (r.value.map((b) => b.source).join("") !== text) throw new Error("joined sources differ from the input")
        const acc = eager ? res.eager : res.lazy
        acc.ms.push(r.ms)
        acc.cpu.push(r.cpuMs)
        acc.blocks = r.value.length
      }
    }
    rows.push({
      mode: "yardstick: charCodeAt loop", MB: mb.toFixed(2), deltas: ds.length, blocks: "",
      "MB/s best": "", "MB/s median": "", "cpu MB/s best": mbps(mb, best(loop)), "cpu MB/s median": mbps(mb, median(loop)), "× loop": "1.0"
    })
    for (const [name, acc] of [["text_end (drain per delta)", res.eager], ["message_end (one forced drain)", res.lazy]] as const) {
      const ratio = best(acc.cpu) / best(loop)
      rows.push({
        mode: name, MB: mb.toFixed(2), deltas: ds.length, blocks: acc.blocks,
        "MB/s best": mbps(mb, best(acc.ms)), "MB/s median": mbps(mb, median(acc.ms)),
        "cpu MB/s best": mbps(mb, best(acc.cpu)), "cpu MB/s median": mbps(mb, median(acc.cpu)),
        "× loop": ratio.toFixed(1)
      })
      summary.push(`${mb.toFixed(0)} MB ${name}: chunker costs ${ratio.toFixed(1)}× a plain character loop`)
    }
  }
  console.table(rows)
  for (const s of summary) console.log(s)
  checkLinear(rows)
}
