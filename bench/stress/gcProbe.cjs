// Preloaded into the gateway by the soak (`--expose-gc --require gcProbe.cjs`): on SIGUSR2, two full
// GCs, then the live heap on stdout as one JSON line. A measuring device only; it changes nothing else.
process.on("SIGUSR2", () => {
  global.gc()
  global.gc()
  const m = process.memoryUsage()
  console.log(JSON.stringify({ live: { heap: m.heapUsed, rss: m.rss, external: m.external } }))
})
