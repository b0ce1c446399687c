/**
 * One actor's subscribers. `publish` runs right after a commit, on the writer: it only appends to
 * bounded outboxes (`Outbox.offer`, never waits) and calls local listeners, which must be as cheap
 * (the gateway's WebSocket connections hand events to a socket with its own bound and 4008 rule).
 * A listener that throws is removed.
 *
 * @internal
 */
import type { Outbox } from "../../Outbox.js"
import type { ReplyEvent } from "../../ReplyEvent.js"

export type Listener = (events: ReadonlyArray<ReplyEvent>) => void

export class Fanout {
  private readonly boxes = new Set<Outbox>()
  /** Each listener with what to call when the conversation ends under it (deleted). */
  private readonly listeners = new Map<Listener, () => void>()

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
    for (const box of this.boxes) box.close()
    this.boxes.clear()
    this.listeners.clear()
  }
}
