/**
 * What every 429 storm checks per chat, from the fakes' records (`storm.ts` for Telegram,
 * `channelStorm.ts` for the others): each question reached the model once, the text the user sees
 * is exactly the answers in order (whitespace aside), and the busiest second over all chats; and how
 * a storm waits for its replies.
 */
import { answerFor } from "./faultyFake.js"

const squash = (s: string) => s.replace(/\s+/g, "")

/** Chat `c` (`chatId`): its questions each asked once, and `delivered` equal to their answers. */
export const checkChat = (c: number, chatId: string, prompts: ReadonlyArray<string>, delivered: string, words: number) => {
  const failures: Array<string> = []
  const asked = prompts.filter((p) => p.startsWith(`chat${c} `))
  for (const p of new Set(asked)) {
    const n = asked.filter((x) => x === p).length
    if (n !== 1) failures.push(`chat ${chatId}: "${p}" reached the model ${n} times`)
  }
  const a = squash(delivered)
  const b = squash(asked.map((p) => answerFor(p, words).join("")).join(""))
  const mismatched = a !== b
  if (mismatched) {
    let i = 0
    while (i < a.length && a[i] === b[i]) i++
    failures.push(`chat ${chatId}: delivered ${a.length} characters against ${b.length} expected, first difference at ${i}: ${JSON.stringify(a.slice(i, i + 40))} vs ${JSON.stringify(b.slice(i, i + 40))}`)
  }
  return { failures, mismatched }
}

/** The most of `times` (ms) in any one second. */
export const peakPerSecond = (times: ReadonlyArray<number>): number => {
  const all = [...times].sort((a, b) => a - b)
  let peak = 0
  for (let i = 0, j = 0; j < all.length; j++) {
    while (all[j]! - all[i]! >= 1000) i++
    peak = Math.max(peak, j - i + 1)
  }
  return peak
}

/**
 * `read` every second until every question was asked and no chat is short (or the deadline: a reply
 * can cost a chat ~50 requests at one a second, more on a loaded machine), then once more 3 s later:
 * anything sent twice after the last expected message would show by then.
 */
export const untilAnswered = async <R extends { readonly prompts: ReadonlyArray<string> }>(
  read: () => Promise<R>,
  mismatched: (r: R) => number,
  o: { readonly chats: number; readonly questions: number }
): Promise<R> => {
  const deadline = Date.now() + (o.questions * 60 + 60) * 1000
  let last = await read()
  while (!(last.prompts.length >= o.chats * o.questions && mismatched(last) === 0) && Date.now() <= deadline) {
    await new Promise((r) => setTimeout(r, 1000))
    last = await read()
  }
  await new Promise((r) => setTimeout(r, 3000))
  return read()
}

/** The failure when fewer questions than sent reached the model. */
export const unasked = (prompts: ReadonlyArray<string>, o: { readonly chats: number; readonly questions: number }): ReadonlyArray<string> =>
  prompts.length < o.chats * o.questions ? [`${prompts.length} of ${o.chats * o.questions} questions reached the model`] : []
