/**
 * Incremental scanner for the chunker: reads each appended character once and keeps
 * - the code fences seen so far (CommonMark-style: 0–3 spaces, ≥3 backticks or tildes; closed by
 *   the same char, at least as long, followed only by spaces/tabs/CR),
 * - the break candidates outside fences: paragraph runs ("\n\n"), newlines, sentence ends
 *   ([.!?] + whitespace), whitespace, and blank-line breaks (`\n[ \t]*\n`, for flushOnParagraph).
 *
 * A candidate `c` means "a block may end right before absolute position c". Candidates inside a
 * fence are never recorded; the ones recorded on a line that turns out to open a fence are retracted.
 */
import { Positions } from "./positions.js"

export interface Fence {
  /** Absolute start of the opener line. */
  readonly start: number
  /** Spaces before the marker (0–3). */
  readonly indent: number
  /** Marker char code: 96 (`) or 126 (~). */
  readonly ch: number
  /** Marker length (≥ 3). */
  len: number
  /** Absolute index of the "\n" ending the opener line, -1 while that line is incomplete. */
  oend: number
  /** Absolute start of the closer line, -1 while open. */
  cstart: number
  /** Absolute index where the closer line ends (its "\n"), -1 while open. */
  end: number
  /** The opener line without its "\n" (complete once `oend` ≥ 0). */
  line: string
  /** The reopen line used for this fence's continuation blocks, fixed at its first split. */
  reopen: string | undefined
}

const NL = 10
const SP = 32
const TAB = 9
const CR = 13
const BT = 96
const TL = 126

const L_INDENT = 0
const L_MARK = 1
const L_OPEN = 2
const L_TRAIL = 3
const L_DONE = 4

/** `\s` of JavaScript regular expressions. */
export const isWs = (c: number): boolean =>
  c === SP ||
  (c >= 9 && c <= 13) ||
  (c >= 0xa0 &&
    (c === 0xa0 ||
      c === 0x1680 ||
      (c >= 0x2000 && c <= 0x200a) ||
      c === 0x2028 ||
      c === 0x2029 ||
      c === 0x202f ||
      c === 0x205f ||
      c === 0x3000 ||
      c === 0xfeff))

export const isSentencePunct = (c: number): boolean => c === 46 || c === 33 || c === 63

export class FenceScan {
  readonly para = new Positions()
  readonly nl = new Positions()
  readonly sent = new Positions()
  readonly ws = new Positions()
  readonly blank = new Positions()

  /** Fences in order of start; `fh` is the first one still relevant. */
  private fences: Array<Fence> = []
  private fh = 0
  /** The fence currently open at the end of the scanned text, if any. */
  open: Fence | null = null

  /** Bumped whenever a paragraph/newline/sentence/blank-line candidate is recorded. */
  version = 0
  /** Absolute length scanned. */
  end = 0
  lineStart = 0
  private lp = L_INDENT
  private ind = 0
  private mch = 0
  private mn = 0
  private prev = -1
  private runStart = -1
  private runLen = 0
  private lastNl = -1
  private lastNlSafe = false
  private lineBlank = true
  private blankRun = false

  scan(text: string): void {
    const base = this.end
    const n = text.length
    let prev = this.prev
    // Hot state in locals; written back around the (rare) method calls.
    let lp = this.lp
    let open = this.open
    let lineBlank = this.lineBlank
    // Collects the rest of an opener line (its info string) while it is incomplete.
    let acc = open !== null && open.oend < 0 ? 0 : -1
    for (let i = 0; i < n; i++) {
      const c = text.charCodeAt(i)
      if (lp === L_DONE && c > SP && c < 0xa0) {
        // Common case: a visible char in the middle of a line. Skip its whole run in a tight
        // loop; only the run's last char is needed (as `prev`).
        if (lineBlank) {
          lineBlank = false
          this.blankRun = false
        }
        let j = i + 1
        while (j < n) {
          const d = text.charCodeAt(j)
          if (d <= SP || d >= 0xa0) break
          j++
        }
        i = j - 1
        prev = text.charCodeAt(i)
        continue
      }
      const p = base + i
      if (c === NL) {
        if (acc >= 0) {
          open!.line += text.slice(acc, i)
          acc = -1
        }
        this.lineBlank = lineBlank
        this.newline(p, prev)
        lp = this.lp
        open = this.open
        lineBlank = true
        prev = c
        continue
      }
      if (lp !== L_DONE) {
        this.lineChar(c)
        lp = this.lp
        if (this.open !== open) {
          open = this.open
          acc = i + 1
        }
      }
      if (open === null && isWs(c)) {
        this.ws.push(p)
        if (isSentencePunct(prev)) {
          this.sent.push(p)
          this.version++
        }
      }
      if (c !== SP && c !== TAB && lineBlank) {
        lineBlank = false
        this.blankRun = false
      }
      prev = c
    }
    if (acc >= 0) open!.line += text.slice(acc)
    this.prev = prev
    this.lineBlank = lineBlank
    this.end = base + n
  }

  private lineChar(c: number): void {
    const f = this.open
    switch (this.lp) {
      case L_INDENT:
        if (c === SP && this.ind < 3) this.ind++
        else if (f !== null ? c === f.ch : c === BT || c === TL) {
          this.lp = L_MARK
          this.mch = c
          this.mn = 1
        } else this.lp = L_DONE
        return
      case L_MARK:
        if (c === this.mch) {
          if (++this.mn === 3 && f === null) this.openFence()
        } else if (f !== null && this.mn >= f.len && (c === SP || c === TAB || c === CR)) this.lp = L_TRAIL
        else this.lp = L_DONE
        return
      case L_OPEN:
        if (c === this.mch) f!.len++
        else this.lp = L_DONE
        return
      case L_TRAIL:
        if (c !== SP && c !== TAB && c !== CR) this.lp = L_DONE
        return
    }
  }

  private openFence(): void {
    const f: Fence = { start: this.lineStart, indent: this.ind, ch: this.mch, len: 3, oend: -1,
      cstart: -1,
      end: -1,
      line: " ".repeat(this.ind) + String.fromCharCode(this.mch).repeat(3),
      reopen: undefined
    }
    this.fences.push(f)
    this.open = f
    this.lp = L_OPEN
    this.ws.retractAbove(this.lineStart - 1)
    this.sent.retractAbove(this.lineStart - 1)
  }

  private newline(p: number, prev: number): void {
    let f = this.open
    if (f !== null) {
      if (this.lineStart > f.start && (this.lp === L_TRAIL || (this.lp === L_MARK && this.mn >= f.len))) {
        f.cstart = this.lineStart
        f.end = p
        this.open = f = null
      } else if (f.oend < 0) f.oend = p
    }
    if (f === null) {
      this.nl.push(p)
      this.ws.push(p)
      this.version++
      if (isSentencePunct(prev)) this.sent.push(p)
      if (prev === NL && this.runLen > 0) {
        if (++this.runLen === 2) this.para.push(this.runStart)
      } else {
        this.runStart = p
        this.runLen = 1
      }
      if (this.lineBlank && this.lastNlSafe && !this.blankRun) {
        this.blank.push(this.lastNl)
        this.blankRun = true
      }
      this.lastNlSafe = true
    } else {
      this.runLen = 0
      this.lastNlSafe = false
      this.blankRun = false
    }
    this.lastNl = p
    this.lineBlank = true
    this.lineStart = p + 1
    this.lp = L_INDENT
    this.ind = 0
    this.mn = 0
  }

  /** The open fence's current (incomplete) last line is already a valid closer. */
  private tentativeClose(): boolean {
    const f = this.open
    return (
      f !== null &&
      this.lineStart > f.start &&
      this.lineStart < this.end &&
      (this.lp === L_TRAIL || (this.lp === L_MARK && this.mn >= f.len))
    )
  }

  /** The unfinished last line may still become fence `f`'s closer (only indent/marker so far). */
  closerPending(f: Fence): boolean {
    return f === this.open && this.lineStart > f.start && this.lp !== L_DONE
  }

  /** Where fence `f` ends; with `atEnd`, an unfinished last line that is a valid closer counts. */
  fenceEnd(f: Fence, atEnd: boolean): number {
    if (f.end >= 0) return f.end
    return atEnd && f === this.open && this.tentativeClose() ? this.end : Number.POSITIVE_INFINITY
  }

  /** Start of fence `f`'s closer line, or -1. */
  closerStart(f: Fence, atEnd: boolean): number {
    if (f.cstart >= 0) return f.cstart
    return atEnd && f === this.open && this.tentativeClose() ? this.lineStart : -1
  }

  /** The fence strictly containing position `c` (a block may not end there), if any. */
  fenceAt(c: number, atEnd: boolean): Fence | undefined {
    const fs = this.fences
    let lo = this.fh
    let hi = fs.length - 1
    let found: Fence | undefined
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1
      const f = fs[mid]!
      if (f.start < c) {
        found = f
        lo = mid + 1
      } else hi = mid - 1
    }
    return found !== undefined && c < this.fenceEnd(found, atEnd) ? found : undefined
  }

  /** A fence opener line starts exactly at `p`. */
  fenceStartsAt(p: number): boolean {
    const f = this.fenceAt(p + 1, false)
    return f !== undefined && f.start === p
  }

  /** Forget everything before absolute position `p`. */
  dropBelow(p: number): void {
    this.para.dropBelow(p - 1)
    this.nl.dropBelow(p)
    this.sent.dropBelow(p)
    this.ws.dropBelow(p)
    this.blank.dropBelow(p)
    const fs = this.fences
    let h = this.fh
    while (h < fs.length && fs[h]!.end >= 0 && fs[h]!.end <= p) h++
    if (h > 256 && h * 2 > fs.length) {
      this.fences = fs.slice(h)
      h = 0
    }
    this.fh = h
  }
}
