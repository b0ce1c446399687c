/**
 * Signal through a signal-cli daemon in HTTP mode (`signal-cli daemon --http`): sends with JSON-RPC
 * `send` on `POST /api/v1/rpc` (`recipient` for a person, `groupId` for a group; plain text — Signal
 * has no Markdown), receives from the `GET /api/v1/events` SSE stream (reconnecting when it ends).
 * A rate-limit failure (HTTP 429, or a JSON-RPC error whose results say `RATE_LIMIT_FAILURE` /
 * "rate limit", with `retryAfterSeconds` when given) is waited out and retried (the rate-limit error
 * shape is not verified against a real daemon).
 *
 * Chat ids: a phone number / UUID for a person, `group:<groupId>` for a group.
 *
 * @since 0.1.0
 */
import { HttpClient } from "@effect/platform"
import { Effect, Option, Random, Schedule, Stream } from "effect"
import { type Adapter, capabilities, ChannelError, describeError, type InboundMessage, RateLimited } from "./Channel.js"
import { delayMs } from "./internal/backoff.js"
import { field, fieldNumber, fieldText, postJson } from "./internal/http.js"
import * as RateLimiter from "./RateLimiter.js"

export interface Options {
  readonly accountId: string
  /** The daemon's base URL, e.g. http://127.0.0.1:8080 */
  readonly baseUrl: string
  /** The Signal account (phone number) when the daemon serves several. */
  readonly account?: string | undefined
  readonly minIntervalMs?: number | undefined
  /** Delay before reconnecting the event stream (default 1000 ms); after failures it doubles per
   * failure (jittered) up to `maxReconnectMs` (default 60 s). */
  readonly reconnectMs?: number | undefined
  readonly maxReconnectMs?: number | undefined
}

const CHANNEL = "signal"

/** One SSE `data` payload (a `receive` notification or its params) → a message. */
export const parseEvent = (accountId: string, data: unknown): Option.Option<InboundMessage> => {
  const params = field(data, "params") ?? data
  const env = field(params, "envelope")
  const text = field(env, "dataMessage", "message")
  const source = field(env, "sourceNumber") ?? field(env, "sourceUuid") ?? field(env, "source")
  if (typeof text !== "string" || text === "" || typeof source !== "string") return Option.none()
  const groupId = field(env, "dataMessage", "groupInfo", "groupId")
  return Option.some({
    channel: CHANNEL,
    accountId,
    chatId: typeof groupId === "string" ? `group:${groupId}` : source,
    isPrivate: typeof groupId !== "string",
    messageId: fieldText(env, "timestamp"),
    senderId: source,
    text
  })
}

/** Splits an SSE text stream into `data` payloads. */
const sseData = <E, R>(lines: Stream.Stream<string, E, R>): Stream.Stream<string, E, R> =>
  lines.pipe(
    Stream.mapAccum([] as ReadonlyArray<string>, (data, line): readonly [ReadonlyArray<string>, ReadonlyArray<string>] => {
      if (line === "") return [[], data.length > 0 ? [data.join("\n")] : []]
      if (line.startsWith("data:")) return [[...data, line.slice(5).replace(/^ /, "")], []]
      return [data, []]
    }),
    Stream.flattenIterables
  )

export const make = (options: Options): Effect.Effect<Adapter, never, HttpClient.HttpClient> =>
  Effect.gen(function* () {
    const http = yield* Effect.context<HttpClient.HttpClient>()
    const base = options.baseUrl.replace(/\/$/, "")
    const caps = { ...capabilities.signal, minIntervalMs: options.minIntervalMs ?? capabilities.signal.minIntervalMs }
    const limiter = yield* RateLimiter.make({ minIntervalMs: caps.minIntervalMs })
    let id = 0
    const rpc = (method: string, params: Record<string, unknown>) =>
      postJson(CHANNEL, method, `${base}/api/v1/rpc`, { jsonrpc: "2.0", method, params: { ...params, ...(options.account ? { account: options.account } : {}) }, id: ++id }).pipe(
        Effect.flatMap((res): Effect.Effect<unknown, ChannelError | RateLimited> => {
          const error = field(res.json, "error")
          const results = field(error, "data", "response", "results")
          const limited = Array.isArray(results) ? results.find((r) => field(r, "type") === "RATE_LIMIT_FAILURE") : undefined
          if (res.status === 429 || limited !== undefined || /rate ?limit/i.test(fieldText(error, "message"))) {
            const after = (fieldNumber(limited, "retryAfterSeconds") ?? Number(res.headers["retry-after"] ?? 1))
            return Effect.fail(new RateLimited({ channel: CHANNEL, retryAfterMs: (Number.isFinite(after) ? after : 1) * 1000 }))
          }
          if (error !== undefined || res.status >= 300) {
            return Effect.fail(new ChannelError({ channel: CHANNEL, method, status: res.status, description: (fieldText(error, "message") || res.text) }))
          }
          return Effect.succeed(field(res.json, "result"))
        }),
        Effect.provide(http)
      )

    const reconnectMs = options.reconnectMs ?? 1000
    const backoff = { initialMs: reconnectMs, maxMs: options.maxReconnectMs ?? 60_000 }
    let failures = 0
    const inbound: Adapter["inbound"] = Effect.flatMap(HttpClient.HttpClient, (client) =>
      client.get(`${base}/api/v1/events${options.account ? `?account=${encodeURIComponent(options.account)}` : ""}`)
    ).pipe(
      Effect.map((res) => res.stream),
      Stream.unwrapScoped,
      Stream.decodeText(),
      Stream.splitLines,
      sseData,
      Stream.filterMap((data) => {
        try {
          return parseEvent(options.accountId, JSON.parse(data))
        } catch {
          return Option.none()
        }
      }),
      Stream.tap(() => Effect.sync(() => (failures = 0))),
      // A failing daemon is retried with exponential, jittered backoff (one line per failure); a
      // stream that ends cleanly reconnects after `reconnectMs`.
      Stream.catchAll((e) =>
        Stream.fromEffect(
          Effect.flatMap(Random.next, (jitter) => {
            const ms = delayMs(failures++, jitter, backoff)
            return Effect.zipRight(
              Effect.logWarning(`signal:${options.accountId} event stream failed (${describeError(e)}); reconnecting in ${(ms / 1000).toFixed(1)} s`),
              Effect.sleep(ms)
            )
          })
        ).pipe(Stream.drain)
      ),
      Stream.repeat(Schedule.spaced(reconnectMs)),
      Stream.provideContext(http)
    )

    return {
      channel: CHANNEL,
      accountId: options.accountId,
      capabilities: caps,
      send: (target, text) =>
        limiter
          .run(
            target.chatId,
            rpc("send", {
              ...(target.chatId.startsWith("group:") ? { groupId: target.chatId.slice(6) } : { recipient: [target.chatId] }),
              message: text.plain
            })
          )
          .pipe(Effect.map((r) => ({ messageId: fieldText(r, "timestamp") }))),
      inbound
    } satisfies Adapter
  })
