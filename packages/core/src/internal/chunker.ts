/**
 * The block chunker's engine (see BlockChunker.ts for the contract and the rules).
 *
 * Positions are absolute offsets into everything appended so far. `buf` holds the text from
 * `base`; `src` is where the next block's `source` starts, `pos` where its `text` starts
 * (src < pos when separators after the previous block were skipped). `prefix` is a pending
 * synthetic fence reopen line (with its "\n") that the next block's text starts with.
 */
import { type Fence, FenceScan, isSentencePunct, isWs } from "./fenceScan.js"

export type BreakPreference = "paragraph" | "newline" | "sentence"

export interface Block {
  /** What to show: the consumed text minus skipped separators, plus synthetic fence lines. */
  readonly text: string
  /** The exact slice of input this block consumed (separators included, synthetic lines not). */
  readonly source: string
}

export interface Normalized {
  readonly minChars: number
  readonly maxChars: number
  readonly breakPreference: BreakPreference
  readonly flushOnParagraph: boolean
}

const SKIP_NONE = 0
/** Consume one whitespace char, then leading "\n"s. */
const SKIP_ONE = 1
/** Consume the "\n" of a blank-line break, then spaces/tabs, then "\n"s. */
const SKIP_BLANK_NL = 2
const SKIP_BLANK = 3
const SKIP_NL = 4

const EMPTY: ReadonlyArray<Block> = Object.freeze([])

const isHigh = (c: number) => c >= 0xd800 && c <= 0xdbff
const isLow = (c: number) => c >= 0xdc00 && c <= 0xdfff
const isBlankText = (s: string): boolean => {
  for (let i = 0; i < s.length; i++) if (!isWs(s.charCodeAt(i))) return false
  return true
}

export class Chunker {
  private readonly scan = new FenceScan()
  /** Text from `base`, up to the last `flat()`; `parts` holds the deltas appended since. */
  private buf = ""
  private parts: Array<string> = []
  private base = 0
  private src = 0
  private pos = 0
  private prefix = ""
  private skip = SKIP_NONE
  /** A non-forced drain found no break at this pos with this candidate version (see drain). */
  private waitPos = -1
  private waitVersion = -1
  private readonly min: number
  private readonly max: number
  private readonly pref: BreakPreference
  private readonly flushPara: boolean

  constructor(o: Normalized) {
    this.min = o.minChars
    this.max = o.maxChars
    this.pref = o.breakPreference
    this.flushPara = o.flushOnParagraph
  }

  get buffered(): string {
    // Usually src === base (consumed text is dropped at once): no slice, so no flattening.
    const b = this.flat()
    const d = this.src - this.base
    return d === 0 ? b : b.slice(d)
  }

  private get end(): number {
    return this.scan.end
  }

  private at(p: number): number {
    return this.flat().charCodeAt(p - this.base)
  }

  private slice(a: number, b: number): string {
    return this.flat().slice(a - this.base, b - this.base)
  }

  /**
   * The buffer as one string. Deltas are only collected on append (no string built per delta);
   * they are joined here, when a drain actually reads text — a few times per block.
   */
  private flat(): string {
    if (this.parts.length > 0) this.fold()
    return this.buf
  }

  private fold(): void {
    this.buf += this.parts.length === 1 ? this.parts[0]! : this.parts.join("")
    this.parts.length = 0
  }

  append(text: string): void {
    if (text.length === 0) return
    this.parts.push(text)
    // Between reads (a long message_end reply), keep few large pieces rather than one small
    // string per delta alive: O(1) amortized, and the garbage collector has far less to mark.
    if (this.parts.length >= 1024) this.fold()
    this.scan.scan(text)
  }

  drain(force: boolean): ReadonlyArray<Block> {
    // Fast path for the common streaming case: not enough text yet.
    if (!force && this.skip === SKIP_NONE) {
      const L = this.prefix.length + this.end - this.pos
      if (L < this.min) return EMPTY
      // Waiting for a break below maxChars, and no new candidate since: still nothing to do.
      if (this.waitPos === this.pos && this.waitVersion === this.scan.version && L < this.max) return EMPTY
    }
    this.waitPos = -1
    const out: Array<Block> = []
    const pos0 = this.pos
    const min = this.min
    const max = this.max
    let first = true
    let lastPos = -1
    for (;;) {
      this.runSkip()
      const raw = this.end - this.pos
      if (raw === 0) break
      const P = this.prefix.length
      const L = P + raw
      if (!force && L < min) break
      if (first && force && L <= max && P === 0) {
        this.emitPlain(out, this.end, SKIP_NONE)
        break
      }
      first = false
      const pos = this.pos
      if (pos <= lastPos) break // defensive: never spin without consuming input
      lastPos = pos
      const windowLen = max - P
      const truncated = pos + windowLen < this.end
      const hi = truncated ? pos + windowLen : this.end
      const lo = pos + Math.max(1, (force ? 1 : min) - P)
      if (this.flushPara && !force) {
        const q = this.scan.blank.firstAtLeast(lo)
        if (q >= 0 && q - pos <= windowLen) {
          this.emitPlain(out, q, SKIP_BLANK_NL)
          continue
        }
        if (L < max) {
          this.waitAt()
          break
        }
      }
      if (force && L <= max) {
        const c = this.forwardBreak(lo)
        this.emitPlain(out, c < 0 ? this.end : c, SKIP_ONE)
        continue
      }
      let c = this.pickBreak(lo, hi, truncated || force, force)
      if (c < 0) {
        if (L < max) {
          if (!force) this.waitAt()
          break
        }
        c = this.scan.ws.lastAtMost(hi - 1)
        if (c < lo) c = -1
      }
      if (c >= 0) this.emitPlain(out, c, SKIP_ONE)
      else if (!this.hardCut(out, hi, force)) break
      if (!force) {
        const L2 = this.prefix.length + this.end - this.pos
        if (L2 < min || (L2 < max && !this.flushPara)) break
      }
    }
    if (force) {
      this.prefix = ""
      this.skip = SKIP_NONE
      if (this.src < this.end) {
        // Trailing separators/whitespace: they belong to the last block, or stand alone.
        const rest = this.slice(this.src, this.end)
        const last = out.pop()
        out.push(last === undefined ? { text: "", source: rest } : { text: last.text, source: last.source + rest })
        this.src = this.pos = this.end
      }
    }
    if (this.pos !== pos0) this.compact()
    return out.length === 0 ? EMPTY : out
  }

  private waitAt(): void {
    this.waitPos = this.pos
    this.waitVersion = this.scan.version
  }

  // ---- break search -------------------------------------------------------------------------

  /** The last break in [lo, hi] by preference (paragraph → newline → sentence), or -1. */
  private pickBreak(lo: number, hi: number, windowEndCounts: boolean, force: boolean): number {
    switch (this.pref) {
      case "paragraph": {
        const c = this.lastParagraph(lo, hi)
        if (c >= 0) return c
        const n = this.lastNewline(lo, hi)
        return n >= 0 ? n : this.lastSentence(lo, hi, windowEndCounts, force)
      }
      case "newline":
        return this.lastNewline(lo, hi)
      case "sentence":
        return this.lastSentence(lo, hi, windowEndCounts, force)
    }
  }

  private lastParagraph(lo: number, hi: number): number {
    const r = this.scan.para.lastAtMost(hi - 2)
    if (r < 0) return -1
    if (r >= lo) return r
    return r + 1 >= lo ? r + 1 : -1
  }

  private lastNewline(lo: number, hi: number): number {
    const p = this.scan.nl.lastAtMost(hi - 1)
    return p >= lo ? p : -1
  }

  private lastSentence(lo: number, hi: number, windowEndCounts: boolean, force: boolean): number {
    if (windowEndCounts && hi >= lo && isSentencePunct(this.at(hi - 1)) && this.scan.fenceAt(hi, force) === undefined)
      return hi
    const s = this.scan.sent.lastAtMost(hi - 1)
    return s >= lo ? s : -1
  }

  /** Forced tail (≤ maxChars): first paragraph, else first newline, else last sentence end. */
  private forwardBreak(lo: number): number {
    const end = this.end
    if (this.pref === "paragraph") {
      const r = this.scan.para.firstAtLeast(lo - 1)
      if (r >= 0 && r <= end - 2) return r >= lo ? r : r + 1
    }
    if (this.pref !== "sentence") {
      const n = this.scan.nl.firstAtLeast(lo)
      if (n >= 0) return n
      if (this.pref === "newline") return -1
    }
    return this.lastSentence(lo, end, true, true)
  }

  // ---- emitting -----------------------------------------------------------------------------

  private runSkip(): void {
    let s = this.skip
    if (s === SKIP_NONE) return
    const end = this.end
    let p = this.pos
    while (s !== SKIP_NONE && p < end) {
      const c = this.at(p)
      switch (s) {
        case SKIP_ONE:
          // (never the indent of a fence opener: the fence must keep its whole first line)
          if (isWs(c) && !(c === 32 && this.scan.fenceStartsAt(p))) p++
          s = SKIP_NL
          break
        case SKIP_BLANK_NL:
          p++
          s = SKIP_BLANK
          break
        case SKIP_BLANK:
          if (c === 32 || c === 9) p++
          else s = SKIP_NL
          break
        case SKIP_NL:
          if (c === 10) p++
          else s = SKIP_NONE
          break
      }
    }
    this.pos = p
    this.skip = s
  }

  /** A block ending at a safe position `c` (or a raw cut with SKIP_NONE). */
  private emitPlain(out: Array<Block>, c: number, skip: number): void {
    const text = this.prefix + this.slice(this.pos, c)
    this.prefix = ""
    this.pos = c
    this.skip = skip
    this.runSkip()
    this.emit(out, text)
  }

  /** Whitespace-only text is not emitted; its source is carried into the next block. */
  private emit(out: Array<Block>, text: string): void {
    if (isBlankText(text)) return
    out.push({ text, source: this.slice(this.src, this.pos) })
    this.src = this.pos
  }

  /** Nothing safe in the window and the buffer is full: cut at the cap, balancing fences. */
  private hardCut(out: Array<Block>, hi: number, force: boolean): boolean {
    const f = this.scan.fenceAt(hi, force)
    if (f === undefined) {
      const c = this.utf16(hi, this.pos)
      if (this.splitsPairAtEnd(c, force)) return false
      this.emitPlain(out, c, SKIP_ONE)
      return true
    }
    return this.fenceSplit(out, f, hi, force)
  }

  /** A cut at the end of the input, right after a high surrogate: wait for its low half (unless forced). */
  private splitsPairAtEnd(c: number, force: boolean): boolean {
    return !force && c >= this.end && isHigh(this.at(c - 1))
  }

  private utf16(c: number, floor: number): number {
    // A high surrogate at the very end may still get its low half in the next delta.
    if (isHigh(this.at(c - 1)) && (c >= this.end || isLow(this.at(c)))) {
      if (c - 1 > floor) return c - 1
      return c < this.end ? c + 1 : c
    }
    return c
  }

  private fenceSplit(out: Array<Block>, f: Fence, hi: number, force: boolean): boolean {
    const max = this.max
    const pos = this.pos
    const marker = " ".repeat(f.indent) + String.fromCharCode(f.ch).repeat(f.len)
    const mlen = marker.length
    if (2 * mlen + 4 > max) {
      // Even a bare close + reopen cannot fit: cut raw, unbalanced.
      this.emitPlain(out, this.utf16(hi, pos), SKIP_NONE)
      return true
    }
    const openerHere = f.start >= pos
    if (f.oend < 0) {
      // The opener line is unfinished: wait for it, unless forced.
      if (!force) return false
      if (f.start > pos) this.emitPlain(out, f.start, SKIP_NONE)
      else this.emitPlain(out, this.utf16(hi, pos), SKIP_NONE)
      return true
    }
    const olen = f.oend - f.start
    const bare = olen + mlen + 4 > max
    if (f.reopen === undefined) f.reopen = bare ? marker : f.line
    const reopen = f.reopen
    const P = this.prefix.length
    const room = max - P - mlen - 1
    if (room < 2) {
      this.emitPlain(out, this.utf16(hi, pos), SKIP_NONE)
      return true
    }
    let rewrite = openerHere && bare && olen > mlen
    let c = pos + room + (rewrite ? olen - mlen : 0)
    // The content after the opener line needs 2 code units, or a surrogate pair would push the
    // block past maxChars (utf16 below can only move forward there).
    if (openerHere && c < f.oend + 3) {
      // No room for the opener line plus content. End the block before the fence if that block
      // is long enough, else write this first opener bare to make room, else end before it anyway.
      const before = P + f.start - pos
      if (f.start > pos && before >= (force ? 1 : this.min)) {
        this.emitPlain(out, f.start, SKIP_NONE)
        return true
      }
      if (!rewrite && olen > mlen) {
        rewrite = true
        c = pos + room + olen - mlen
      }
      if (c < f.oend + 3 && f.start > pos) {
        this.emitPlain(out, f.start, SKIP_NONE)
        return true
      }
    }
    const cs = this.scan.closerStart(f, force)
    if (cs >= 0 && cs <= c) {
      // The real closer line starts within budget but runs past the window (trailing blanks, or
      // unfinished at a forced end): consume it, written as the plain marker.
      const ce = this.scan.fenceEnd(f, force)
      const body = this.fenceBody(f, pos, cs, rewrite, marker)
      const text = this.prefix + body + (body === "" || body.endsWith("\n") ? "" : "\n") + marker
      this.prefix = ""
      this.pos = ce
      this.skip = SKIP_ONE
      this.runSkip()
      out.push({ text, source: this.slice(this.src, this.pos) })
      this.src = this.pos
      return true
    }
    if (c > this.end) c = this.end
    const floor = openerHere ? f.oend + 1 : pos
    if (!force && c > this.scan.lineStart && this.scan.closerPending(f)) {
      // Never cut into a line that may still turn out to be the closer.
      if (this.scan.lineStart <= floor) return false
      c = this.scan.lineStart
    }
    // End at a line end inside the fence when one lies in the window's second half, so a code line
    // is not cut in the middle (the reference cuts at the cap); one very long line still is.
    const nl = this.flat().lastIndexOf("\n", c - 1 - this.base) + this.base
    if (nl + 1 > floor && 2 * (nl + 1 - pos) > c - pos) c = nl + 1
    else c = this.utf16(c, floor)
    if (this.splitsPairAtEnd(c, force)) return false
    const body = this.fenceBody(f, pos, c, rewrite, marker)
    const text = this.prefix + body + (body.endsWith("\n") ? "" : "\n") + marker
    out.push({ text, source: this.slice(this.src, c) })
    this.pos = this.src = c
    this.skip = SKIP_NONE
    this.prefix = `${reopen}\n`
    return true
  }

  /** Raw text [from, to), with fence f's opener line written as the bare marker if `rewrite`. */
  private fenceBody(f: Fence, from: number, to: number, rewrite: boolean, marker: string): string {
    return rewrite ? this.slice(from, f.start) + marker + this.slice(f.oend, to) : this.slice(from, to)
  }

  private compact(): void {
    // Drop the consumed text at once: the buffer is flat right after an emit, so this slice is
    // O(1), and the next read only flattens the unconsumed rest (not up to 4 KB of old text).
    const drop = this.src - this.base
    if (drop > 0) {
      this.buf = this.flat().slice(drop)
      this.base = this.src
    }
    this.scan.dropBelow(this.pos)
  }
}
