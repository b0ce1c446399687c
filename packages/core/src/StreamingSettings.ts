/**
 * The effective streaming settings for one delivery target (agent × channel × account), after
 * defaults and clamping. `Config.resolve` produces them; `Pipeline` and channels consume them.
 *
 * @since 0.1.0
 */
export type BreakPreference = "paragraph" | "newline" | "sentence"

export interface ChunkSettings {
  readonly minChars: number
  readonly maxChars: number
  readonly breakPreference: BreakPreference
  /** `chunkMode: newline`: flush at paragraph boundaries once minChars is reached. */
  readonly flushOnParagraph: boolean
}

export interface CoalesceSettings {
  readonly minChars: number
  readonly maxChars: number
  readonly idleMs: number
  /** Derived from the break preference: paragraph "\n\n", newline "\n", sentence " ". */
  readonly joiner: string
}

export interface HumanDelaySettings {
  readonly mode: "off" | "natural" | "custom"
  readonly minMs: number
  readonly maxMs: number
}

export interface StreamingSettings {
  /** Block replies go out while the model writes; false = only the final reply. */
  readonly blockStreaming: boolean
  readonly blockStreamingBreak: "text_end" | "message_end"
  readonly chunk: ChunkSettings
  readonly coalesce: CoalesceSettings
  readonly humanDelay: HumanDelaySettings
  /** Outbound limits of the channel. */
  readonly textChunkLimit: number
  readonly chunkMode: "length" | "newline"
  readonly maxLinesPerMessage?: number | undefined
  /** Preview streaming: Telegram drafts (private chats), Slack edits of one message; `native`: the
   * platform's own streaming message (Slack `chat.startStream`). */
  readonly streamMode?: "partial" | "block" | "off" | "native" | undefined
  readonly draftChunk?: { readonly minChars: number; readonly maxChars: number; readonly breakPreference: BreakPreference } | undefined
}

export const joinerFor = (p: BreakPreference): string => (p === "paragraph" ? "\n\n" : p === "newline" ? "\n" : " ")

/** The defaults with no config at all (a web or terminal client): blocks 800/1200 on paragraphs. */
export const defaults: StreamingSettings = {
  blockStreaming: true,
  blockStreamingBreak: "text_end",
  chunk: { minChars: 800, maxChars: 1200, breakPreference: "paragraph", flushOnParagraph: false },
  coalesce: { minChars: 800, maxChars: 1200, idleMs: 1000, joiner: "\n\n" },
  humanDelay: { mode: "off", minMs: 800, maxMs: 2500 },
  textChunkLimit: 4000,
  chunkMode: "length"
}
