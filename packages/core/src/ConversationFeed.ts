/**
 * Local, callback subscriptions to conversations: for a server in the same process that holds
 * thousands of subscribers (the gateway's WebSocket connections and its run tracker), where a
 * fiber and a Stream per subscriber would be most of the memory.
 *
 * This is deliberately NOT part of `Conversations`: a conversation hosted elsewhere (a cluster
 * entity) can stream events to this process but cannot call a callback in it synchronously.
 * `Conversations.layer` provides a feed on its own actors; `fromConversations` builds one on any
 * `Conversations` implementation (a fiber per listener running `subscribe`).
 *
 * @since 0.2.0
 */
import { Context, Effect, Exit, Fiber, Runtime, Stream } from "effect"
import type { EventsExpired, StoreError } from "./ConversationError.js"
import type { ConversationsService } from "./Conversations.js"
import type { ReplyEvent } from "./ReplyEvent.js"

export interface ConversationFeedService {
  /**
   * The same events as `Conversations.subscribe`, pushed to `onEvents`: first the replay after
   * `fromSeq` (if any), then each live event once it is committed, in seq order, no gap, no
   * duplicate. `onEvents` must be cheap and must not throw (one that throws is removed); it is
   * called on the writer, right after the commit. Succeeds with the function that stops listening
   * (idempotent); until it is called the conversation stays active. `onEnd` is called if the
   * conversation is deleted (`Conversations.remove`): no event follows, and the listener is
   * already stopped.
   */
  readonly listen: (
    conversationId: string,
    options: { readonly fromSeq?: number | undefined } | undefined,
    onEvents: (events: ReadonlyArray<ReplyEvent>) => void,
    onEnd?: () => void
  ) => Effect.Effect<() => void, StoreError | EventsExpired>
}

export class ConversationFeed extends Context.Tag("@sluice/core/ConversationFeed")<ConversationFeed, ConversationFeedService>() {}

/**
 * A feed on any `Conversations` (e.g. one whose conversations live in a cluster): each listener is
 * a fiber running `subscribe`. It succeeds at once; a failure of the subscription (EventsExpired,
 * StoreError) ends the listener and is logged.
 */
export const fromConversations = (conversations: ConversationsService): Effect.Effect<ConversationFeedService> =>
  Effect.map(Effect.runtime<never>(), (runtime) => {
    const runFork = Runtime.runFork(runtime)
    return {
      listen: (conversationId, options, onEvents, onEnd) =>
        Effect.sync(() => {
          const fiber = runFork(
            conversations.subscribe(conversationId, options).pipe(
              Stream.runForEachChunk((chunk) => Effect.sync(() => onEvents([...chunk]))),
              Effect.onExit((exit) =>
                Exit.isSuccess(exit)
                  ? Effect.sync(() => onEnd?.()) // the stream ends only when the conversation is deleted
                  : Exit.isInterrupted(exit)
                    ? Effect.void
                    : Effect.logWarning(`listener on ${conversationId} ended`, exit.cause)
              )
            )
          )
          let stopped = false
          return () => {
            if (stopped) return
            stopped = true
            runFork(Fiber.interrupt(fiber))
          }
        })
    }
  })
