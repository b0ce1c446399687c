/**
 * Model events in, reply payloads out, for one delivery target's effective settings
 * (`Config.resolve`): BlockChunker → Coalescer → HumanDelay.
 *
 * - `blockStreaming` on, `blockStreamingBreak: "text_end"`: every text delta is appended to the
 *   chunker and the blocks it has ready go on at once; each `TextEnd` force-drains the chunker and
 *   force-flushes the coalescer.
 * - `blockStreamingBreak: "message_end"`: deltas are only buffered; `MessageEnd` force-drains once
 *   (several blocks if the reply is longer than `chunk.maxChars`) and force-flushes the coalescer.
 * - `blockStreaming` off: no `Block` at all, only Drafts, reasoning and the Final.
 * - Blocks pass the Coalescer (`settings.coalesce`: joiner, maxChars, idle timer) and HumanDelay
 *   (`settings.humanDelay`: a pause before every block but the first). `Block.index` counts from 0
 *   and keeps counting across rollbacks, so `(run, index)` names one block for its whole life.
 * - `Final`: exactly one per message, at `MessageEnd`, after every block of it, with the whole
 *   visible text (the concatenation of the attempt's text deltas, separators included). It is the
 *   reply for history and clients; channel delivery knows it must not resend it after blocks. If the
 *   input ends without a `MessageEnd` after the last text, a Final with `interrupted: true` ends it.
 * - `Draft` (the visible text grew: `text` appended at `offset`): at most one per upstream chunk of
 *   model events, after that chunk's events, and only when the text grew — so a live preview follows
 *   every delta of a real (one event per chunk) model stream, while a batched stream yields one Draft
 *   per batch. The Drafts of an attempt, applied in order, give its visible text; offsets restart at 0
 *   after a Rollback. No Draft that the Final already covers.
 * - Thinking deltas → `ReasoningDelta`, never part of the visible text.
 * - Model `Rollback` → coalescer buffer dropped, `Rollback` payload, chunker and text reset; the next
 *   attempt starts from nothing. Blocks already sent are void (subscribers discard them).
 * - An input failure first delivers the text held back (as blocks, no Final), then fails.
 *
 * Time only through `Clock` (coalescer idle timer, human delay), randomness only through `Random`.
 *
 * @since 0.1.0
 */
import { Chunk, Option, Stream } from "effect"
import * as Coalescer from "./Coalescer.js"
import * as HumanDelay from "./HumanDelay.js"
import { PipelineState } from "./internal/pipeline.js"
import type { ModelEvent } from "./ModelEvent.js"
import type { Payload } from "./ReplyEvent.js"
import type { StreamingSettings } from "./StreamingSettings.js"

export const make =
  (settings: StreamingSettings) =>
  <E, R>(self: Stream.Stream<ModelEvent, E, R>): Stream.Stream<Payload, E, R> =>
    Stream.suspend(() => {
      const state = new PipelineState(settings)
      const inputs = self.pipe(
        Stream.mapChunks((events) => Chunk.unsafeFromArray(state.step(Chunk.toReadonlyArray(events)))),
        Stream.catchAll((e) => Stream.concat(Stream.suspend(() => Stream.fromIterable(state.fail())), Stream.fail(e))),
        Stream.concat(Stream.suspend(() => Stream.fromIterable(state.end())))
      )
      if (!settings.blockStreaming) {
        // Only pass-through payloads are produced; no coalescer, no pacing, no extra fiber.
        return inputs.pipe(
          Stream.mapChunks((ins) => Chunk.filterMap(ins, (i) => (i._tag === "Pass" ? passValue(i) : noValue)))
        )
      }
      let index = 0
      return inputs.pipe(
        Coalescer.coalesceWith(settings.coalesce),
        Stream.map((o): Payload => (o._tag === "Text" ? { _tag: "Block", index: index++, text: o.text } : o.value)),
        HumanDelay.pace(settings.humanDelay)
      )
    })

const noValue = Option.none<Payload>()
const passValue = (i: { readonly value: Payload }) => Option.some(i.value)
