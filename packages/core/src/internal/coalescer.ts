/**
 * The coalescer's synchronous state: a buffer of joined block texts and the time of the last block.
 * The Stream combinator in `Coalescer.ts` drives it and owns the clock.
 */
export interface CoalesceOptions {
  readonly minChars: number
  readonly maxChars: number
  readonly idleMs: number
  readonly joiner: string
}

export class CoalescerState {
  readonly minChars: number
  readonly maxChars: number
  readonly idleMs: number
  readonly joiner: string
  private buf = ""
  private has = false
  private lastAt = 0

  constructor(options: CoalesceOptions) {
    this.maxChars = Math.max(1, Math.floor(options.maxChars))
    this.minChars = Math.min(Math.max(1, Math.floor(options.minChars)), this.maxChars)
    this.idleMs = Math.max(0, options.idleMs)
    this.joiner = options.joiner
  }

  get buffered(): string {
    return this.buf
  }

  get hasBuffered(): boolean {
    return this.has
  }

  /**
   * Adds one block at time `now`, pushing whatever must go out now to `out`. Never splits: a block
   * that does not fit next to the buffer flushes the buffer first; a block ≥ maxChars goes out alone.
   * Empty strings are ignored (they carry no text).
   */
  push(text: string, now: number, out: Array<string>): void {
    if (text.length === 0) return
    this.lastAt = now
    if (!this.has) {
      if (text.length >= this.maxChars) {
        out.push(text)
        return
      }
      this.buf = text
      this.has = true
      return
    }
    if (this.buf.length + this.joiner.length + text.length > this.maxChars) {
      out.push(this.buf)
      if (text.length >= this.maxChars) {
        this.buf = ""
        this.has = false
        out.push(text)
      } else {
        this.buf = text
      }
      return
    }
    this.buf = this.buf + this.joiner + text
    if (this.buf.length >= this.maxChars) this.flush(out)
  }

  /** Sends the buffer whatever its size (a forced flush). */
  flush(out: Array<string>): void {
    if (!this.has) return
    out.push(this.buf)
    this.buf = ""
    this.has = false
  }

  /** Drops the buffer (the run's attempt was rolled back). */
  reset(): void {
    this.buf = ""
    this.has = false
  }

  /**
   * When the idle timer fires, if it is armed: the buffer holds at least minChars and `idleMs` have
   * passed since the last block. Below minChars no timer runs: an idle flush would only re-arm, and
   * the next block restarts the timer anyway; the text goes out at the next forced flush.
   */
  idleDeadline(): number | undefined {
    if (!this.has || this.buf.length < this.minChars || !Number.isFinite(this.idleMs)) return undefined
    return this.lastAt + this.idleMs
  }
}
