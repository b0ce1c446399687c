/**
 * Discord adapter. Sending: `POST /api/v10/channels/{id}/messages` with the bot token, a `nonce`
 * and `enforce_nonce: true` (a retried create returns the same message instead of a duplicate),
 * `allowed_mentions: { parse: [] }` (no @everyone from model text), pacing from the
 * `X-RateLimit-Remaining` / `X-RateLimit-Reset-After` headers, and 429 waits from the JSON
 * `retry_after` (or `Retry-After`). Editing (preview streaming, `streamMode`): `PATCH
 * /channels/{id}/messages/{id}`, through the same per-channel pacing. Receiving: the Gateway WebSocket — Hello → Identify (or Resume
 * after a drop, with the session id and last seq) → heartbeats at the advertised interval →
 * `MESSAGE_CREATE` dispatches; `op 7` reconnects and resumes, `op 9` re-identifies; a missing heartbeat
 * ACK reconnects; reconnects back off exponentially with jitter.
 *
 * @since 0.1.0
 */
import type { HttpClient } from "@effect/platform"
import { HttpClientRequest } from "@effect/platform"
import { Effect, Option, Random, Redacted, Runtime, Stream } from "effect"
import WebSocket from "ws"
import { type Adapter, capabilities, ChannelError, type InboundMessage, RateLimited } from "./Channel.js"
import { delayMs } from "./internal/backoff.js"
import { field, fieldNumber, fieldText, redacted, request, scrub } from "./internal/http.js"
import * as RateLimiter from "./RateLimiter.js"

export interface Options {
  readonly accountId: string
  /** Bot token; kept Redacted until the Authorization header or the IDENTIFY/RESUME payload is built. */
  readonly token: string | Redacted.Redacted<string>
  /** REST base (default https://discord.com). */
  readonly baseUrl?: string | undefined
  /** Gateway URL (default wss://gateway.discord.gg/?v=10&encoding=json). */
  readonly gatewayUrl?: string | undefined
  /** Gateway intents (default GUILD_MESSAGES | DIRECT_MESSAGES | MESSAGE_CONTENT). */
  readonly intents?: number | undefined
  /** Connect to the gateway (default true). */
  readonly receive?: boolean | undefined
  /** First reconnect delay (default 1000 ms); doubles per failed attempt, jittered. */
  readonly reconnectMs?: number | undefined
  /** Reconnect delay cap (default 60 s). */
  readonly maxReconnectMs?: number | undefined
}

const CHANNEL = "discord"
export const DEFAULT_INTENTS = (1 << 9) | (1 << 12) | (1 << 15)

/** A MESSAGE_CREATE payload → the message a conversation gets (bots, including ourselves, ignored). */
export const parseMessageCreate = (accountId: string, d: unknown, selfId?: string): Option.Option<InboundMessage> => {
  const content = field(d, "content")
  const channelId = field(d, "channel_id")
  const authorId = field(d, "author", "id")
  if (typeof content !== "string" || content === "" || typeof channelId !== "string") return Option.none()
  if (field(d, "author", "bot") === true || (selfId !== undefined && authorId === selfId)) return Option.none()
  return Option.some({
    channel: CHANNEL,
    accountId,
    chatId: channelId,
    isPrivate: field(d, "guild_id") === undefined,
    messageId: fieldText(d, "id"),
    senderId: String(authorId ?? ""),
    text: content
  })
}

/** Close codes after which Discord says not to reconnect (Gateway docs, "Gateway Close Event Codes"). */
const FATAL_CLOSE: Readonly<Record<number, string>> = {
  4004: "Authentication failed",
  4010: "Invalid shard",
  4011: "Sharding required",
  4012: "Invalid API version",
  4013: "Invalid intent(s)",
  4014: "Disallowed intent(s)"
}
/** Close codes after which the session cannot be resumed: identify anew. */
const FRESH_CLOSE = new Set([4007, 4009])

/**
 * The Gateway client: a stream of MESSAGE_CREATE messages, reconnecting and resuming on drops.
 * Liveness: the first heartbeat goes at `interval · jitter`, then one per interval; a heartbeat due
 * while the previous one has no ACK (op 11) means a silently dead ("zombie") connection, which is
 * terminated and resumed. Reconnects back off exponentially with jitter from `reconnectMs` to
 * `maxReconnectMs` (reset once READY or RESUMED arrives), each logged as one line; a close code
 * Discord calls fatal (bad token, bad intents…) fails the stream with that reason.
 */
const gateway = (options: Options, token: Redacted.Redacted<string>): Stream.Stream<InboundMessage, ChannelError> =>
  Stream.asyncScoped<InboundMessage, ChannelError>((emit) =>
    Effect.gen(function* () {
      const runtime = yield* Effect.runtime<never>()
      const jitter = () => Runtime.runSync(runtime)(Random.next)
      const warn = (message: string) =>
        Runtime.runFork(runtime)(Effect.logWarning(scrub(`discord:${options.accountId} ${message}`, [token])).pipe(Effect.annotateLogs({ channel: CHANNEL, account: options.accountId })))
      const backoff = { initialMs: options.reconnectMs ?? 1000, maxMs: options.maxReconnectMs ?? 60_000 }
      return yield* Effect.acquireRelease(
        Effect.sync(() => {
          let closed = false
          let socket: WebSocket | undefined
          let timers: Array<ReturnType<typeof setTimeout>> = []
          let seq: number | null = null
          let sessionId: string | undefined
          let resumeUrl: string | undefined
          let selfId: string | undefined
          let failures = 0
          const clearTimers = () => {
            for (const t of timers) clearTimeout(t)
            timers = []
          }
          const connect = (resume: boolean) => {
            if (closed) return
            const url = resume && resumeUrl !== undefined ? resumeUrl : (options.gatewayUrl ?? "wss://gateway.discord.gg/?v=10&encoding=json")
            const ws = new WebSocket(url, { perMessageDeflate: false })
            socket = ws
            let acked = true
            let lastError: string | undefined
            const send = (op: number, d: unknown) => ws.readyState === WebSocket.OPEN && ws.send(JSON.stringify({ op, d }))
            const beat = (intervalMs: number) => {
              if (!acked) {
                warn(`Discord gateway: no heartbeat ACK within ${intervalMs} ms, reconnecting`)
                ws.terminate()
                return
              }
              acked = false
              send(1, seq)
            }
            ws.on("message", (raw) => {
              let p: { op: number; d?: unknown; s?: number | null; t?: string | null }
              try {
                p = JSON.parse(String(raw))
              } catch {
                return
              }
              if (typeof p.s === "number") seq = p.s
              switch (p.op) {
                case 10: {
                  clearTimers()
                  const intervalMs = (fieldNumber(p.d, "heartbeat_interval") ?? 41250)
                  timers.push(
                    setTimeout(() => {
                      beat(intervalMs)
                      timers.push(setInterval(() => beat(intervalMs), intervalMs))
                    }, intervalMs * jitter())
                  )
                  if (resume && sessionId !== undefined) send(6, { token: Redacted.value(token), session_id: sessionId, seq })
                  else send(2, { token: Redacted.value(token), intents: options.intents ?? DEFAULT_INTENTS, properties: { os: process.platform, browser: "sluice", device: "sluice" } })
                  break
                }
                case 11:
                  acked = true
                  break
                case 1:
                  send(1, seq)
                  break
                case 7:
                  ws.close(4000, "reconnect requested")
                  break
                case 9:
                  if (p.d !== true) {
                    sessionId = undefined
                    seq = null
                  }
                  ws.close(4000, "invalid session")
                  break
                case 0:
                  if (p.t === "READY") {
                    failures = 0
                    sessionId = field(p.d, "session_id") as string | undefined
                    resumeUrl = field(p.d, "resume_gateway_url") as string | undefined
                    selfId = field(p.d, "user", "id") as string | undefined
                  } else if (p.t === "RESUMED") {
                    failures = 0
                  } else if (p.t === "MESSAGE_CREATE") {
                    const m = parseMessageCreate(options.accountId, p.d, selfId)
                    if (Option.isSome(m)) emit.single(m.value)
                  }
                  break
              }
            })
            ws.on("error", (e) => {
              lastError = e.message
            })
            ws.on("close", (code) => {
              if (socket === ws) clearTimers()
              if (closed) return
              const fatal = FATAL_CLOSE[code]
              if (fatal !== undefined) {
                emit.fail(new ChannelError({ channel: CHANNEL, method: "gateway", status: code === 4004 ? 401 : 400, description: `${fatal} (close code ${code})` }))
                return
              }
              if (FRESH_CLOSE.has(code)) {
                sessionId = undefined
                seq = null
              }
              const ms = delayMs(failures++, jitter(), backoff)
              warn(`Discord gateway closed (code ${code}${lastError !== undefined ? `, ${lastError}` : ""}), reconnecting in ${ms} ms`)
              timers.push(setTimeout(() => connect(sessionId !== undefined), ms))
            })
          }
          connect(false)
          return () => {
            closed = true
            clearTimers()
            socket?.terminate()
          }
        }),
        (stop) => Effect.sync(stop)
      )
    })
  )

export const make = (options: Options): Effect.Effect<Adapter, never, HttpClient.HttpClient> =>
  Effect.gen(function* () {
    const http = yield* Effect.context<HttpClient.HttpClient>()
    const token = redacted(options.token)
    const base = `${(options.baseUrl ?? "https://discord.com").replace(/\/$/, "")}/api/v10`
    const limiter = yield* RateLimiter.make({ minIntervalMs: 0 })
    let nonceSeq = 0
    /** One REST call through the per-channel limiter: X-RateLimit pacing, 429 → wait and retry. */
    const call = (method: string, key: string, req: HttpClientRequest.HttpClientRequest) =>
      limiter.run(
        key,
        Effect.suspend(() => request(CHANNEL, method, req.pipe(HttpClientRequest.setHeaders({ authorization: `Bot ${Redacted.value(token)}` })), [token])).pipe(
          Effect.provide(http),
          Effect.flatMap((res): Effect.Effect<unknown, ChannelError | RateLimited> => {
            const remaining = res.headers["x-ratelimit-remaining"]
            const resetAfter = Number(res.headers["x-ratelimit-reset-after"])
            const pace = remaining === "0" && Number.isFinite(resetAfter) ? limiter.penalize(key, resetAfter * 1000) : Effect.void
            if (res.status === 429) {
              const after = (fieldNumber(res.json, "retry_after") ?? Number(res.headers["retry-after"] ?? 1))
              return Effect.zipRight(pace, Effect.fail(new RateLimited({ channel: CHANNEL, retryAfterMs: (Number.isFinite(after) ? after : 1) * 1000 })))
            }
            if (res.status >= 200 && res.status < 300) return Effect.as(pace, res.json)
            return Effect.fail(new ChannelError({ channel: CHANNEL, method, status: res.status, description: (fieldText(res.json, "message") || res.text) }))
          })
        )
      )
    const send: Adapter["send"] = (target, text) => {
      const nonce = `${Date.now().toString(36)}${(++nonceSeq).toString(36)}`.slice(-25) // one per message, reused on retries
      const post = HttpClientRequest.post(`${base}/channels/${target.chatId}/messages`).pipe(
        HttpClientRequest.bodyUnsafeJson({ content: text.formatted, nonce, enforce_nonce: true, allowed_mentions: { parse: [] } })
      )
      return call("createMessage", `channel:${target.chatId}`, post).pipe(Effect.map((r) => ({ messageId: fieldText(r, "id") })))
    }
    const edit: Adapter["edit"] = (target, messageId, text) =>
      call(
        "editMessage",
        `channel:${target.chatId}`,
        HttpClientRequest.patch(`${base}/channels/${target.chatId}/messages/${messageId}`).pipe(
          HttpClientRequest.bodyUnsafeJson({ content: text.formatted, allowed_mentions: { parse: [] } })
        )
      ).pipe(Effect.asVoid)
    return {
      channel: CHANNEL,
      accountId: options.accountId,
      capabilities: capabilities.discord,
      send,
      edit,
      inbound: options.receive === false ? Stream.empty : gateway(options, token)
    } satisfies Adapter
  })
