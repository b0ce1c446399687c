/**
 * Finds the synthetic fence lines the BlockChunker put into blocks: a block cut at maxChars inside
 * a code fence ends with a closing marker that is not in the model's text, and the next block starts
 * with the fence's opener line again. Each block is aligned, line by line, against the reply text;
 * a fence line that is not in the reply at that point is synthetic.
 */

const fenceLine = /^ {0,3}(`{3,}|~{3,})/

export interface Alignment {
  readonly reopenedAtStart: boolean
  readonly closedAtEnd: boolean
}

const none: Alignment = { reopenedAtStart: false, closedAtEnd: false }

const isSpace = (c: string | undefined) => c === " " || c === "\t" || c === "\n" || c === "\r"

/** Aligns one block from `from` in `source`; returns where the next block starts, or undefined when it does not align. */
export const align = (
  block: string,
  source: string,
  from: number
): { readonly alignment: Alignment; readonly next: number } | undefined => {
  const lines = block.split("\n")
  let p = from
  let content = false
  let reopenedAtStart = false
  let closedAtEnd = false
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!
    const last = i === lines.length - 1
    let at = source.startsWith(line, p) ? p : -1
    if (at < 0 && line !== "") {
      // separators dropped at a cut (whitespace) are not in the block
      let s = p
      while (isSpace(source[s])) s++
      if (source.startsWith(line, s)) at = s
    }
    if (at >= 0) {
      p = at + line.length
      if (!last && source[p] === "\n") p++
      if (line.trim() !== "") content = true
      continue
    }
    if (!fenceLine.test(line)) return undefined
    if (content) closedAtEnd = true
    else reopenedAtStart = true
  }
  return { alignment: { reopenedAtStart, closedAtEnd }, next: p }
}

/** Aligns consecutive blocks against the reply; a block that cannot be aligned gets no annotation. */
export const alignAll = (blocks: ReadonlyArray<string>, source: string): ReadonlyArray<Alignment> => {
  let p = 0
  return blocks.map((b) => {
    const r = align(b, source, p)
    if (r === undefined) return none
    p = r.next
    return r.alignment
  })
}
