/**
 * Inbound channel webhooks, mounted on the gateway's `HttpLayerRouter`:
 *
 *   POST /webhooks/telegram/:account   X-Telegram-Bot-Api-Secret-Token checked
 *   POST /webhooks/slack/:account      Events API: signing-secret HMAC + 5-minute replay window,
 *                                      url_verification answered with the challenge
 *   GET  /webhooks/whatsapp/:account   verification challenge (hub.mode / hub.verify_token / hub.challenge)
 *   POST /webhooks/whatsapp/:account   X-Hub-Signature-256 (HMAC-SHA256 with the app secret)
 *
 * All verification and parsing are pure functions in @sluice/channels (each adapter's `webhook`);
 * this module only turns the HTTP request into a `WebhookRequest` (raw body, lower-case headers,
 * query, Clock time) and the result back into a response. A request that fails verification gets
 * its 4xx and never reaches a conversation.
 *
 * `layer` needs `ChannelHub`; `layerFor(hub)` is the same with the hub given.
 *
 * @since 0.1.0
 */
import { HttpLayerRouter, HttpRouter, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { ChannelHub } from "@sluice/channels"
import { Clock, Effect, Layer } from "effect"

/** Bodies above this are refused with 413 before any parsing. */
export const MAX_BODY_BYTES = 1024 * 1024

const handler = (hub: ChannelHub.Service) =>
  Effect.gen(function* () {
    const request = yield* HttpServerRequest.HttpServerRequest
    const { params } = yield* HttpRouter.RouteContext
    const channel = params.channel ?? ""
    const account = params.account ?? ""
    const length = Number(request.headers["content-length"] ?? "0")
    if (length > MAX_BODY_BYTES) return HttpServerResponse.text("payload too large", { status: 413 })
    const body = request.method === "GET" ? "" : yield* Effect.orElseSucceed(request.text, () => "")
    if (Buffer.byteLength(body, "utf8") > MAX_BODY_BYTES) return HttpServerResponse.text("payload too large", { status: 413 })
    const now = yield* Clock.currentTimeMillis
    const result = yield* hub.webhook(channel, account, {
      method: request.method,
      headers: request.headers,
      query: new URL(request.url, "http://localhost").searchParams,
      body,
      now
    })
    return HttpServerResponse.text(result.body, {
      status: result.status,
      contentType: result.contentType ?? "text/plain"
    })
  })

/** The webhook routes; needs the ChannelHub. */
export const layer: Layer.Layer<never, never, HttpLayerRouter.HttpRouter | ChannelHub.ChannelHub> = HttpLayerRouter.use((router) =>
  Effect.gen(function* () {
    const hub = yield* ChannelHub.ChannelHub
    yield* router.add("*", "/webhooks/:channel/:account", handler(hub))
  })
)

/** The webhook routes for a given hub. */
export const layerFor = (hub: ChannelHub.Service): Layer.Layer<never, never, HttpLayerRouter.HttpRouter> =>
  layer.pipe(Layer.provide(Layer.succeed(ChannelHub.ChannelHub, hub)))
