/**
 * The fake Anthropic server (packages/core/fakes) in its own process, answering each request with a
 * fault drawn at random (seeded: SEED): 429 with retry-after, 529, 500, an error event mid-stream, a
 * reset mid-stream, a stall after message_start, a slow first token, invalid JSON — or a good
 * answer (FAULT_RATE, default 0.5, is the share of faults; WORDS the answer's length). Every answer's text is the same for a prompt (`answerFor`), so a client can check that the
 * text it was shown is exactly one copy of it. Prints `{"url":…}` once listening, then on every
 * "stats" line on stdin one line `{"stats":{pending,open,requests,byFault}}` (pending: requests whose
 * response has not closed). A SIGTERM stops it.
 */
import { createInterface } from "node:readline"
import * as Fake from "../../packages/core/fakes/FakeAnthropic.js"
import { seeded } from "./random.js"

export const faults = ["ok", "rateLimited", "overloaded", "internal", "errorMidStream", "resetMidStream", "stall", "slowFirstToken", "invalidJson"] as const
export type Fault = (typeof faults)[number]

/** The answer's deltas for a prompt: `words` words naming it (default 12), so a duplicated part is visible. */
export const answerFor = (prompt: string, words = 12): ReadonlyArray<string> =>
  Array.from({ length: words }, (_, i) => `${prompt.replace(/\s+/g, "-")}:w${i} `)

const main = async () => {
  const random = seeded(Number(process.env.SEED ?? 1))
  // FAULT_RATE: the share of faulty answers (default 0.5); WORDS: the answer's length (default 12).
  const faultRate = Number(process.env.FAULT_RATE ?? 0.5)
  const words = Number(process.env.WORDS ?? 12)
  const byFault: Record<string, number> = {}
  /** The prompt of every request, in arrival order. */
  const prompts: Array<string> = []
  const promptOf = (body: { messages?: ReadonlyArray<{ content: unknown }> }): string => {
    // A failed run leaves its user turn unanswered, so the next request merges two user turns:
    // the prompt is the last paragraph.
    const c = body.messages?.at(-1)?.content
    const text = typeof c === "string" ? c : Array.isArray(c) ? (c as Array<{ text?: string }>).map((p) => p.text ?? "").join("\n") : "?"
    return text.split(/\n+/).filter((l) => l.trim() !== "").at(-1) ?? "?"
  }
  const server = await Fake.start({
    defaultScript: (req) => {
      // Half good answers, the other half spread over the faults.
      const fault: Fault = random() < 1 - faultRate ? "ok" : faults[1 + Math.floor(random() * (faults.length - 1))]!
      byFault[fault] = (byFault[fault] ?? 0) + 1
      const prompt = promptOf(req.body)
      prompts.push(prompt)
      const answer = answerFor(prompt, words)
      const good = Fake.text(answer, { deltaDelayMs: 5 })
      switch (fault) {
        case "ok":
          return good
        case "rateLimited":
          return Fake.rateLimited(0)
        case "overloaded":
          return Fake.overloaded(0)
        case "internal":
          return Fake.internalError()
        case "errorMidStream":
          return Fake.errorMidStream(answer.slice(0, 3))
        case "resetMidStream":
          return Fake.resetMidStream(answer.slice(0, 3))
        case "stall":
          return Fake.stallAfterStart()
        case "slowFirstToken":
          return Fake.slowFirstToken(150, answer)
        case "invalidJson":
          return Fake.invalidJson(answer.slice(0, 2))
      }
    }
  })
  console.log(JSON.stringify({ url: server.url }))
  createInterface({ input: process.stdin }).on("line", (l) => {
    if (l.trim() === "stats") console.log(JSON.stringify({ stats: { pending: server.requests.filter((r) => r.outcome === "pending").length, open: server.openConnections(), requests: server.requests.length, byFault, prompts } }))
  })
  process.once("SIGTERM", () => void server.close().then(() => process.exit(0)))
}

if (process.argv[1]?.endsWith("faultyFake.ts")) void main()
