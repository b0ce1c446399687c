/**
 * Cuts a model's streaming text into readable blocks: between `minChars` and `maxChars` UTF-16
 * code units, at the best break available (paragraph → newline → sentence → whitespace → hard
 * cut), never inside a code fence while a safe break exists. When a block must be cut at
 * `maxChars` inside a fence, the fence is closed at the end of the block and reopened at the
 * start of the next (same marker, indent and info string), within the budget, so every block is
 * valid Markdown and none is longer than `maxChars`.
 *
 * Each block carries `source`, the exact slice of input it consumed (separators included,
 * synthetic fence lines excluded): joining every block's `source`, then `buffered`, gives back
 * the input byte for byte. Cost is linear in the input: each character is scanned once and a
 * drain only looks at candidate positions, never rescanning the buffer.
 *
 * Semantics follow the reference chunker (openclaw `EmbeddedBlockChunker` 2026.9.6, see
 * shared/research/openclaw-behaviour.md §1) with the differences listed in the module README of
 * `make` below.
 *
 * @since 0.1.0
 */
import { Stream } from "effect"
import { type Block as Block_, Chunker } from "./internal/chunker.js"
import type { BreakPreference } from "./StreamingSettings.js"

/** A block: `text` to show, `source` the exact input slice it consumed. */
export type Block = Block_

export interface Options {
  /** Low bound: a non-forced drain emits nothing shorter (floored, at least 1). */
  readonly minChars: number
  /** High bound: no block's text is longer (floored, at least minChars; Infinity allowed). */
  readonly maxChars: number
  /** Default "paragraph" (tries paragraph, newline, sentence); "newline" and "sentence" try only that. */
  readonly breakPreference?: BreakPreference | undefined
  /** `chunkMode: newline`: once minChars is reached, emit at every blank line. Default false. */
  readonly flushOnParagraph?: boolean | undefined
}

export interface BlockChunker {
  /** Add model text (a delta). Cost: proportional to `text.length`. */
  append(text: string): void
  /**
   * The blocks ready now. Non-forced: only blocks of at least minChars at a good break (or cuts at
   * maxChars). Forced: everything left, as one block when it fits in maxChars; whitespace-only
   * remainders yield `text: ""` with their `source` (or extend the last block's `source`).
   */
  drain(options?: { readonly force?: boolean | undefined }): ReadonlyArray<Block>
  /** The input not yet consumed by any block (source text, without synthetic fence lines). */
  readonly buffered: string
}

/**
 * A synchronous chunker.
 *
 * Differences from the reference (deliberate):
 * - `source` on every block; separators the reference drops are kept in `source`.
 * - Leading "\n"s after a cut are skipped even when they arrive in a later delta (the reference
 *   only skips the ones already buffered), so block text never starts with a stray newline.
 * - A whitespace-only piece is never emitted as a block during streaming; its source is carried
 *   into the next block. Only a forced drain of a whitespace-only remainder yields `text: ""`.
 * - Fence state is tracked over the whole stream, so an opener at the start of a buffer that
 *   begins mid-line (after a whitespace cut) is still recognised correctly.
 * - A "." at the very end of a non-forced buffer is not a sentence end yet (the next delta may be
 *   "5"); at the end of a full window or of a forced drain it is, as in the reference.
 * - Fence close/reopen needs room for at least 2 content code units (the reference: 1), so a
 *   surrogate pair never forces a block past maxChars.
 * - A split inside a fence ends at the last line end in the window's second half, so code lines
 *   stay whole; the reference cuts at maxChars mid-line. One line longer than that is still cut.
 * - Indented code blocks are not re-rendered as fenced blocks (reference §1.8).
 *
 * Blocks below minChars come only from a forced drain, with two exceptions: the text before a code
 * fence that cannot fit in the same block (opener, content and closer over maxChars) goes out alone,
 * and a block whose over-long fence opener was rewritten as its bare marker can shrink below it.
 *
 * A block never exceeds maxChars, with one exception: a block holds at least one whole code point,
 * so with maxChars 1 a surrogate pair (an emoji) is a block of 2 UTF-16 units.
 */
export const make = (options: Options): BlockChunker => {
  const min = Math.max(1, Math.floor(Number.isFinite(options.minChars) ? options.minChars : 1))
  const rawMax = Number.isNaN(options.maxChars) ? Number.POSITIVE_INFINITY : options.maxChars
  const max = Math.max(min, Math.floor(rawMax))
  const c = new Chunker({
    minChars: min,
    maxChars: max,
    breakPreference: options.breakPreference ?? "paragraph",
    flushOnParagraph: options.flushOnParagraph ?? false
  })
  return {
    append: (text) => c.append(text),
    drain: (o) => c.drain(o?.force === true),
    get buffered() {
      return c.buffered
    }
  }
}

/**
 * Stream combinator: text deltas in, blocks out. Drains (non-forced) after every delta, as a
 * `text_end` pipeline does, and force-drains when the input ends.
 */
export const chunk =
  (options: Options) =>
  <E, R>(self: Stream.Stream<string, E, R>): Stream.Stream<Block, E, R> =>
    Stream.suspend(() => {
      const c = make(options)
      return self.pipe(
        Stream.mapConcat((text) => {
          c.append(text)
          return c.drain()
        }),
        Stream.concat(Stream.suspend(() => Stream.fromIterable(c.drain({ force: true }))))
      )
    })

/** Input for `chunkWithFlush`: text, or a forced drain point (a text end, a tool call …). */
export type Input = { readonly _tag: "Text"; readonly text: string } | { readonly _tag: "Flush" }

export const text = (text: string): Input => ({ _tag: "Text", text })
export const flush: Input = { _tag: "Flush" }

/**
 * Like `chunk`, with explicit force points: `Text` appends and drains, `Flush` force-drains.
 * The input's end force-drains too. `drainEachText: false` only appends on `Text` (the
 * `message_end` mode: everything comes out at the `Flush`).
 */
export const chunkWithFlush =
  (options: Options & { readonly drainEachText?: boolean | undefined }) =>
  <E, R>(self: Stream.Stream<Input, E, R>): Stream.Stream<Block, E, R> =>
    Stream.suspend(() => {
      const c = make(options)
      const eager = options.drainEachText !== false
      return self.pipe(
        Stream.mapConcat((input): ReadonlyArray<Block> => {
          if (input._tag === "Flush") return c.drain({ force: true })
          c.append(input.text)
          return eager ? c.drain() : []
        }),
        Stream.concat(Stream.suspend(() => Stream.fromIterable(c.drain({ force: true }))))
      )
    })
