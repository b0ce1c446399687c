/**
 * The pipeline's synchronous part: model events in, coalescer inputs out (block texts, forced
 * flushes, resets, and pass-through reply payloads). `Pipeline.ts` wires it to the Coalescer and
 * HumanDelay.
 */
import * as BlockChunker from "../BlockChunker.js"
import type * as Coalescer from "../Coalescer.js"
import type { ModelEvent } from "../ModelEvent.js"
import type { Payload } from "../ReplyEvent.js"
import type { StreamingSettings } from "../StreamingSettings.js"

type In = Coalescer.Input<Payload>

export class PipelineState {
  private readonly blocks: boolean
  private readonly eager: boolean
  private chunker: BlockChunker.BlockChunker | undefined
  /**
   * Visible text of the current attempt (see `visible`). With block streaming it is the `source`s
   * of the blocks drained so far followed by the chunker's `buffered` text (the chunker's contract:
   * together they are the input, byte for byte), so the deltas are joined into a string only once,
   * by the chunker. Without it, `text` followed by this step's deltas in `pending`, joined once per
   * step. Either way no string is built per delta (a ConsString per delta, alive until the Final,
   * made the garbage collector a third of the pipeline's CPU time).
   */
  private text = ""
  private readonly pending: Array<string> = []
  /** This step's deltas since the last Draft or Final: the next Draft's text. */
  private readonly grown: Array<string> = []
  /** Length of the visible text. */
  private textLength = 0
  /** Length of the visible text when the last Draft or Final went out. */
  private shownLength = 0
  /** This attempt's tool calls: the model's content-block index → the call's index (0, 1, …). */
  private readonly tools = new Map<number, number>()
  /** A Final is owed: nothing (or something newer than the last Final) happened. */
  private finalOwed = true

  constructor(private readonly settings: StreamingSettings) {
    this.blocks = settings.blockStreaming
    this.eager = settings.blockStreamingBreak === "text_end"
    this.chunker = this.blocks ? this.newChunker() : undefined
  }

  private newChunker(): BlockChunker.BlockChunker {
    const c = this.settings.chunk
    return BlockChunker.make({
      minChars: c.minChars,
      maxChars: c.maxChars,
      breakPreference: c.breakPreference,
      flushOnParagraph: c.flushOnParagraph
    })
  }

  /** The whole visible text of the current attempt. */
  private visible(): string {
    if (this.chunker !== undefined) return this.text + this.chunker.buffered
    const p = this.pending
    if (p.length > 0) {
      this.text += p.length === 1 ? p[0]! : p.join("")
      p.length = 0
    }
    return this.text
  }

  private pushBlocks(out: Array<In>, blocks: ReadonlyArray<BlockChunker.Block>): void {
    for (let i = 0; i < blocks.length; i++) {
      const b = blocks[i]!
      this.text += b.source
      if (b.text.length > 0) out.push({ _tag: "Text", text: b.text })
    }
  }

  /** Forced drain of the chunker and a forced flush of the coalescer. */
  private forceAll(out: Array<In>): void {
    if (this.chunker === undefined) return
    this.pushBlocks(out, this.chunker.drain({ force: true }))
    out.push({ _tag: "Flush" })
  }

  private final(out: Array<In>, interrupted: boolean): void {
    this.forceAll(out)
    const text = this.visible()
    out.push({
      _tag: "Pass",
      value: interrupted ? { _tag: "Final", text, interrupted: true } : { _tag: "Final", text }
    })
    this.shownLength = this.textLength
    this.grown.length = 0
    this.finalOwed = false
  }

  /** One upstream chunk of model events. At most one Draft per call, after the chunk's events (or before a tool call). */
  step(events: ReadonlyArray<ModelEvent>): Array<In> {
    const out: Array<In> = []
    for (let i = 0; i < events.length; i++) {
      const ev = events[i]!
      switch (ev._tag) {
        case "TextDelta":
          if (ev.text.length === 0) break
          this.textLength += ev.text.length
          this.grown.push(ev.text)
          this.finalOwed = true
          if (this.chunker === undefined) this.pending.push(ev.text)
          else {
            this.chunker.append(ev.text)
            if (this.eager) this.pushBlocks(out, this.chunker.drain())
          }
          break
        case "TextEnd":
          if (this.eager) this.forceAll(out)
          break
        case "ThinkingDelta":
          if (ev.text.length > 0) out.push({ _tag: "Pass", value: { _tag: "ReasoningDelta", text: ev.text } })
          break
        case "ToolUseStart":
          // A tool call is a drain point: the text before it goes out first, whole.
          this.forceAll(out)
          this.draft(out)
          this.tools.set(ev.index, this.tools.size)
          out.push({ _tag: "Pass", value: { _tag: "ToolCall", index: this.tools.size - 1, id: ev.id, name: ev.name } })
          break
        case "ToolInputDelta": {
          const index = this.tools.get(ev.index)
          if (index !== undefined && ev.partialJson.length > 0) {
            out.push({ _tag: "Pass", value: { _tag: "ToolCallDelta", index, arguments: ev.partialJson } })
          }
          break
        }
        case "MessageEnd":
          this.final(out, false)
          break
        case "Rollback":
          out.push({ _tag: "Reset" })
          out.push({ _tag: "Pass", value: { _tag: "Rollback", attempt: ev.attempt, reason: ev.reason } })
          if (this.chunker !== undefined) this.chunker = this.newChunker()
          this.text = ""
          this.tools.clear()
          this.pending.length = 0
          this.grown.length = 0
          this.textLength = 0
          this.shownLength = 0
          this.finalOwed = true
          break
        default:
          break
      }
    }
    this.draft(out)
    return out
  }

  /** The text grown since the last Draft or Final, as a Draft. */
  private draft(out: Array<In>): void {
    if (this.textLength !== this.shownLength) {
      const g = this.grown
      const text = g.length === 1 ? g[0]! : g.join("")
      out.push({ _tag: "Pass", value: { _tag: "Draft", offset: this.shownLength, text } })
      this.shownLength = this.textLength
    }
    this.grown.length = 0
  }

  /** The input ended. Without a MessageEnd since the last text, the reply was cut short. */
  end(): Array<In> {
    const out: Array<In> = []
    if (this.finalOwed) this.final(out, true)
    return out
  }

  /** The input failed: deliver the text held back as blocks (no Final), then the failure. */
  fail(): Array<In> {
    const out: Array<In> = []
    this.forceAll(out)
    return out
  }
}
