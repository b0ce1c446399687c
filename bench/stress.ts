/**
 * `pnpm test:stress`: reliability scenarios measured from outside (docs/RELIABILITY.md). Scaled to
 * finish in about five minutes by default; `STRESS_FULL=1` runs them full size (about 40 minutes, the
 * soak is 30 of them). `STRESS_SEED=n` repeats a run's random choices. Exit code 1 when any scenario
 * finds a fault. Scenarios: resume under disconnects, model faults, SIGKILL, bad input, CLI command
 * lines, 429 storms (Telegram, Slack, WhatsApp, Discord), the soak.
 */
import { runBadInput } from "./stress/badInput.js"
import { runCliFlags } from "./stress/cliFlags.js"
import { runCrashes } from "./stress/crashes.js"
import { runFaults } from "./stress/faults.js"
import { runResume } from "./stress/resume.js"
import { runSoak } from "./stress/soak.js"
import { runStorm } from "./stress/storm.js"
import { runChannelStorm } from "./stress/channelStorm.js"

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
  const fo = full ? { conversations: 40, runsEach: 25, seed } : { conversations: 20, runsEach: 10, seed }
  const f = await runFaults(fo)
  console.log(`\n## model faults at random (${fo.conversations} conversations × ${fo.runsEach} runs; half the upstream answers are faults)\n`)
  console.log("| runs | completed | failed | other ends | upstream requests | rollbacks | faults in runs (text twice, bad end) | upstream left open | gateway fds / fibers / timers, before → after | time |")
  console.log("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
  console.log(`| ${f.runs} | ${f.reasons.completed ?? 0} | ${f.reasons.failed ?? 0} | ${f.runs - (f.reasons.completed ?? 0) - (f.reasons.failed ?? 0)} | ${f.upstreamRequests} | ${f.rollbacks} | ${f.runFaults} | ${f.pendingUpstream} | ${f.fds.before} → ${f.fds.after} / ${f.fibers.before} → ${f.fibers.after} / ${f.timers.before} → ${f.timers.after} | ${(f.ms / 1000).toFixed(1)} s |`)
  console.log(`\nfaults drawn: ${Object.entries(f.byFault).map(([k, v]) => `${k} ${v}`).join(", ")}`)
  for (const x of f.failures.slice(0, 20)) console.log(`FAIL ${x}`)
  const co = full ? { rounds: 20, conversations: 24, seed } : { rounds: 5, conversations: 8, seed }
  const c = await runCrashes(co)
  console.log(`\n## SIGKILL at random points of runs (${co.rounds} kills, ${co.conversations} conversations; restart on the same data directory)\n`)
  console.log("| kills | runs | completed | interrupted | other ends | messages acknowledged | re-sent after a kill | acknowledged, never answered | events compared | faults found | integrity_check passed | time |")
  console.log("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
  const other = c.runs - (c.reasons.completed ?? 0) - (c.reasons.interrupted ?? 0)
  console.log(`| ${c.kills} | ${c.runs} | ${c.reasons.completed ?? 0} | ${c.reasons.interrupted ?? 0} | ${other} | ${c.accepted} | ${c.resent} | ${c.unanswered} | ${c.eventsCompared} | ${c.failures.length} | ${c.integrityPassed} of ${c.integrityChecks} | ${(c.ms / 1000).toFixed(1)} s |`)
  for (const x of c.failures.slice(0, 20)) console.log(`FAIL ${x}`)
  const bo = full ? { wsCases: 10_000, httpCases: 10_000, seed } : { wsCases: 1000, httpCases: 1000, seed }
  const b = await runBadInput(bo)
  const tally = (r: Readonly<Record<string, number>>) => Object.entries(r).sort(([, x], [, y]) => y - x).map(([k, v]) => `${k} ${v}`).join(", ")
  console.log(`\n## generated bad input (fast-check; alice fuzzing, bob's conversation a target)\n`)
  console.log("| surface | cases | answers | faults found | time |")
  console.log("|---|---:|---|---:|---:|")
  console.log(`| WebSocket frames (JSON, MessagePack, garbage; before and after hello) | ${b.ws.cases} | errors: ${tally(b.ws.codes)}; closes: ${tally(b.ws.closes)} | ${b.failures.filter((x) => x.startsWith("ws")).length} | |`)
  console.log(`| HTTP requests (routes, methods, tokens, resume headers, bodies) | ${b.http.cases} | statuses: ${tally(b.http.statuses)}; errors: ${tally(b.http.codes)} | ${b.failures.filter((x) => x.startsWith("http")).length} | ${(b.ms / 1000).toFixed(1)} s |`)
  console.log(`\ncanary messages acknowledged ${b.canary.accepted}, present ${b.canary.present}; all faults: ${b.failures.length}`)
  for (const x of b.failures.slice(0, 20)) console.log(`FAIL ${x}`)
  const clo = full ? { cases: 10_000, seed } : { cases: 1000, seed }
  const cl = await runCliFlags(clo)
  console.log(`\n## generated command lines for the sluice CLI (fast-check; every command, its options and others, good and bad values)\n`)
  console.log("| cases | exit codes | faults found | time |")
  console.log("|---:|---|---:|---:|")
  console.log(`| ${cl.cases} | ${tally(cl.exits)} | ${cl.failures.length} | ${(cl.ms / 1000).toFixed(1)} s |`)
  for (const x of cl.failures.slice(0, 20)) console.log(`FAIL ${x}`)
  const sto = full ? { chats: 20, questions: 5, words: 450, storm: 0.5, seed } : { chats: 4, questions: 2, words: 300, storm: 0.5, seed }
  const st = await runStorm(sto)
  console.log(`\n## a 429 storm on Telegram (${sto.chats} chats × a burst of ${sto.questions} questions, answers of ${sto.words} words; ${sto.storm * 100} % of chat requests answered 429)\n`)
  console.log("| replies | chat requests taken / 429 | messages taken | chats with text lost or doubled | smallest gap in a chat | gaps under 900 ms | peak requests in 1 s, all chats | time |")
  console.log("|---:|---:|---:|---:|---:|---:|---:|---:|")
  console.log(`| ${st.replies} | ${st.requests.taken} / ${st.requests.refused} | ${st.messages} | ${st.mismatched} | ${st.minGapMs} ms | ${st.gapsUnder900} | ${st.peakPerSecond} | ${(st.ms / 1000).toFixed(1)} s |`)
  for (const x of st.failures.slice(0, 20)) console.log(`FAIL ${x}`)
  const wso = full ? { chats: 10, questions: 3, words: 450, storm: 0.5, seed } : { chats: 3, questions: 2, words: 300, storm: 0.5, seed }
  const channelStorms = []
  for (const channel of ["slack", "whatsapp", "discord"] as const) {
    const w = await runChannelStorm({ ...wso, channel })
    channelStorms.push(w)
    const name = { slack: "Slack", whatsapp: "WhatsApp", discord: "Discord" }[channel]
    const how = channel === "discord" ? "on the Gateway WebSocket" : "by signed webhook"
    console.log(`\n## a 429 storm on ${name} (${wso.chats} chats × a burst of ${wso.questions} questions ${how}, answers of ${wso.words} words; ${wso.storm * 100} % of chat calls answered 429)\n`)
    console.log("| replies | chat calls taken / 429 | messages shown | chats with text lost or doubled | smallest gap in a chat | peak calls in 1 s, all chats | time |")
    console.log("|---:|---:|---:|---:|---:|---:|---:|")
    console.log(`| ${w.replies} | ${w.requests.taken} / ${w.requests.refused} | ${w.messages} | ${w.mismatched} | ${w.minGapMs} ms | ${w.peakPerSecond} | ${(w.ms / 1000).toFixed(1)} s |`)
    for (const x of w.failures.slice(0, 20)) console.log(`FAIL ${x}`)
  }
  const so = full ? { seconds: 1800, users: 40, sampleMs: 10_000, seed } : { seconds: 45, users: 12, sampleMs: 2000, seed }
  const s = await runSoak(so)
  const mib = (b: number) => (b / 2 ** 20).toFixed(1)
  const ops = Object.values(s.operations).reduce((a, b) => a + b, 0)
  console.log(`\n## soak (${so.seconds} s of mixed traffic, ${so.users} users; conversations passivated after 5 s idle)\n`)
  console.log(`operations: ${tally(s.operations)} (${ops} in all)\n`)
  console.log("| measure | before | during (max) | after, idle | slope per minute (steady part) |")
  console.log("|---|---:|---:|---:|---:|")
  const max = (f: (x: (typeof s.samples)[number]) => number) => Math.max(...s.samples.map(f))
  console.log(`| live heap after full GC (MiB) | ${mib(s.idle.liveBefore.heap)} | ${mib(Math.max(...s.lives.map((l) => l.heap)))} | ${mib(s.idle.liveAfter.heap)} | ${mib(s.slope.liveHeap)} |`)
  console.log(`| heap in use, no forced GC (MiB) | ${mib(s.idle.before.heap)} | ${mib(max((x) => x.heap))} | ${mib(s.idle.after.heap)} | ${mib(s.slope.heap)} |`)
  console.log(`| resident memory (MiB) | ${mib(s.idle.before.rss)} | ${mib(max((x) => x.rss))} | ${mib(s.idle.after.rss)} | ${mib(s.slope.rss)} |`)
  console.log(`| open descriptors | ${s.idle.before.fds} | ${max((x) => x.fds)} | ${s.idle.after.fds} | ${s.slope.fds.toFixed(2)} |`)
  console.log(`| live timers | ${s.idle.before.timers} | ${max((x) => x.timers)} | ${s.idle.after.timers} | ${s.slope.timers.toFixed(2)} |`)
  console.log(`| live fibers | ${s.idle.before.fibers} | ${max((x) => x.fibers)} | ${s.idle.after.fibers} | |`)
  console.log(`| live sockets (ref'd) | ${s.idle.before.sockets} | ${max((x) => x.sockets)} | ${s.idle.after.sockets} | |`)
  console.log(`\nfaults: ${s.failures.length}; time ${(s.ms / 1000).toFixed(1)} s`)
  for (const x of s.failures.slice(0, 20)) console.log(`FAIL ${x}`)
  const failed = [r.failures, f.failures, c.failures, b.failures, cl.failures, st.failures, ...channelStorms.map((w) => w.failures), s.failures].some((x) => x.length > 0)
  process.exit(failed ? 1 : 0)
}
main().catch((e) => {
  console.error(e)
  process.exit(1)
})
