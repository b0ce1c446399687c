/**
 * A bounded outbox: what sits between ONE subscriber and the events published to it.
 *
 * The publisher (the event log, right after a commit) only ever calls `offer`, which is
 * synchronous, O(events) and never waits, so a slow subscriber can never delay a commit or another
 * subscriber. The consumer takes everything waiting in one go (`takeAll`, a natural batch).
 * At the bound — more than `maxEvents` events or `maxBytes` (approximate, see `sizeOf`) waiting —
 * the outbox drops what it holds and is marked `overflowed`: nothing more is buffered for it until
 * the consumer calls `reset`. Nothing is lost by that: every published event is already committed,
 * so a consumer that overflowed reads on from the log after its last seq (`Conversations.subscribe`
 * does that transparently) or tells its client to resume from its last seq (WebSocket close 4008,
 * an SSE stream that ends so the client reconnects with `Last-Event-ID`).
 *
 * Memory per outbox is therefore bounded by `maxBytes` plus the array of references.
 *
 * @since 0.2.0
 */
import { Effect } from "effect"
import type { ReplyEvent } from "./ReplyEvent.js"

export interface Options {
  /** Events waiting above which the outbox overflows (default 1,024). */
  readonly maxEvents?: number | undefined
  /** Approximate bytes waiting above which the outbox overflows (default 4 MiB). */
  readonly maxBytes?: number | undefined
}

export const defaults = { maxEvents: 1024, maxBytes: 4 * 1024 * 1024 } as const

/** Approximate encoded size of an event (its text plus a fixed overhead), without encoding it. */
export const sizeOf = (e: ReplyEvent): number => {
  let n = 160
  if ("text" in e && typeof e.text === "string") n += e.text.length
  return n
}

export class Outbox {
  readonly maxEvents: number
  readonly maxBytes: number
  private buffer: Array<ReplyEvent> = []
  private size = 0
  private waiter: (() => void) | undefined
  /** The bound was passed; nothing is buffered until `reset`. */
  overflowed = false
  closed = false

  constructor(options: Options = {}) {
    this.maxEvents = Math.max(1, options.maxEvents ?? defaults.maxEvents)
    this.maxBytes = Math.max(1, options.maxBytes ?? defaults.maxBytes)
  }

  /** Events waiting. */
  get length(): number {
    return this.buffer.length
  }

  /** Approximate bytes waiting. */
  get bytes(): number {
    return this.size
  }

  /** Adds events (never waits). False when the outbox is (now) overflowed or closed. */
  offer(events: ReadonlyArray<ReplyEvent>): boolean {
    if (this.closed || this.overflowed) return false
    for (const e of events) {
      this.buffer.push(e)
      this.size += sizeOf(e)
    }
    if (this.buffer.length > this.maxEvents || this.size > this.maxBytes) {
      this.overflowed = true
      this.buffer = []
      this.size = 0
    }
    this.notify()
    return !this.overflowed
  }

  /** Everything waiting, in order; empties the outbox. */
  takeAll(): ReadonlyArray<ReplyEvent> {
    const out = this.buffer
    if (out.length === 0) return out
    this.buffer = []
    this.size = 0
    return out
  }

  /** Accept events again after an overflow (the consumer has caught up some other way). */
  reset(): void {
    this.overflowed = false
    this.buffer = []
    this.size = 0
  }

  /** No more events will come; a waiting consumer is woken. */
  close(): void {
    this.closed = true
    this.notify()
  }

  /** Completes once there is something to take, the outbox overflowed, or it was closed. */
  readonly wait: Effect.Effect<void> = Effect.async<void>((resume) => {
    if (this.buffer.length > 0 || this.overflowed || this.closed) return resume(Effect.void)
    this.waiter = () => resume(Effect.void)
    return Effect.sync(() => {
      this.waiter = undefined
    })
  })

  private notify() {
    const w = this.waiter
    if (w !== undefined) {
      this.waiter = undefined
      w()
    }
  }
}

export const make = (options?: Options): Outbox => new Outbox(options)
