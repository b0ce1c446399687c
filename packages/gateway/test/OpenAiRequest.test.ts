/**
 * How an OpenAI request becomes a turn (the pure part of the endpoint; `OpenAI.test.ts` drives it
 * through the official client and checks what reaches Claude).
 */
import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import * as OpenAiRequest from "../src/internal/openaiRequest.js"

const options: OpenAiRequest.Options = { aliases: {}, choices: ["claude-haiku-4-5"], imageUrls: false }
const turnOf = (body: unknown, o: OpenAiRequest.Options = options, continuing = false) => {
  const decoded = OpenAiRequest.decode(body)
  if (decoded instanceof OpenAiRequest.InvalidRequest) return decoded
  return OpenAiRequest.toTurn(decoded, continuing, o)
}

describe("OpenAI request → turn", () => {
  it("http(s) image URLs go to the model as URL sources only when model.imageUrls allows it", () => {
    const body = { messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: "https://example.com/cat.png" } }] }] }
    expect(turnOf(body)).toBeInstanceOf(OpenAiRequest.InvalidRequest)
    const turn = turnOf(body, { ...options, imageUrls: true })
    expect(turn).not.toBeInstanceOf(OpenAiRequest.InvalidRequest)
    if (turn instanceof OpenAiRequest.InvalidRequest) return
    expect(turn.text).toBe("(image)")
    expect(turn.request.parts).toEqual([{ _tag: "Image", source: { type: "url", url: "https://example.com/cat.png" } }])
  })

  it("results of parallel calls: the last is the sent turn, the others its context, each a tool result", () => {
    const turn = turnOf({
      messages: [
        { role: "user", content: "Paris and Oslo?" },
        {
          role: "assistant",
          content: null,
          tool_calls: [
            { id: "a", type: "function", function: { name: "w", arguments: '{"city":"Paris"}' } },
            { id: "b", type: "function", function: { name: "w", arguments: '{"city":"Oslo"}' } }
          ]
        },
        { role: "tool", tool_call_id: "a", content: "18" },
        { role: "tool", tool_call_id: "b", content: "-3" }
      ],
      tools: [{ type: "function", function: { name: "w" } }]
    })
    if (turn instanceof OpenAiRequest.InvalidRequest) throw new Error(turn.message)
    expect(turn.request.context?.map((t) => [t.role, t.parts?.map((p) => p._tag)])).toEqual([
      ["user", undefined],
      ["assistant", ["ToolUse", "ToolUse"]],
      ["user", ["ToolResult"]]
    ])
    expect(turn.request.parts).toEqual([{ _tag: "ToolResult", toolUseId: "b", content: "-3" }])
    expect(turn.request.tools).toEqual([{ name: "w", inputSchema: { type: "object", properties: {} } }])
  })

  it("never throws, and a turn keeps the non-system messages in order: context, then the sent one (property)", () => {
    const message = fc.oneof(
      fc.record({ role: fc.constantFrom("system", "developer", "user", "assistant", "wizard"), content: fc.oneof(fc.string(), fc.constant(null)) }),
      fc.record({ role: fc.constant("tool"), tool_call_id: fc.constantFrom("a", ""), content: fc.string() }),
      fc.record({
        role: fc.constant("assistant"),
        content: fc.constant(null),
        tool_calls: fc.array(fc.record({ id: fc.constant("a"), type: fc.constant("function"), function: fc.record({ name: fc.constant("w"), arguments: fc.constantFrom("{}", "{", "[1]", "") }) }), { maxLength: 2 })
      })
    )
    fc.assert(
      fc.property(fc.array(message, { minLength: 1, maxLength: 6 }), fc.boolean(), fc.boolean(), (messages, withTools, continuing) => {
        const body = { messages, ...(withTools ? { tools: [{ type: "function", function: { name: "w" } }] } : {}) }
        const turn = turnOf(body, options, continuing)
        if (turn instanceof OpenAiRequest.InvalidRequest) {
          expect(turn.param).not.toBe("")
          return
        }
        const kept = messages.filter((m) => m.role !== "system" && m.role !== "developer")
        if (!continuing) expect((turn.request.context ?? []).length).toBe(kept.length - 1)
        expect(["user", "tool"]).toContain(kept[kept.length - 1]!.role)
      }),
      { numRuns: 2000 }
    )
  })
})
