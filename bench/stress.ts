/**
 * `pnpm test:stress`: reliability scenarios measured from outside (docs/RELIABILITY.md). Scaled to
 * finish in well under a minute by default; `STRESS_FULL=1` runs them full size. `STRESS_SEED=n`
 * repeats a run's random choices. Exit code 1 when any scenario finds a fault.
 */
import { runResume } from "./stress/resume.js"

const full = process.env.STRESS_FULL === "1"
const seed = Number(process.env.STRESS_SEED ?? Date.now() % 1_000_000)

const main = async () => {
  console.log(`stress: ${full ? "full size" : "scaled down (STRESS_FULL=1 for full size)"}, seed ${seed}`)
  const o = full
    ? { conversations: 24, seconds: 8, rate: 100, maxConnectedMs: 150, seed }
    : { conversations: 6, seconds: 4, rate: 100, maxConnectedMs: 150, seed }
  const r = await runResume(o)
  console.log(`\n## resume under random disconnects (${o.conversations} conversations, replies of ${o.seconds} s at ${o.rate} deltas/s, connections cut after 10-${o.maxConnectedMs} ms)\n`)
  console.log("| reconnects WS | reconnects SSE | readers | events compared | Drafts checked | lost | duplicated | out of order | preview mismatches | time |")
  console.log("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
  console.log(`| ${r.reconnects.ws} | ${r.reconnects.sse} | ${r.readers} | ${r.eventsCompared} | ${r.draftsChecked} | ${r.lost} | ${r.duplicated} | ${r.outOfOrder} | ${r.draftMismatches} | ${(r.ms / 1000).toFixed(1)} s |`)
  for (const f of r.failures.slice(0, 20)) console.log(`FAIL ${f}`)
  process.exit(r.failures.length > 0 || r.draftMismatches > 0 ? 1 : 0)
}
main().catch((e) => {
  console.error(e)
  process.exit(1)
})
