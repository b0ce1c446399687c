/**
 * What the fake Anthropic server checks in a Messages request body before it answers, as the real
 * API documents it (Messages API, "Tool use" and "Vision"): content blocks of known types, image
 * sources, tool definitions and `tool_choice`, and the pairing of tool calls with their results
 * (every `tool_use` of an assistant turn answered by a `tool_result` in the next user turn, results
 * first in that turn, no result without its call, tools defined whenever the history holds tool
 * blocks). A request that breaks a rule gets the 400 `invalid_request_error` naming the field.
 */

const MEDIA_TYPES = ["image/jpeg", "image/png", "image/gif", "image/webp"]
const TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/

type Json = Record<string, unknown>
const isObject = (u: unknown): u is Json => typeof u === "object" && u !== null && !Array.isArray(u)

const blocksOf = (content: unknown): ReadonlyArray<Json> | string | undefined =>
  typeof content === "string" ? content : Array.isArray(content) && content.every(isObject) ? (content as ReadonlyArray<Json>) : undefined

/** The first rule the body breaks, as the API's error message; undefined when it is valid. */
export const check = (body: Json): string | undefined => {
  const tools = body.tools
  const names = new Set<string>()
  if (tools !== undefined) {
    if (!Array.isArray(tools)) return "tools: Input should be a valid list"
    for (const [i, t] of tools.entries()) {
      if (!isObject(t) || typeof t.name !== "string" || !TOOL_NAME.test(t.name)) return `tools.${i}.name: String should match pattern '^[a-zA-Z0-9_-]{1,64}$'`
      if (!isObject(t.input_schema) || t.input_schema.type !== "object") return `tools.${i}.input_schema.type: Input should be 'object'`
      if (names.has(t.name)) return `tools: Tool names must be unique.`
      names.add(t.name)
    }
  }
  const choice = body.tool_choice
  if (choice !== undefined) {
    if (!isObject(choice) || !["auto", "any", "tool", "none"].includes(String(choice.type))) return "tool_choice.type: Input tag does not match any of the expected tags: 'auto', 'any', 'tool', 'none'"
    if (choice.type === "tool" && (typeof choice.name !== "string" || !names.has(choice.name))) return `tool_choice.name: Tool '${String(choice.name)}' not found in provided tools`
  }
  const messages = body.messages
  if (!Array.isArray(messages) || messages.length === 0) return "messages: at least one message is required"
  let usesTools = false
  let owed: ReadonlyArray<string> = []
  for (const [i, m] of messages.entries()) {
    if (!isObject(m) || (m.role !== "user" && m.role !== "assistant")) return `messages.${i}.role: Input should be 'user' or 'assistant'`
    const blocks = blocksOf(m.content)
    if (blocks === undefined) return `messages.${i}.content: Input should be a valid string or list of content blocks`
    const list = typeof blocks === "string" ? [{ type: "text", text: blocks }] : blocks
    const results: Array<string> = []
    const calls: Array<string> = []
    let afterResults = false
    for (const [k, b] of list.entries()) {
      const at = `messages.${i}.content.${k}`
      switch (b.type) {
        case "text":
          if (typeof b.text !== "string" || (typeof blocks !== "string" && b.text === "")) return `${at}.text: text content blocks must be non-empty`
          afterResults = true
          break
        case "image": {
          if (m.role !== "user") return `${at}: image blocks are only allowed in user messages`
          const s = b.source
          if (!isObject(s)) return `${at}.source: Field required`
          if (s.type === "base64") {
            if (!MEDIA_TYPES.includes(String(s.media_type))) return `${at}.source.media_type: Input should be ${MEDIA_TYPES.map((t) => `'${t}'`).join(", ")}`
            if (typeof s.data !== "string" || s.data === "" || !/^[A-Za-z0-9+/]+={0,2}$/.test(s.data)) return `${at}.source.data: invalid base64 data`
          } else if (s.type === "url") {
            if (typeof s.url !== "string" || !/^https?:\/\//.test(s.url)) return `${at}.source.url: Input should be a valid URL`
          } else return `${at}.source.type: Input tag does not match any of the expected tags: 'base64', 'url'`
          afterResults = true
          break
        }
        case "tool_use":
          if (m.role !== "assistant") return `${at}: tool_use blocks are only allowed in assistant messages`
          if (typeof b.id !== "string" || typeof b.name !== "string" || !isObject(b.input)) return `${at}: tool_use needs id, name and an input object`
          calls.push(b.id)
          usesTools = true
          break
        case "tool_result":
          if (m.role !== "user") return `${at}: tool_result blocks are only allowed in user messages`
          if (afterResults) return `messages.${i}: tool_result blocks must come first in the content, before any other block`
          if (typeof b.tool_use_id !== "string") return `${at}.tool_use_id: Field required`
          if (!owed.includes(b.tool_use_id)) {
            return `messages.${i}.content.${k}: unexpected \`tool_use_id\` found in \`tool_result\` blocks: ${b.tool_use_id}. Each \`tool_result\` block must have a corresponding \`tool_use\` block in the previous message.`
          }
          if (b.content !== undefined && typeof b.content !== "string" && !Array.isArray(b.content)) return `${at}.content: Input should be a valid string or list`
          results.push(b.tool_use_id)
          usesTools = true
          break
        default:
          return `${at}.type: Input tag '${String(b.type)}' does not match any of the expected tags`
      }
    }
    const missing = owed.filter((id) => !results.includes(id))
    if (missing.length > 0) {
      return `messages.${i}: \`tool_use\` ids were found without \`tool_result\` blocks immediately after: ${missing.join(", ")}. Each \`tool_use\` block must have a corresponding \`tool_result\` block in the next message.`
    }
    owed = calls
  }
  if (usesTools && names.size === 0) return "tools: Requests which include `tool_use` or `tool_result` blocks must define tools."
  return undefined
}
