/** JSON over @effect/platform HttpClient, mapped to the channel errors. @internal */
import { HttpClient, HttpClientRequest } from "@effect/platform"
import { Effect, Redacted } from "effect"
import { ChannelError } from "../Channel.js"

export interface JsonResponse {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly json: unknown
  readonly text: string
}

/** `text` with every secret's value replaced by `<redacted>` (a transport error quotes the URL). */
export const scrub = (text: string, secrets: ReadonlyArray<Redacted.Redacted<string>>): string => {
  let out = text
  for (const s of secrets) {
    const v = Redacted.value(s)
    if (v.length > 0) out = out.split(v).join("<redacted>")
  }
  return out
}

/** Runs `req`; a transport failure becomes a ChannelError (status 0) whose description never holds
 * one of `secrets` (the account's token, which Telegram puts in the URL). */
export const request = (
  channel: string,
  method: string,
  req: HttpClientRequest.HttpClientRequest,
  secrets: ReadonlyArray<Redacted.Redacted<string>> = []
): Effect.Effect<JsonResponse, ChannelError, HttpClient.HttpClient> =>
  Effect.flatMap(HttpClient.HttpClient, (client) =>
    client.execute(req).pipe(
      Effect.flatMap((res) =>
        Effect.map(res.text, (text) => {
          let json: unknown
          try {
            json = text === "" ? undefined : JSON.parse(text)
          } catch {
            json = undefined
          }
          return { status: res.status, headers: res.headers as Record<string, string>, json, text }
        })
      ),
      Effect.scoped,
      Effect.mapError((e) => new ChannelError({ channel, method, status: 0, description: scrub(e.message, secrets) }))
    )
  )

export const postJson = (
  channel: string,
  method: string,
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
  secrets: ReadonlyArray<Redacted.Redacted<string>> = []
): Effect.Effect<JsonResponse, ChannelError, HttpClient.HttpClient> =>
  request(channel, method, HttpClientRequest.post(url).pipe(HttpClientRequest.setHeaders(headers), HttpClientRequest.bodyUnsafeJson(body)), secrets)

/** A secret given as a plain string (tests, embedding) or already Redacted (config). */
export type Secret = string | Redacted.Redacted<string>

/** The secret's value, for the one place that needs it (a header, a URL, an HMAC key, a comparison). */
export const reveal = (secret: Secret): string => (typeof secret === "string" ? secret : Redacted.value(secret))

/** A secret given as a plain string (tests, embedding) or already Redacted (config). */
export const redacted = (secret: string | Redacted.Redacted<string>): Redacted.Redacted<string> =>
  typeof secret === "string" ? Redacted.make(secret) : secret

/**
 * A field as text: a string as it is, a number or boolean written out, anything else (an object, an
 * array, missing) "". Never throws, whatever a payload holds (`String({ toString: false })` does).
 */
export const fieldText = (json: unknown, ...path: ReadonlyArray<string>): string => {
  const v = field(json, ...path)
  return typeof v === "string" ? v : typeof v === "number" || typeof v === "boolean" || typeof v === "bigint" ? String(v) : ""
}

/** A field as a finite number (a number, or a string that is one); anything else undefined. Never throws. */
export const fieldNumber = (json: unknown, ...path: ReadonlyArray<string>): number | undefined => {
  const v = field(json, ...path)
  const n = typeof v === "number" ? v : typeof v === "string" && v.trim() !== "" ? Number(v) : Number.NaN
  return Number.isFinite(n) ? n : undefined
}

export const field = (json: unknown, ...path: ReadonlyArray<string>): unknown => {
  let cur: unknown = json
  for (const p of path) {
    if (cur === null || typeof cur !== "object") return undefined
    cur = (cur as Record<string, unknown>)[p]
  }
  return cur
}
