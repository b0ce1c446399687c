/**
 * The chat accounts a configuration describes, as running adapters. Each `channels.<id>` section is
 * one account (`default`) when it has credentials at channel level, and each `accounts.<accountId>`
 * with credentials (its own, or inherited from the channel level) is one more. Credentials: `token`
 * for Telegram, Discord and Slack; `token` + `phoneNumberId` for WhatsApp; the signal-cli daemon's
 * `baseUrl` for Signal. A value written `"$NAME"` is read from the environment variable NAME; a
 * missing variable is a `MissingSecret` error naming the key path.
 *
 * @since 0.1.0
 */
import type { HttpClient } from "@effect/platform"
import type { Config } from "@sluice/core"
import { Effect, Redacted, Schema } from "effect"
import type { Adapter } from "./Channel.js"
import * as DiscordChannel from "./DiscordChannel.js"
import * as SignalChannel from "./SignalChannel.js"
import * as SlackChannel from "./SlackChannel.js"
import * as TelegramChannel from "./TelegramChannel.js"
import * as WhatsAppChannel from "./WhatsAppChannel.js"

export class MissingSecret extends Schema.TaggedError<MissingSecret>()("MissingSecret", {
  message: Schema.String,
  /** Config path of the key (`channels.telegram.accounts.support.token`). */
  path: Schema.String,
  variable: Schema.String
}) {}

type Fields = Record<string, unknown>

/** Channel-level keys merged under each account's (account wins); `accounts` itself dropped. */
const accountsOf = (channel: string, section: Fields | undefined): Array<{ id: string; path: string; fields: Fields }> => {
  if (section === undefined) return []
  const { accounts, ...base } = section as Fields & { accounts?: Record<string, Fields> }
  const out = [{ id: "default", path: `channels.${channel}`, fields: base }]
  for (const [id, own] of Object.entries(accounts ?? {})) {
    out.push({ id, path: `channels.${channel}.accounts.${id}`, fields: { ...base, ...own } })
  }
  return out
}

const secretOf =
  (env: Record<string, string | undefined>, path: string, fields: Fields) =>
  (key: string): Effect.Effect<Redacted.Redacted<string> | undefined, MissingSecret> => {
    const v = fields[key]
    if (typeof v !== "string") return Effect.succeed(undefined)
    if (!v.startsWith("$")) return Effect.succeed(Redacted.make(v))
    const name = v.slice(1)
    const value = env[name]
    return value === undefined || value === ""
      ? Effect.fail(new MissingSecret({ message: `${path}.${key}: environment variable ${name} is not set`, path: `${path}.${key}`, variable: name }))
      : Effect.succeed(Redacted.make(value))
  }

const str = (fields: Fields, key: string): string | undefined => (typeof fields[key] === "string" ? (fields[key] as string) : undefined)

/** Builds an adapter for every configured account that has its credentials. */
export const fromConfig = (
  config: Config.Config,
  env: Record<string, string | undefined> = process.env
): Effect.Effect<ReadonlyArray<Adapter>, MissingSecret, HttpClient.HttpClient> =>
  Effect.gen(function* () {
    const channels = (config.channels ?? {}) as Record<string, Fields | undefined>
    const adapters: Array<Adapter> = []
    const seen = new Set<string>()
    for (const [channel, section] of Object.entries(channels)) {
      for (const { id, path, fields } of accountsOf(channel, section)) {
        const secret = secretOf(env, path, fields)
        const token = yield* secret("token")
        const baseUrl = str(fields, "baseUrl")
        // The default account only exists when the channel level itself says how to connect, and an
        // account that inherits exactly the default's credentials is the same bot: start it once.
        const identity = `${channel}:${token === undefined ? "" : Redacted.value(token)}:${baseUrl ?? ""}:${str(fields, "phoneNumberId") ?? ""}:${str(fields, "account") ?? ""}`
        const hasCredentials = channel === "signal" ? baseUrl !== undefined : token !== undefined
        if (!hasCredentials || seen.has(identity)) continue
        seen.add(identity)
        const common = { accountId: id, ...(baseUrl !== undefined ? { baseUrl } : {}) }
        switch (channel) {
          case "telegram": {
            const webhookSecret = yield* secret("webhookSecret")
            const receive = str(fields, "receive") as "polling" | "webhook" | undefined
            const parseMode = str(fields, "parseMode") as "HTML" | "MarkdownV2" | undefined
            adapters.push(
              yield* TelegramChannel.make({
                ...common,
                token: token!,
                ...(receive !== undefined ? { receive } : {}),
                ...(webhookSecret !== undefined ? { webhookSecret } : {}),
                ...(parseMode !== undefined ? { parseMode } : {}),
                ...(typeof fields.stopButton === "boolean" ? { stopButton: fields.stopButton } : {}),
                ...(typeof fields.groupPreviews === "boolean" ? { groupPreviews: fields.groupPreviews } : {})
              })
            )
            break
          }
          case "discord": {
            const gatewayUrl = str(fields, "gatewayUrl")
            adapters.push(
              yield* DiscordChannel.make({
                ...common,
                token: token!,
                ...(gatewayUrl !== undefined ? { gatewayUrl } : {}),
                ...(typeof fields.receive === "boolean" ? { receive: fields.receive } : {})
              })
            )
            break
          }
          case "slack": {
            const signingSecret = yield* secret("signingSecret")
            adapters.push(yield* SlackChannel.make({ ...common, token: token!, ...(signingSecret !== undefined ? { signingSecret } : {}) }))
            break
          }
          case "whatsapp": {
            const phoneNumberId = str(fields, "phoneNumberId")
            if (phoneNumberId === undefined) continue
            const appSecret = yield* secret("appSecret")
            const verifyToken = yield* secret("verifyToken")
            const version = str(fields, "version")
            adapters.push(
              yield* WhatsAppChannel.make({
                ...common,
                token: token!,
                phoneNumberId,
                ...(appSecret !== undefined ? { appSecret } : {}),
                ...(verifyToken !== undefined ? { verifyToken } : {}),
                ...(version !== undefined ? { version } : {})
              })
            )
            break
          }
          case "signal": {
            const account = str(fields, "account")
            adapters.push(yield* SignalChannel.make({ accountId: id, baseUrl: baseUrl!, ...(account !== undefined ? { account } : {}) }))
            break
          }
        }
      }
    }
    return adapters
  })
