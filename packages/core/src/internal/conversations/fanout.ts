/**
 * One actor's subscribers, and the Drafts they were sent (`DraftLog`: resume mid-run replays them
 * from memory). `publish` runs right after a commit, on the writer (a Draft: right away), and only appends to
 * bounded outboxes (`Outbox.offer`, never waits) and calls local listeners, which must be as cheap
 * (the gateway's WebSocket connections hand events to a socket with its own bound and 4008 rule).
 * A listener that throws is removed.
 *
 * @internal
 */
import type { Outbox } from "../../Outbox.js"
import type { ReplyEvent } from "../../ReplyEvent.js"
import { DraftLog } from "./draftLog.js"

export type Listener = (events: ReadonlyArray<ReplyEvent>) => void

export class Fanout {
  private readonly boxes = new Set<Outbox>()
  /** Each listener with what to call when the conversation ends under it (deleted). */
  private readonly listeners = new Map<Listener, () => void>()
  /** The running attempt's published Drafts (they are not in the log). */
  readonly drafts = new DraftLog()

  /**
   * @param lastPublished the highest seq published so far: for an actor just loaded, everything in
   *   its log (`nextSeq - 1`); events are published in seq order, so every later one is above it.
   */
  constructor(public lastPublished = 0) {}

  get size(): number {
    return this.boxes.size + this.listeners.size
  }

  /** Events waiting in each outbox (tests: the bound holds). */
  outboxLengths(): Array<number> {
    return [...this.boxes].map((b) => b.length)
  }

  addOutbox(box: Outbox): void {
    this.boxes.add(box)
  }
  removeOutbox(box: Outbox): void {
    this.boxes.delete(box)
  }
  addListener(l: Listener, onEnd: () => void = () => {}): void {
    this.listeners.set(l, onEnd)
  }
  removeListener(l: Listener): void {
    this.listeners.delete(l)
  }

  publish(events: ReadonlyArray<ReplyEvent>): void {
    if (events.length === 0) return
    this.lastPublished = events[events.length - 1]!.seq
    this.drafts.published(events)
    for (const box of this.boxes) box.offer(events)
    for (const l of this.listeners.keys()) {
      try {
        l(events)
      } catch {
        this.listeners.delete(l) // a broken listener must not break the commit that publishes
      }
    }
  }

  /**
   * The conversation was deleted: outboxes end their streams and every listener's `onEnd` runs
   * (it releases the listener's lease), so nobody goes on hearing a conversation of that id.
   */
  end(): void {
    const ends = [...this.listeners.values()]
    this.close()
    for (const onEnd of ends) {
      try {
        onEnd()
      } catch {
        // one listener's failure must not keep the others subscribed
      }
    }
  }

  /** The actor is going away: outboxes end their streams; listeners are dropped. */
  close(): void {
    this.drafts.clear()
    for (const box of this.boxes) box.close()
    this.boxes.clear()
    this.listeners.clear()
  }
}
