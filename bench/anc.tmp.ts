import { readFileSync } from "node:fs"
import { categorise, resolveFrame, type CpuProfile } from "./streaming/profile.js"
const [file, cat = "effect"] = process.argv.slice(2)
const p = JSON.parse(readFileSync(file!, "utf8")) as CpuProfile & { nodes: Array<{ id: number; children?: number[]; callFrame: any }> }
const parent = new Map<number, number>()
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
const byId = new Map(p.nodes.map((n) => [n.id, n]))
const self = new Map<number, number>()
for (let i = 0; i < p.samples!.length; i++) self.set(p.samples![i]!, (self.get(p.samples![i]!) ?? 0) + p.timeDeltas![i]!)
const agg = new Map<string, number>()
for (const n of p.nodes) {
  const f = resolveFrame(n.callFrame)
  if (categorise(f) !== cat) continue
  let cur = parent.get(n.id)
  let key = "(root)"
  while (cur !== undefined) {
    const g = resolveFrame(byId.get(cur)!.callFrame)
    const c = categorise(g)
    if (c !== cat && c !== "other") { key = `${g.functionName || "anon"} ${g.url.replace(/^.*\/(packages|node_modules)\//, "")}`; break }
    cur = parent.get(cur)
  }
  agg.set(key, (agg.get(key) ?? 0) + (self.get(n.id) ?? 0))
}
for (const [k, v] of [...agg].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`${(v / 1000).toFixed(0).padStart(6)} ms  ${k}`)
