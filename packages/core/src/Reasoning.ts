/**
 * Adaptive reasoning: pick how hard the model should think about a message, and report progress
 * while it does (seed `000_16af0c9bb058ad1b.txt` §2).
 *
 * ## Planning (`plan`, pure, deterministic, no I/O)
 * Score = sum of:
 * - keywords: +3 if the message mentions design / architecture / system (also 设计 / 架构 / 系统;
 *   word-prefix match, case-insensitive; configurable with `keywords`);
 * - code or formula: +4 if it contains a code fence, inline code, code-like syntax
 *   (`function x`, `def x`, `=>`, `==`, `&&`, `f(x) {`, braces) or a formula (`27 * 453`, `√`,
 *   `\frac`, `$…$`);
 * - length: `min(floor(words / 10), 3)`;
 * - syntax: `min(floor(markers / 3), 3)`, markers = `, ; :` plus subordinating words
 *   (because, although, which, whereas, unless, if, when, whether, while, since, however, therefore);
 * - negative sentiment: +2 when negative words (broken, fails, error, crash, wrong, frustrating, …)
 *   outnumber positive ones (thanks, great, love, …).
 * Words: whitespace-separated tokens, plus one per two CJK characters.
 * Level: score ≤ 3 → 1, ≤ 6 → 2, ≤ 9 → 3, else 4. A pinned level (user or agent) always wins.
 * Steps: `base(level) + min(floor(words / 20), floor(base / 2))`, base 5 / 15 / 30 / 50.
 * Every feature only counts occurrences, so appending text never lowers the score.
 *
 * Each level maps (by config, `levels`) to a model, a thinking setting and a max-token budget.
 * Defaults: L1 `claude-haiku-4-5`, no thinking, 2 048 tokens; L2 `claude-sonnet-5-5`, adaptive
 * thinking effort `medium`, 8 192; L3 `claude-sonnet-5-5`, adaptive `high`, 16 384; L4
 * `claude-opus-5-5`, adaptive `max`, 32 000. The defaults use adaptive thinking because the Claude 5
 * family rejects `budget_tokens` with a 400 (`protocols.md` §1.6); a `Budget` thinking can still be
 * configured per level for models that take it. `apply(plan, request)` puts the plan into a
 * `ModelRequest` (fields the request already sets win).
 *
 * ## Progress (`track`, `progress`)
 * Derived only from what the model stream shows; `total` is the plan's step budget.
 * - reasoning steps = thinking paragraphs completed: a paragraph is non-blank thinking text ended by
 *   a blank line (`\n\n`, also across delta boundaries) or by `ThinkingEnd`;
 * - token steps = `floor(total · outputTokens / maxTokens)`, where outputTokens is the latest
 *   `MessageDelta.usage.outputTokens` when one has arrived, else an estimate of ⌈characters / 4⌉ of
 *   the thinking + text + tool input streamed so far (thinking counts against `max_tokens` too);
 * - `step = max(reasoning steps, token steps)`, never decreasing within an attempt and at most
 *   `total − 1` until the message ends; `MessageEnd` sets `step = total`.
 * - `status`: `planning` before the first content event (and again after a `Rollback`, which
 *   resets everything), `reasoning` while thinking, `answering` once text or tool use streams,
 *   `completed` at `MessageEnd`, `error` when the stream fails.
 * - `progress = round(1000 · step / total) / 1000`: a fraction 0–1 (three decimals), as
 *   `docs/protocol.md` documents it; 1 at `MessageEnd`.
 * An update is emitted at the start and whenever `step` or `status` changes.
 *
 * @since 0.1.0
 */
import { Stream } from "effect"
import type { ModelRequest, Thinking } from "./Model.js"
import type { ModelEvent } from "./ModelEvent.js"
import type { Payload } from "./ReplyEvent.js"

export type Level = 1 | 2 | 3 | 4

export interface LevelConfig {
  readonly model: string
  readonly thinking: Thinking
  readonly maxTokens: number
  readonly baseSteps: number
}

export const defaultLevels: Readonly<Record<Level, LevelConfig>> = {
  1: { model: "claude-haiku-4-5", thinking: { _tag: "Disabled" }, maxTokens: 2048, baseSteps: 5 },
  2: { model: "claude-sonnet-5-5", thinking: { _tag: "Adaptive", effort: "medium" }, maxTokens: 8192, baseSteps: 15 },
  3: { model: "claude-sonnet-5-5", thinking: { _tag: "Adaptive", effort: "high" }, maxTokens: 16384, baseSteps: 30 },
  4: { model: "claude-opus-5-5", thinking: { _tag: "Adaptive", effort: "max" }, maxTokens: 32000, baseSteps: 50 }
}

export const defaultKeywords: ReadonlyArray<string> = ["design", "architecture", "system", "设计", "架构", "系统"]

export interface Factors {
  readonly keywords: number
  readonly code: number
  readonly length: number
  readonly syntax: number
  readonly sentiment: number
}

export interface ReasoningPlan {
  readonly level: Level
  /** The level was pinned rather than estimated. */
  readonly pinned: boolean
  /** The estimated complexity score (computed even when pinned). */
  readonly score: number
  readonly factors: Factors
  readonly words: number
  /** Step budget for progress reporting. */
  readonly steps: number
  readonly model: string
  readonly thinking: Thinking
  readonly maxTokens: number
}

export interface PlanOptions {
  readonly pinnedLevel?: Level | undefined
  readonly levels?: Partial<Record<Level, Partial<LevelConfig>>> | undefined
  readonly keywords?: ReadonlyArray<string> | undefined
}

// ---------------------------------------------------------------------------------------------
// scoring (pure)

const CJK = /[\u3400-\u9fff\uf900-\ufaff]/g
const CODE = [
  /```/,
  /`[^`\n]+`/,
  /\b(?:function|def|class|const|let|var|import|return|fn|func|public|private|struct|interface|SELECT|INSERT)\s+[\w*]/,
  /=>|->|::|==|!=|<=|>=|&&|\|\||\+\+/,
  /\w\([^()\n]*\)\s*[{;:]/,
  /[{}]/,
  /\d\s*[-+*/^=×÷%]\s*\d/,
  /[∑∫√∞≠≈π∂∆]/,
  /\\(?:frac|sum|int|sqrt|alpha|beta|cdot|times)\b/,
  /\$[^$\n]+\$/
]
const SUBORDINATORS =
  /\b(?:because|although|though|which|whereas|unless|if|when|whether|while|since|however|therefore|otherwise)\b/gi
const NEGATIVE =
  /\b(?:not|never|broken|breaks?|fail(?:s|ed|ing|ure)?|errors?|crash(?:es|ed|ing)?|bugs?|wrong|stuck|hate|angry|annoy(?:ed|ing)?|frustrat\w*|terrible|awful|useless|slow|can't|cannot|doesn't|won't|urgent|problem|issue)\b|错误|失败|崩溃|不行|糟糕/gi
const POSITIVE = /\b(?:thanks?|thank you|great|love|good|nice|awesome|excellent|appreciate|happy|please)\b|谢谢|很好/gi

const countMatches = (re: RegExp, s: string): number => {
  re.lastIndex = 0
  let n = 0
  while (re.exec(s) !== null) n++
  return n
}

export const countWords = (message: string): number => {
  const cjk = countMatches(CJK, message)
  const latin = message
    .replace(CJK, " ")
    .split(/\s+/)
    .filter((w) => /[\p{L}\p{N}]/u.test(w)).length
  return latin + Math.ceil(cjk / 2)
}

const keywordRegex = (keywords: ReadonlyArray<string>): RegExp => {
  const parts = keywords.map((k) => {
    const esc = k.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")
    // biome-ignore lint/suspicious/noControlCharactersInRegex: an ASCII-range test, \x00 is intended
    return /^[\x00-\x7f]+$/.test(k) ? `\\b${esc}` : esc
  })
  return new RegExp(parts.join("|"), "i")
}
const defaultKeywordRegex = keywordRegex(defaultKeywords)

export const score = (
  message: string,
  options: { readonly keywords?: ReadonlyArray<string> | undefined } = {}
): { readonly score: number; readonly factors: Factors; readonly words: number } => {
  const words = countWords(message)
  const kw = options.keywords === undefined ? defaultKeywordRegex : keywordRegex(options.keywords)
  const factors: Factors = {
    keywords: (options.keywords?.length === 0 ? false : kw.test(message)) ? 3 : 0,
    code: CODE.some((re) => re.test(message)) ? 4 : 0,
    length: Math.min(Math.floor(words / 10), 3),
    syntax: Math.min(Math.floor((countMatches(/[,;:，；：]/g, message) + countMatches(SUBORDINATORS, message)) / 3), 3),
    sentiment: countMatches(NEGATIVE, message) > countMatches(POSITIVE, message) ? 2 : 0
  }
  return {
    score: factors.keywords + factors.code + factors.length + factors.syntax + factors.sentiment,
    factors,
    words
  }
}

export const levelFor = (s: number): Level => (s <= 3 ? 1 : s <= 6 ? 2 : s <= 9 ? 3 : 4)

export const stepsFor = (baseSteps: number, words: number): number =>
  baseSteps + Math.min(Math.floor(words / 20), Math.floor(baseSteps / 2))

export const plan = (message: string, options: PlanOptions = {}): ReasoningPlan => {
  const s = score(message, { keywords: options.keywords })
  const level = options.pinnedLevel ?? levelFor(s.score)
  const config: LevelConfig = { ...defaultLevels[level], ...options.levels?.[level] }
  return {
    level,
    pinned: options.pinnedLevel !== undefined,
    score: s.score,
    factors: s.factors,
    words: s.words,
    steps: stepsFor(config.baseSteps, s.words),
    model: config.model,
    thinking: config.thinking,
    maxTokens: config.maxTokens
  }
}

/** The plan's model, thinking and max tokens on a request (what the request already sets wins). */
export const apply = (p: ReasoningPlan, request: ModelRequest): ModelRequest => ({
  ...request,
  model: request.model ?? p.model,
  thinking: request.thinking ?? p.thinking,
  maxTokens: request.maxTokens ?? p.maxTokens
})

// ---------------------------------------------------------------------------------------------
// progress

export type Update = Extract<Payload, { readonly _tag: "ReasoningUpdate" }>
export type Status = Update["status"]

export interface Tracker {
  /** The update to emit first (status `planning`, step 0). */
  readonly initial: () => Update
  /** Feed one model event; returns an update when step or status changed. */
  readonly next: (event: ModelEvent) => Update | undefined
  /** The update to emit when the stream fails. */
  readonly failed: () => Update
}

/** A synchronous progress tracker for one run (see the module doc for the exact rules). */
export const track = (p: Pick<ReasoningPlan, "steps" | "maxTokens">): Tracker => {
  const total = Math.max(1, p.steps)
  let status: Status = "planning"
  let step = 0
  let paragraphs = 0
  let inParagraph = false
  let newlines = 0
  let chars = 0
  let reported: number | undefined
  let last: { step: number; status: Status } | undefined

  const make = (): Update => ({ _tag: "ReasoningUpdate", step, total, status, progress: Math.round((1000 * step) / total) / 1000 })
  const emitIfChanged = (): Update | undefined => {
    if (last !== undefined && last.step === step && last.status === status) return undefined
    last = { step, status }
    return make()
  }
  const recompute = () => {
    const tokens = reported ?? Math.ceil(chars / 4)
    const tokenSteps = p.maxTokens > 0 ? Math.floor((total * tokens) / p.maxTokens) : 0
    step = Math.max(step, Math.min(total - 1, Math.max(paragraphs, tokenSteps)))
  }
  const thinkingText = (text: string) => {
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i)
      if (c === 10) {
        newlines++
        if (newlines === 2 && inParagraph) {
          paragraphs++
          inParagraph = false
        }
      } else if (c !== 32 && c !== 9 && c !== 13) {
        newlines = 0
        inParagraph = true
      }
    }
  }
  const reset = () => {
    status = "planning"
    step = 0
    paragraphs = 0
    inParagraph = false
    newlines = 0
    chars = 0
    reported = undefined
  }

  return {
    initial: () => {
      last = { step, status }
      return make()
    },
    failed: () => {
      status = "error"
      last = { step, status }
      return make()
    },
    next: (event) => {
      switch (event._tag) {
        case "ThinkingDelta":
          status = "reasoning"
          chars += event.text.length
          thinkingText(event.text)
          break
        case "ThinkingEnd":
          if (inParagraph) paragraphs++
          inParagraph = false
          newlines = 0
          break
        case "TextDelta":
          status = "answering"
          chars += event.text.length
          break
        case "ToolUseStart":
          status = "answering"
          break
        case "ToolInputDelta":
          status = "answering"
          chars += event.partialJson.length
          break
        case "MessageDelta":
          reported = event.usage.outputTokens
          break
        case "MessageEnd":
          status = "completed"
          step = total
          return emitIfChanged()
        case "Rollback":
          reset()
          return emitIfChanged()
        default:
          return undefined
      }
      recompute()
      return emitIfChanged()
    }
  }
}

/**
 * Model events in, `ReasoningUpdate` payloads out: one `planning` update first, then one per change
 * of step or status; on failure an `error` update, then the same failure.
 */
export const progress =
  (p: Pick<ReasoningPlan, "steps" | "maxTokens">) =>
  <E, R>(self: Stream.Stream<ModelEvent, E, R>): Stream.Stream<Update, E, R> =>
    Stream.suspend(() => {
      const tracker = track(p)
      return Stream.concat(
        Stream.sync(() => tracker.initial()),
        self.pipe(
          Stream.mapConcat((e) => {
            const u = tracker.next(e)
            return u === undefined ? [] : [u]
          }),
          Stream.catchAll((error) => Stream.concat(Stream.sync(() => tracker.failed()), Stream.fail(error)))
        )
      )
    })
