import { readFileSync } from "node:fs"
const [file, fname, depth = "4"] = process.argv.slice(2)
const p = JSON.parse(readFileSync(file, "utf8"))
const byId = new Map(p.nodes.map((n) => [n.id, n]))
const parent = new Map()
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
const self = new Map()
for (let i = 0; i < p.samples.length; i++) self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + p.timeDeltas[i])
// total (inclusive) time of nodes named fname, by caller chain
const agg = new Map()
const inclusive = (id) => { let t = self.get(id) ?? 0; for (const c of byId.get(id).children ?? []) t += inclusive(c); return t }
for (const n of p.nodes) {
  if (n.callFrame.functionName !== fname) continue
  const chain = []
  let cur = parent.get(n.id)
  while (cur !== undefined && chain.length < Number(depth)) { const f = byId.get(cur).callFrame; chain.push(`${f.functionName || "anon"}:${f.lineNumber}`); cur = parent.get(cur) }
  const k = chain.join(" < ")
  agg.set(k, (agg.get(k) ?? 0) + inclusive(n.id))
}
for (const [k, v] of [...agg].sort((a, b) => b[1] - a[1]).slice(0, 12)) console.log((v / 1000).toFixed(0) + " ms  " + k)
