import { readFileSync } from "node:fs"
import { categorise, resolveFrame, type CpuProfile } from "./streaming/profile.js"
const [file, cat = "sockets", n = "15"] = process.argv.slice(2)
const p = JSON.parse(readFileSync(file!, "utf8")) as CpuProfile
const self = new Map<number, number>()
for (let i = 0; i < p.samples!.length; i++) self.set(p.samples![i]!, (self.get(p.samples![i]!) ?? 0) + p.timeDeltas![i]!)
const agg = new Map<string, number>()
for (const node of p.nodes) {
  const f = resolveFrame(node.callFrame)
  if (cat !== "all" && categorise(f) !== cat) continue
  const k = `${f.functionName || "anon"} ${f.url.replace(/^.*node_modules\//, "")}`
  agg.set(k, (agg.get(k) ?? 0) + (self.get(node.id) ?? 0))
}
for (const [k, v] of [...agg].sort((a, b) => b[1] - a[1]).slice(0, Number(n))) console.log(`${(v / 1000).toFixed(0).padStart(6)} ms  ${k}`)
