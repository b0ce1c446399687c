/** JSON over @effect/platform HttpClient, mapped to the channel errors. @internal */
import { HttpClient, HttpClientRequest } from "@effect/platform"
import { Effect } from "effect"
import { ChannelError } from "../Channel.js"

export interface JsonResponse {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly json: unknown
  readonly text: string
}

export const request = (
  channel: string,
  method: string,
  req: HttpClientRequest.HttpClientRequest
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
      Effect.mapError((e) => new ChannelError({ channel, method, status: 0, description: e.message }))
    )
  )

export const postJson = (
  channel: string,
  method: string,
  url: string,
  body: unknown,
  headers: Record<string, string> = {}
): Effect.Effect<JsonResponse, ChannelError, HttpClient.HttpClient> =>
  request(channel, method, HttpClientRequest.post(url).pipe(HttpClientRequest.setHeaders(headers), HttpClientRequest.bodyUnsafeJson(body)))

export const field = (json: unknown, ...path: ReadonlyArray<string>): unknown => {
  let cur: unknown = json
  for (const p of path) {
    if (cur === null || typeof cur !== "object") return undefined
    cur = (cur as Record<string, unknown>)[p]
  }
  return cur
}
