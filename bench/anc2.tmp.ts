import { readFileSync } from "node:fs"
import { categorise, resolveFrame, type CpuProfile } from "./streaming/profile.js"
const [file] = process.argv.slice(2)
const p = JSON.parse(readFileSync(file!, "utf8")) as CpuProfile & { nodes: Array<{ id: number; children?: number[]; callFrame: any }> }
const parent = new Map<number, number>()
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
const byId = new Map(p.nodes.map((n) => [n.id, n]))
const self = new Map<number, number>()
for (let i = 0; i < p.samples!.length; i++) self.set(p.samples![i]!, (self.get(p.samples![i]!) ?? 0) + p.timeDeltas![i]!)
// inclusive time per "our" frame (any frame in packages/), counting each sample once per distinct frame key on its stack
const incl = new Map<string, number>()
for (const n of p.nodes) {
  const t = self.get(n.id) ?? 0
  if (t === 0) continue
  const seen = new Set<string>()
  let cur: number | undefined = n.id
  while (cur !== undefined) {
    const g = resolveFrame(byId.get(cur)!.callFrame)
    if (categorise(g) === "ours") {
      const k = `${g.functionName || "anon"}:${byId.get(cur)!.callFrame.lineNumber} ${g.url.replace(/^.*\/packages\//, "")}`
      if (!seen.has(k)) { seen.add(k); incl.set(k, (incl.get(k) ?? 0) + t) }
    }
    cur = parent.get(cur)
  }
}
for (const [k, v] of [...incl].sort((a, b) => b[1] - a[1]).slice(0, 40)) console.log(`${(v / 1000).toFixed(0).padStart(6)} ms  ${k}`)
