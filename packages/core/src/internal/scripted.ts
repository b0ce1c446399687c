/**
 * The offline demo model's text: realistic markdown composed deterministically from the user's
 * message and a seed (pure functions), and the event sequence built from it.
 *
 * @internal
 */
import { Duration, Effect, Stream } from "effect"
import type { ModelRequest, ModelService } from "../Model.js"
import type { ModelEvent } from "../ModelEvent.js"

export const BANNER = "*(Offline demo model — set ANTHROPIC_API_KEY to talk to Claude.)*"

/** FNV-1a, 32 bit. */
export const hash = (s: string): number => {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

/** mulberry32: a tiny deterministic PRNG in [0, 1). */
export const prng = (seed: number): (() => number) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const pick = <A>(rand: () => number, xs: ReadonlyArray<A>): A => xs[Math.floor(rand() * xs.length) % xs.length]!

const OPENERS = [
  "Good question. Here is a short, practical take on {topic}.",
  "Let's look at {topic} step by step, keeping it concrete.",
  "Happy to help with {topic}. The short answer: start small, measure, then refine.",
  "There are a few ways to think about {topic}; here is the one I would start with."
]
const STEPS = [
  "Write down what a good result looks like before changing anything.",
  "Reproduce the current behaviour with the smallest possible example.",
  "Change one thing at a time and keep the feedback loop short.",
  "Measure instead of guessing: timings, counts, a quick log line.",
  "Keep the happy path simple and make failures explicit and typed.",
  "Add a test that would have caught the problem in the first place.",
  "Prefer boring, well-known tools over clever ones.",
  "Write the decision down next to the code so the next reader knows why."
]
const CLOSERS = [
  "If you share more detail, I can make this more specific.",
  "That should be enough to get going; tell me where it gets stuck.",
  "Treat this as a starting point rather than a final answer.",
  "Happy to go deeper on any of these points."
]
const THOUGHTS = [
  "The user is asking about {topic}. Let me figure out what they actually need.",
  "First, what are the constraints? Nothing specific was given, so I should keep the answer general but concrete.",
  "A list of steps would help, and a small code example makes it tangible.",
  "I should check the example for obvious mistakes before writing it out.",
  "Finally, keep the answer short and offer to go deeper."
]

const codeSnippet = (rand: () => number, slug: string): string => {
  const lang = pick(rand, ["ts", "python", "bash"])
  switch (lang) {
    case "ts":
      return [
        "```ts",
        `export const ${slug.replace(/-(\w)/g, (_, c: string) => c.toUpperCase())} = (input: string): string => {`,
        "  const words = input.trim().split(/\\s+/)",
        "  return words.map((w) => w[0]?.toUpperCase() + w.slice(1)).join(\" \")",
        "}",
        "```"
      ].join("\n")
    case "python":
      return [
        "```python",
        `def ${slug.replace(/-/g, "_")}(items):`,
        "    \"\"\"Return the items sorted by how often they appear.\"\"\"",
        "    counts = {}",
        "    for item in items:",
        "        counts[item] = counts.get(item, 0) + 1",
        "    return sorted(counts, key=counts.get, reverse=True)",
        "```"
      ].join("\n")
    default:
      return ["```bash", `mkdir -p ./${slug} && cd ./${slug}`, "git init && echo \"# notes\" > README.md", "```"].join(
        "\n"
      )
  }
}

export interface Composition {
  /** Thinking paragraphs (joined with a blank line when emitted); empty when thinking is off. */
  readonly thinking: ReadonlyArray<string>
  readonly text: string
}

export interface ComposeOptions {
  readonly seed: number
  /** Approximate minimum number of words in the answer. */
  readonly words: number
  readonly thinking: boolean
  /** First line of the answer; `BANNER` by default, "" for none. */
  readonly banner?: string
}

const countWords = (s: string): number => s.split(/\s+/).filter((w) => w.length > 0).length

/** Deterministic for a given message, seed and options. */
export const compose = (message: string, options: ComposeOptions): Composition => {
  const rand = prng(hash(message) ^ Math.imul(options.seed | 0, 0x9e3779b1))
  const cleaned = message.replace(/[`*_#>[\]\n\r]+/g, " ").replace(/\s+/g, " ").trim()
  const topicWords = cleaned.split(" ").filter((w) => w.length > 0).slice(0, 8)
  const topic = topicWords.length === 0 ? "your message" : `“${topicWords.join(" ")}${cleaned.split(" ").length > 8 ? "…" : ""}”`
  const slug =
    topicWords
      .map((w) => w.toLowerCase().replace(/[^a-z0-9]/g, ""))
      .filter((w) => w.length > 0)
      .slice(0, 3)
      .join("-") || "demo"
  const safeSlug = /^[a-z]/.test(slug) ? slug : `x-${slug}`
  const parts: Array<string> = []
  const banner = options.banner ?? BANNER
  if (banner !== "") parts.push(banner)
  parts.push(pick(rand, OPENERS).replace("{topic}", topic))
  let section = 0
  let words = countWords(parts.join("\n\n"))
  const push = (part: string) => {
    parts.push(part)
    words += countWords(part)
  }
  do {
    if (section > 0) push(`### Part ${section + 1}`)
    const n = 3 + Math.floor(rand() * 3)
    const start = Math.floor(rand() * STEPS.length)
    const list = Array.from({ length: n }, (_, i) => `${i + 1}. ${STEPS[(start + i) % STEPS.length]}`)
    push(`Here is how I would approach it:\n\n${list.join("\n")}`)
    push(`A small example to make it concrete:\n\n${codeSnippet(rand, safeSlug)}`)
    section++
  } while (words < options.words && section < 100_000)
  parts.push(pick(rand, CLOSERS))
  const thinking = options.thinking ? THOUGHTS.map((t) => t.replace("{topic}", topic)) : []
  return { thinking, text: parts.join("\n\n") }
}

/** Split text into tokens (a word plus its trailing whitespace); concatenation gives the text back. */
export const tokenize = (text: string): Array<string> => {
  const out = text.match(/\s+|\S+\s*/g) ?? []
  // fold a leading whitespace-only token into the next one
  if (out.length > 1 && /^\s+$/.test(out[0]!)) out.splice(0, 2, out[0]! + out[1]!)
  return out
}

/** Rough token estimate used for usage numbers (≈ 4 characters per token). */
export const estimateTokens = (s: string): number => Math.max(1, Math.ceil(s.length / 4))

export interface EventsOptions {
  readonly messageId: string
  readonly model: string
  readonly inputTokens: number
  readonly maxTokens: number
}

/**
 * The full event sequence, in the same shape as the Anthropic adapter's: MessageStart,
 * [ThinkingDelta… ThinkingEnd], TextDelta… TextEnd, MessageDelta (cumulative usage), MessageEnd.
 * Stops early with `stopReason: "max_tokens"` when the token budget runs out.
 */
export const events = (c: Composition, o: EventsOptions): Array<ModelEvent> => {
  const out: Array<ModelEvent> = [
    { _tag: "MessageStart", messageId: o.messageId, model: o.model, usage: { inputTokens: o.inputTokens, outputTokens: 1 } }
  ]
  let used = 0
  let thinkingTokens = 0
  let stop: "end_turn" | "max_tokens" = "end_turn"
  let index = 0
  if (c.thinking.length > 0) {
    for (const tok of tokenize(c.thinking.join("\n\n"))) {
      if (used >= o.maxTokens) {
        stop = "max_tokens"
        break
      }
      out.push({ _tag: "ThinkingDelta", index, text: tok })
      used++
      thinkingTokens++
    }
    out.push({ _tag: "ThinkingEnd", index, signature: "offline-demo-signature" })
    index++
  }
  if (stop === "end_turn") {
    for (const tok of tokenize(c.text)) {
      if (used >= o.maxTokens) {
        stop = "max_tokens"
        break
      }
      out.push({ _tag: "TextDelta", index, text: tok })
      used++
    }
    out.push({ _tag: "TextEnd", index })
  }
  out.push({
    _tag: "MessageDelta",
    stopReason: stop,
    usage: {
      inputTokens: o.inputTokens,
      outputTokens: used,
      ...(thinkingTokens > 0 ? { thinkingTokens } : {})
    }
  })
  out.push({ _tag: "MessageEnd" })
  return out
}

// ---------------------------------------------------------------------------------------------
// the service

export interface ScriptedOptions {
  /** Output rate on the Effect Clock (default 60 tokens/s); 0 or Infinity = as fast as possible. */
  readonly tokensPerSecond?: number
  /** Same seed + same message → same answer (default 0). */
  readonly seed?: number
  /** Think first when the request does not say (default false). The request's `thinking` wins. */
  readonly thinking?: boolean
  /** Approximate minimum answer length in words (default 120); large values for load tests. */
  readonly words?: number
}

export const NAME = "offline demo model"
export const MODEL_ID = "offline-demo-model"

const lastUserText = (request: ModelRequest): string =>
  [...request.messages].reverse().find((m) => m.role === "user")?.content ?? ""

export const make = (o: ScriptedOptions = {}): ModelService => {
  const tps = o.tokensPerSecond ?? 60
  const interval = tps > 0 && Number.isFinite(tps) ? Duration.millis(1000 / tps) : undefined
  return {
    name: NAME,
    stream: (request) =>
      Stream.suspend(() => {
        const message = lastUserText(request)
        const thinking = request.thinking !== undefined ? request.thinking._tag !== "Disabled" : (o.thinking ?? false)
        const c = compose(message, { seed: o.seed ?? 0, words: o.words ?? 120, thinking })
        const all = events(c, {
          messageId: `msg_offline_${hash(`${o.seed ?? 0}:${message}`).toString(16)}`,
          model: MODEL_ID,
          inputTokens: request.messages.reduce((n, m) => n + estimateTokens(m.content), 0) +
            (request.system !== undefined ? estimateTokens(request.system) : 0),
          maxTokens: request.maxTokens ?? Number.POSITIVE_INFINITY
        })
        const stream: Stream.Stream<ModelEvent> = Stream.fromIterable(all)
        if (interval === undefined) return stream
        const pause = Effect.sleep(interval)
        return stream.pipe(
          Stream.mapEffect((e): Effect.Effect<ModelEvent> =>
            e._tag === "TextDelta" || e._tag === "ThinkingDelta" ? Effect.as(pause, e) : Effect.succeed(e)
          )
        )
      })
  }
}
