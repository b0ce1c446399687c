/**
 * Conversation ids are scoped to their principal: alice's `demo` and bob's `demo` are two
 * conversations, so no principal can take a name (`demo`, the CLI's `cli`) from another, nor learn
 * that another's exists. Clients only ever see their own ids; the store keeps
 * `@<principal, URI-encoded>/<id>`. Ids that start with `@` are reserved for this.
 *
 * The principal `local` (no tokens configured; the embedded CLI) keeps plain ids, so a data
 * directory made without tokens reads the same, and channel conversations (owned by
 * `<channel>:<account>`) are untouched. A conversation a principal made before ids were scoped keeps
 * its plain id and stays reachable by it (`checkOwner` looks there when the scoped id is unknown).
 * Conversations made before tokens were turned on belong to `local`: a token whose principal is
 * named `local` reaches them (`docs/protocol.md`, Auth and principals).
 */
import * as Auth from "../Auth.js"

/** The id the store keeps for `principal`'s conversation `id`. */
export const scoped = (principal: string, id: string): string =>
  principal === Auth.LOCAL ? id : `@${encodeURIComponent(principal)}/${id}`

/** The id `principal` knows a stored conversation by. */
export const external = (principal: string, stored: string): string => {
  if (principal === Auth.LOCAL || !stored.startsWith("@")) return stored
  const prefix = `@${encodeURIComponent(principal)}/`
  return stored.startsWith(prefix) ? stored.slice(prefix.length) : stored
}

/** Whether a client may name a conversation `id` (the `@` prefix is the store's). */
export const reserved = (id: string): boolean => id.startsWith("@")

/** One event as `principal` sees it (its own id); the event itself for `local`. */
export const eventFor = <E extends { readonly conversationId: string }>(principal: string, e: E): E =>
  principal === Auth.LOCAL ? e : { ...e, conversationId: external(principal, e.conversationId) }

/** Events as `principal` sees them; the array itself for `local` (no copy on its hot path). */
export const eventsFor = <E extends { readonly conversationId: string }>(principal: string): ((events: ReadonlyArray<E>) => ReadonlyArray<E>) =>
  principal === Auth.LOCAL ? (events) => events : (events) => events.map((e) => eventFor(principal, e))
