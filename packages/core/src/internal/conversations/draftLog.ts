/**
 * The Drafts of the running attempt that were published, kept in memory instead of the event log.
 *
 * A Draft is a preview: it is published at once (no commit to wait for) and never stored; a run's
 * Drafts were compacted out of the log when it ended anyway. While the run lives, a reader that
 * resumes (or joins) mid-run gets them from here, merged in seq order with what the log replays,
 * so it still receives every later event exactly once. They are dropped when the attempt is void
 * (a Rollback) and when the run ends (its Final has the text), exactly as the log compacted them.
 *
 * Bound: at most `MAX_DRAFTS` (+ 1). Past it the oldest half is folded into one Draft (offset 0, the
 * preview text as of the last folded Draft, with that Draft's seq): a reader that far behind gets
 * the same preview in one event instead of thousands. (Applying a Draft is idempotent, so one that
 * carries the whole text in place of the deltas it replaces leaves the reader's text the same.)
 *
 * @internal
 */
import { applyDraft, type ReplyEvent } from "../../ReplyEvent.js"

type Draft = Extract<ReplyEvent, { readonly _tag: "Draft" }>

export const MAX_DRAFTS = 64

export class DraftLog {
  private drafts: Array<Draft> = []
  /** The folded prefix: the preview after the last folded Draft, which it stands in for. */
  private folded: Draft | undefined

  get size(): number {
    return this.drafts.length + (this.folded === undefined ? 0 : 1)
  }

  /** Records what was just published (in seq order). */
  published(events: ReadonlyArray<ReplyEvent>): void {
    for (const ev of events) {
      if (ev._tag === "Draft") {
        this.drafts.push(ev)
        if (this.drafts.length > MAX_DRAFTS) this.fold(MAX_DRAFTS / 2)
      } else if (ev._tag === "Rollback" || ev._tag === "RunEnded") this.clear()
    }
  }

  clear(): void {
    this.drafts = []
    this.folded = undefined
  }

  /** The held Drafts with seq > `afterSeq`, in seq order. */
  since(afterSeq: number): ReadonlyArray<Draft> {
    const out: Array<Draft> = []
    if (this.folded !== undefined && this.folded.seq > afterSeq) out.push(this.folded)
    let i = this.drafts.length
    while (i > 0 && this.drafts[i - 1]!.seq > afterSeq) i--
    for (; i < this.drafts.length; i++) out.push(this.drafts[i]!)
    return out
  }

  private fold(n: number): void {
    let text = this.folded?.text ?? ""
    for (let i = 0; i < n; i++) text = applyDraft(text, this.drafts[i]!)
    this.folded = { ...this.drafts[n - 1]!, offset: 0, text }
    this.drafts = this.drafts.slice(n)
  }
}

/** Two seq-ordered lists as one, each seq once (the first list wins a tie). */
export const mergeBySeq = (a: ReadonlyArray<ReplyEvent>, b: ReadonlyArray<ReplyEvent>): ReadonlyArray<ReplyEvent> => {
  if (b.length === 0) return a
  if (a.length === 0) return b
  const out: Array<ReplyEvent> = []
  let i = 0
  let j = 0
  while (i < a.length || j < b.length) {
    const x = a[i]
    const y = b[j]
    if (y === undefined || (x !== undefined && x.seq <= y.seq)) {
      if (y !== undefined && x!.seq === y.seq) j++
      out.push(x!)
      i++
    } else {
      out.push(y)
      j++
    }
  }
  return out
}
