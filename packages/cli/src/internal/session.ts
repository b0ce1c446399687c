/** What send and chat need from a conversation, embedded (in-process) or remote (gateway WebSocket). */
import type { HistoryMessage } from "@sluice/core/Conversations"
import type { ReplyEvent } from "@sluice/core/ReplyEvent"
import type { Effect, Stream } from "effect"

export interface SessionError {
  readonly _tag: string
  readonly message: string
}

export interface Session {
  /** The model's name ("offline demo model", "claude-…"). */
  readonly model: string
  readonly offline: boolean
  readonly conversationId: string
  readonly send: (text: string) => Effect.Effect<{ readonly seq: number; readonly messageId: string }, SessionError>
  readonly stop: Effect.Effect<boolean, SessionError>
  readonly history: Effect.Effect<ReadonlyArray<HistoryMessage>, SessionError>
  /** Every event after `fromSeq`, then live (remote: reconnects and resumes from the last seq seen). */
  readonly events: (fromSeq: number) => Stream.Stream<ReplyEvent, SessionError>
  /** Reconnection state changes (remote only), for a status line. */
  readonly status?: Stream.Stream<"connected" | "reconnecting"> | undefined
}
