/**
 * Bearer-token authentication. Each token is a principal that sees only its own conversations.
 * With no tokens configured (allowed on loopback only) everyone is the one local principal.
 *
 * @since 0.1.0
 */
import { createHash, timingSafeEqual } from "node:crypto"
import { Schema } from "effect"

/** The principal everyone is when no tokens are configured. */
export const LOCAL = "local"

export interface TokenSpec {
  readonly token: string
  /** A readable name for the principal; derived from the token's hash when absent. */
  readonly principal?: string | undefined
}

export interface Auth {
  /** False when no tokens are configured: every request is the local principal. */
  readonly required: boolean
  /** The principal for a presented token, or undefined when it is not accepted. */
  readonly authenticate: (token: string | undefined) => string | undefined
}

const digest = (s: string): Buffer => createHash("sha256").update(s).digest()

/** A stable, non-reversible principal id for a bare token. */
export const principalOf = (token: string): string => `token-${digest(token).toString("hex").slice(0, 12)}`

export const make = (tokens: ReadonlyArray<string | TokenSpec>): Auth => {
  const specs = tokens.map((t) => (typeof t === "string" ? { token: t, principal: principalOf(t) } : t))
  const entries = specs.map((s) => ({ hash: digest(s.token), principal: s.principal ?? principalOf(s.token) }))
  if (entries.length === 0) return { required: false, authenticate: () => LOCAL }
  return {
    required: true,
    authenticate: (token) => {
      if (token === undefined || token === "") return undefined
      const h = digest(token)
      // Compare against every entry in constant time per entry.
      let found: string | undefined
      for (const e of entries) if (timingSafeEqual(e.hash, h)) found = e.principal
      return found
    }
  }
}

/** Constant-time equality of two secrets (compares their digests, so lengths leak nothing either). */
export const safeEqual = (a: string, b: string): boolean => timingSafeEqual(digest(a), digest(b))

/** `Authorization: Bearer <token>` → token. */
export const bearer = (header: string | undefined): string | undefined => {
  if (header === undefined) return undefined
  const m = /^Bearer\s+(.+)$/i.exec(header.trim())
  return m?.[1]?.trim()
}

const loopbackNames = new Set(["localhost", "::1", "[::1]", "::ffff:127.0.0.1"])
export const isLoopback = (host: string): boolean => loopbackNames.has(host) || /^127\.\d+\.\d+\.\d+$/.test(host)

export class InsecureBind extends Schema.TaggedError<InsecureBind>()("InsecureBind", { host: Schema.String }) {
  override get message(): string {
    return (
      `refusing to listen on ${this.host} without a token: anyone who can reach this address could use it. ` +
      `Set SLUICE_TOKEN (or gateway.tokens in the config file), or listen on 127.0.0.1.`
    )
  }
}
