/**
 * Test harness: a real gateway on 127.0.0.1:0 over the real Conversations runtime (in-memory
 * SQLite store) and the scripted offline model; a small `ws` client that speaks the protocol.
 */
import { Conversations, Model } from "@sluice/core"
import { Context, Effect, Exit, Layer, Logger, LogLevel, Scope, Stream } from "effect"
import { Packr } from "msgpackr"
import WebSocket from "ws"
import { Gateway } from "../../src/index.js"
import * as SqliteStore from "@sluice/core/sqlite/SqliteStore"

export interface Started {
  readonly info: Gateway.Info
  /** The conversations service under the gateway (to set up what a client could not, e.g. data from before ids were scoped). */
  readonly conversations: Conversations.ConversationsService
  readonly close: () => Promise<void>
}

export const start = async (
  options: Gateway.Options & {
    readonly tokensPerSecond?: number
    readonly words?: number
    readonly thinking?: boolean
    readonly model?: Layer.Layer<Model.Model>
  } = {}
): Promise<Started> => {
  const { tokensPerSecond, words, thinking, model, ...gateway } = options
  const stack = Gateway.layer({ port: 0, ...gateway }).pipe(
    // the access log's line per request stays out of the test output
    Layer.provide(Logger.minimumLogLevel(LogLevel.Warning)),
    Layer.provideMerge(SqliteStore.layerConversationsMemory()),
    Layer.provideMerge(
      model ?? Model.layerScripted({ tokensPerSecond: tokensPerSecond ?? 400, words: words ?? 60, thinking: thinking ?? false })
    )
  )
  const scope = Effect.runSync(Scope.make())
  const ctx = await Effect.runPromise(Layer.buildWithScope(stack, scope))
  return {
    info: Context.get(ctx, Gateway.Gateway),
    conversations: Context.get(ctx, Conversations.Conversations),
    close: () => Effect.runPromise(Scope.close(scope, Exit.void))
  }
}

const packr = new Packr({ useRecords: false })

export type Frame = Record<string, any>

export class Client {
  readonly frames: Array<Frame> = []
  closed: { code: number; reason: string } | undefined
  private waiters: Array<() => void> = []
  private nextId = 1

  constructor(readonly ws: WebSocket) {
    ws.on("message", (data, isBinary) => {
      const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer)
      this.frames.push(isBinary ? packr.unpack(buf) : JSON.parse(buf.toString("utf8")))
      this.wake()
    })
    ws.on("close", (code, reason) => {
      this.closed = { code, reason: reason.toString() }
      this.wake()
    })
  }

  private wake() {
    const w = this.waiters
    this.waiters = []
    for (const f of w) f()
  }

  /** Resolves when `pred` holds, checked after every frame; rejects after `ms`. */
  until<A>(pred: () => A | undefined | false, ms = 10_000, what = "condition"): Promise<A> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}; frames: ${JSON.stringify(this.frames.slice(-5))}`)), ms)
      const check = () => {
        const v = pred()
        if (v) {
          clearTimeout(timer)
          resolve(v)
        } else this.waiters.push(check)
      }
      check()
    })
  }

  sendRaw(data: string | Buffer) {
    this.ws.send(data)
  }

  async request(frame: Frame, ms = 10_000): Promise<Frame> {
    const id = this.nextId++
    this.ws.send(JSON.stringify({ ...frame, id }))
    return this.until(() => this.frames.find((f) => f.type === "res" && f.id === id), ms, `response to ${frame.type}`)
  }

  /** Every reply event received, batches flattened, in arrival order. */
  events(conversationId?: string): Array<Frame> {
    const out: Array<Frame> = []
    for (const f of this.frames) {
      if (f.type === "event") out.push(f.event)
      else if (f.type === "batch") out.push(...f.events)
    }
    return conversationId === undefined ? out : out.filter((e) => e.conversationId === conversationId)
  }

  runEnded(conversationId: string, ms = 15_000) {
    return this.until(() => this.events(conversationId).find((e) => e._tag === "RunEnded"), ms, "RunEnded")
  }

  close() {
    this.ws.terminate()
  }
}

export const open = (url: string, options: { headers?: Record<string, string>; perMessageDeflate?: boolean } = {}) =>
  new Promise<Client>((resolve, reject) => {
    const ws = new WebSocket(url, { headers: options.headers ?? {}, perMessageDeflate: options.perMessageDeflate ?? false })
    const client = new Client(ws)
    ws.once("open", () => resolve(client))
    ws.once("error", reject)
  })

/** Opens, says hello, waits for welcome. */
export const connect = async (
  url: string,
  hello: { token?: string; encoding?: "json" | "msgpack" } = {},
  options: { perMessageDeflate?: boolean } = {}
) => {
  const c = await open(url, options)
  c.sendRaw(JSON.stringify({ type: "hello", protocol: 1, ...hello }))
  await c.until(() => c.frames.find((f) => f.type === "welcome") ?? c.closed, 5000, "welcome")
  return c
}

/** A model that writes `deltas` text deltas of `size` characters as fast as it can; a message
 * `"warm up"` gets a short answer instead (so a warm-up does not grow the socket buffers). */
export const firehose = (deltas: number, size: number): Layer.Layer<Model.Model> =>
  Layer.succeed(Model.Model, {
    name: "firehose",
    stream: (request) => {
      const warmUp = request.messages.at(-1)?.content === "warm up"
      return Stream.fromIterable([
        { _tag: "MessageStart", messageId: "m", model: "firehose", usage: { inputTokens: 1, outputTokens: 0 } } as const,
        ...Array.from({ length: warmUp ? 3 : deltas }, (_, i) => ({ _tag: "TextDelta", index: 0, text: `${i} ${"x".repeat(size - 8)}\n\n` }) as const),
        { _tag: "MessageStart", messageId: "m", model: "firehose", usage: { inputTokens: 1, outputTokens: 0 } } as const,
        ...Array.from({ length: deltas }, (_, i) => ({ _tag: "TextDelta", index: 0, text: `${i} ${"x".repeat(size - 8)}\n\n` }) as const),
        { _tag: "TextEnd", index: 0 } as const,
        { _tag: "MessageDelta", stopReason: "end_turn", usage: { inputTokens: 1, outputTokens: deltas } } as const,
        { _tag: "MessageEnd" } as const
      ]).pipe(Stream.rechunk(1))
    }
  })
