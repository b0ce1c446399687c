/**
 * What a reader that reconnected many times must have received, compared with one that never
 * disconnected (docs/protocol.md, Resume). Pure, so the comparison itself is unit-tested.
 */
import { applyDraft } from "../../packages/core/src/ReplyEvent.js"

export interface Ev {
  readonly _tag: string
  readonly seq: number
  readonly runId?: string
  readonly offset?: number
  readonly text?: string
}

const key = (e: Ev) => JSON.stringify(e)

/** The preview text after each Draft seq of the reference (reset at RunStarted and Rollback). */
export const previews = (events: ReadonlyArray<Ev>) => {
  const at = new Map<number, string>()
  let text = ""
  for (const e of events) {
    if (e._tag === "RunStarted" || e._tag === "Rollback") text = ""
    else if (e._tag === "Draft") {
      text = applyDraft(text, { offset: e.offset!, text: e.text! })
      at.set(e.seq, text)
    }
  }
  return at
}

export const compare = (ref: ReadonlyArray<Ev>, got: ReadonlyArray<Ev>, who: string) => {
  const failures: Array<string> = []
  let outOfOrder = 0
  for (let i = 1; i < got.length; i++) if (got[i]!.seq <= got[i - 1]!.seq) outOfOrder++
  const want = ref.filter((e) => e._tag !== "Draft").map(key)
  const have = got.filter((e) => e._tag !== "Draft").map(key)
  const counts = new Map<string, number>()
  for (const k of have) counts.set(k, (counts.get(k) ?? 0) + 1)
  let lost = 0
  let duplicated = 0
  for (const k of want) if (!counts.has(k)) lost++
  for (const n of counts.values()) if (n > 1) duplicated += n - 1
  const unique = [...new Set(have)]
  if (lost === 0 && duplicated === 0 && unique.join("\n") !== want.join("\n")) outOfOrder++
  const refPreview = previews(ref)
  let text = ""
  let draftMismatches = 0
  let drafts = 0
  for (const e of got) {
    if (e._tag === "RunStarted" || e._tag === "Rollback") text = ""
    if (e._tag !== "Draft") continue
    drafts++
    text = applyDraft(text, { offset: e.offset!, text: e.text! })
    const expected = refPreview.get(e.seq)
    if (expected !== text) {
      draftMismatches++
      if (draftMismatches <= 3) failures.push(`${who}: preview after Draft ${e.seq} is ${JSON.stringify(text.slice(-40))}, the reference's ${JSON.stringify(expected?.slice(-40))}`)
    }
  }
  if (lost > 0) failures.push(`${who}: ${lost} events lost`)
  if (duplicated > 0) failures.push(`${who}: ${duplicated} events duplicated`)
  if (outOfOrder > 0) failures.push(`${who}: ${outOfOrder} events out of order`)
  return { lost, duplicated, outOfOrder, draftMismatches, drafts, compared: want.length, failures }
}

