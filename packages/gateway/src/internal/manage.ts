/**
 * Managing a conversation — rename and set its own system prompt and model, delete, regenerate
 * the last reply, edit a message, export — for both the WebSocket requests and the HTTP routes,
 * owner-checked like everything else (`requests.ts`).
 */
import { HttpLayerRouter, HttpRouter, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import type { Conversations } from "@sluice/core"
import * as Protocol from "@sluice/core/Protocol"
import { Effect, Layer, Schema } from "effect"
import * as Http from "./http.js"
import * as Requests from "./requests.js"
import type { State } from "./state.js"

const { admitted, mailboxFull, notFound, storeFailure } = Requests

const busy = (conversationId: string) =>
  Requests.refused(
    "Conflict",
    `conversation ${JSON.stringify(conversationId)} has a run going or messages queued; wait for it to end or stop it`,
    409
  )

const summary = (state: State, principal: string, conversationId: string) =>
  Effect.flatMap(Requests.list(state, principal), (all) => {
    const found = all.find((c) => c.conversationId === conversationId)
    return found === undefined ? Effect.fail(notFound(conversationId)) : Effect.succeed(found)
  })

export const update = (state: State, principal: string, conversationId: string, patch: Conversations.ConversationPatch) =>
  Effect.gen(function* () {
    const stored = yield* Requests.checkOwner(state, principal, conversationId, false)
    const model = patch.model?.trim()
    if (model !== undefined && model !== "" && !state.options.models.includes(model)) {
      return yield* Effect.fail(
        Requests.refused("BadFrame", `model: must be one of ${state.options.models.map((m) => JSON.stringify(m)).join(", ")} or "" for the default`, 400)
      )
    }
    yield* state.conversations.update(stored, patch).pipe(
      Effect.catchTags({ ConversationNotFound: () => Effect.fail(notFound(conversationId)), StoreError: (e) => Effect.fail(storeFailure(e)) })
    )
    return yield* summary(state, principal, conversationId)
  })

export const remove = (state: State, principal: string, conversationId: string) =>
  Effect.gen(function* () {
    const stored = yield* Requests.checkOwner(state, principal, conversationId, false)
    const deleted = yield* state.conversations.remove(stored).pipe(Effect.mapError(storeFailure))
    return { deleted }
  })

export const regenerate = (state: State, principal: string, conversationId: string) =>
  Effect.gen(function* () {
    const stored = yield* Requests.checkOwner(state, principal, conversationId, false)
    return yield* admitted(
      state,
      principal,
      stored,
      state.conversations.regenerate(stored).pipe(
        Effect.catchTags({
          ConversationBusy: () => Effect.fail(busy(conversationId)),
          ConversationNotFound: () => Effect.fail(notFound(conversationId)),
          MessageNotFound: (e) => Effect.fail(Requests.refused("NotFound", e.reason, 404)),
          StoreError: (e) => Effect.fail(storeFailure(e))
        }),
        Effect.map((r) => ({ ...r, conversationId }))
      ),
      (started) => ({ conversationId: stored, messageId: "", seq: started.seq + 1 })
    )
  })

export const edit = (state: State, principal: string, conversationId: string, messageId: string, text: string) =>
  Effect.gen(function* () {
    if (text.trim() === "") return yield* Effect.fail(Requests.refused("BadFrame", "text: must not be blank", 400))
    const stored = yield* Requests.checkOwner(state, principal, conversationId, false)
    return yield* admitted(
      state,
      principal,
      stored,
      state.conversations
        .edit(stored, messageId, text, {
          owner: principal,
          ...(state.options.settings !== undefined ? { settings: state.options.settings } : {})
        })
        .pipe(
          Effect.catchTags({
            ConversationBusy: () => Effect.fail(busy(conversationId)),
            ConversationNotFound: () => Effect.fail(notFound(conversationId)),
            MessageNotFound: (e) => Effect.fail(Requests.refused("NotFound", `message ${JSON.stringify(messageId)}: ${e.reason}`, 404)),
            MailboxFull: (e) => Effect.fail(mailboxFull(e)),
            StoreError: (e) => Effect.fail(storeFailure(e))
          }),
          Effect.map((accepted) => ({ ...accepted, conversationId }))
        ),
      (accepted) => ({ ...accepted, conversationId: stored })
    )
  })

export interface Exported {
  readonly filename: string
  readonly contentType: string
  readonly body: string
}

export const exportConversation = (state: State, principal: string, conversationId: string, format: Protocol.ExportFormat) =>
  Effect.gen(function* () {
    const messages = yield* Requests.history(state, principal, conversationId)
    const c = yield* summary(state, principal, conversationId)
    const base = (c.title || conversationId).replace(/[^\p{L}\p{N} _-]+/gu, "").trim().replace(/\s+/g, "-").slice(0, 60) || "conversation"
    if (format === "json") {
      const doc = {
        conversationId,
        title: c.title,
        ...(c.system === undefined ? {} : { system: c.system }),
        ...(c.model === undefined ? {} : { model: c.model }),
        updatedAt: new Date(c.updatedAt).toISOString(),
        messages
      }
      return { filename: `${base}.json`, contentType: "application/json", body: `${JSON.stringify(doc, null, 2)}\n` } satisfies Exported
    }
    const lines = [`# ${c.title || conversationId}`, ""]
    if (c.system !== undefined) lines.push(`> **System prompt:** ${c.system.replace(/\n/g, "\n> ")}`, "")
    for (const m of messages) {
      const note = m.status === "complete" ? "" : ` _(${m.status})_`
      lines.push(`## ${m.role === "user" ? "You" : "Assistant"}${note}`, "", m.text, "")
    }
    return { filename: `${base}.md`, contentType: "text/markdown; charset=utf-8", body: lines.join("\n") } satisfies Exported
  })

// ---- HTTP ------------------------------------------------------------------------------------

const PatchBody = Protocol.ConversationPatch
const EditBody = Schema.Struct({ text: Schema.String.pipe(Schema.minLength(1)) })

export const routes = (state: State) => {
  const route = (
    method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE",
    path: `/${string}`,
    f: (who: string, params: Readonly<Record<string, string | undefined>>) => Effect.Effect<HttpServerResponse.HttpServerResponse, Requests.Refused, HttpServerRequest.HttpServerRequest>
  ) =>
    HttpLayerRouter.add(
      method,
      path,
      Effect.gen(function* () {
        const who = yield* Http.principal(state)
        const params = yield* HttpRouter.params
        yield* Requests.checkId(params.id ?? "")
        return yield* f(who, params)
      }).pipe(Effect.catchIf((e): e is Requests.Refused => e instanceof Requests.Refused, (e) => Effect.succeed(Http.errorResponse(e))))
    )
  const json = (value: unknown, status = 200) => HttpServerResponse.unsafeJson(value, { status })
  return Layer.mergeAll(
    route("PATCH", "/v1/conversations/:id", (who, p) =>
      Effect.flatMap(Http.body(state, PatchBody), (patch) => Effect.map(update(state, who, p.id ?? "", patch), (c) => json(c)))
    ),
    route("DELETE", "/v1/conversations/:id", (who, p) => Effect.map(remove(state, who, p.id ?? ""), (r) => json(r))),
    route("POST", "/v1/conversations/:id/regenerate", (who, p) => Effect.map(regenerate(state, who, p.id ?? ""), (r) => json(r, 202))),
    route("PUT", "/v1/conversations/:id/messages/:messageId", (who, p) =>
      Effect.flatMap(Http.body(state, EditBody), (b) =>
        Effect.map(edit(state, who, p.id ?? "", p.messageId ?? "", b.text), (r) => json(r, 202))
      )
    ),
    route("GET", "/v1/conversations/:id/export", (who, p) =>
      Effect.gen(function* () {
        const req = yield* HttpServerRequest.HttpServerRequest
        const raw = new URL(req.url, "http://x").searchParams.get("format") ?? "markdown"
        const format = raw === "md" ? "markdown" : raw
        if (format !== "markdown" && format !== "json") {
          return yield* Effect.fail(Requests.refused("BadFrame", `format: must be "markdown" or "json", got ${JSON.stringify(raw)}`, 400))
        }
        const file = yield* exportConversation(state, who, p.id ?? "", format)
        return HttpServerResponse.text(file.body, {
          contentType: file.contentType,
          headers: {
            "content-disposition": `attachment; filename="${file.filename.replace(/[^\x20-\x7e]|"/g, "_")}"; filename*=UTF-8''${encodeURIComponent(file.filename)}`
          }
        })
      })
    )
  )
}
