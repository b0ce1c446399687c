/**
 * A growing, sorted list of absolute text positions (break candidates) with a moving head.
 * Pushes arrive in increasing order; the chunker drops the ones it has passed and, when a line
 * turns out to open a code fence, retracts the ones recorded inside that line.
 * Every query is a binary search, so a drain never rescans the buffer.
 */
export class Positions {
  private a: Array<number> = []
  private h = 0

  push(p: number): void {
    this.a.push(p)
  }

  /** Forget every position greater than `p` (they turned out to be inside a fence). */
  retractAbove(p: number): void {
    const a = this.a
    while (a.length > this.h && a[a.length - 1]! > p) a.pop()
  }

  /** Forget every position below `p`; compacts the storage now and then. */
  dropBelow(p: number): void {
    const a = this.a
    let h = this.h
    while (h < a.length && a[h]! < p) h++
    if (h > 1024 && h * 2 > a.length) {
      this.a = a.slice(h)
      h = 0
    }
    this.h = h
  }

  /** The greatest position ≤ x, or -1. */
  lastAtMost(x: number): number {
    const a = this.a
    let lo = this.h
    let hi = a.length - 1
    let r = -1
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1
      const v = a[mid]!
      if (v <= x) {
        r = v
        lo = mid + 1
      } else hi = mid - 1
    }
    return r
  }

  /** The smallest position ≥ x, or -1. */
  firstAtLeast(x: number): number {
    const a = this.a
    let lo = this.h
    let hi = a.length - 1
    let r = -1
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1
      const v = a[mid]!
      if (v >= x) {
        r = v
        hi = mid - 1
      } else lo = mid + 1
    }
    return r
  }
}
