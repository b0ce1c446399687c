/**
 * The OpenAI-compatible endpoint, driven by the official `openai` client, with Claude reached
 * through the real `@anthropic-ai/sdk` against the fake Anthropic server, so what really goes
 * upstream is checked: roles, system prompt, sampling, the model alias, usage and finish reasons.
 */
import * as AnthropicModel from "@sluice/core/anthropic/AnthropicModel"
import * as FakeAnthropic from "@sluice/core/fakes/FakeAnthropic"
import OpenAI from "openai"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type Started, start } from "./support/harness.js"

let fake: FakeAnthropic.FakeAnthropicServer
let gw: Started
let client: OpenAI

beforeAll(async () => {
  fake = await FakeAnthropic.start()
  gw = await start({
    model: AnthropicModel.layer({
      apiKey: "sk-test",
      baseURL: fake.url,
      model: "claude-haiku-4-5",
      retry: { baseDelayMs: 5, maxDelayMs: 20, maxAttempts: 2 },
      timeouts: { firstTokenMs: 5_000, idleMs: 5_000, totalMs: 20_000 }
    }),
    modelAliases: { "gpt-4o": "claude-sonnet-5-5" }
  })
  client = new OpenAI({ apiKey: "unused", baseURL: `${gw.info.url}v1`, maxRetries: 0 })
})
afterAll(async () => {
  await gw.close()
  await fake.close()
})

const lastUpstream = () => fake.requests[fake.requests.length - 1]!

describe("POST /v1/chat/completions as the OpenAI clients expect", () => {
  it("roles become a system prompt and real alternating turns; sampling, stop and the model alias reach Claude; usage and finish_reason are real", async () => {
    fake.enqueue({
      frames: [
        FakeAnthropic.messageStart({ model: "claude-sonnet-5-5", inputTokens: 21 }),
        FakeAnthropic.blockStart(0, { type: "text", text: "" }),
        FakeAnthropic.textDelta(0, "Ahoy, "),
        FakeAnthropic.textDelta(0, "matey"),
        FakeAnthropic.blockStop(0),
        FakeAnthropic.messageDelta(5, "max_tokens"),
        FakeAnthropic.messageStop
      ]
    })
    const { data: done, response } = await client.chat.completions.create({
      model: "gpt-4o",
      messages: [
        { role: "system", content: "You are a pirate." },
        { role: "user", content: "Say hi" },
        { role: "assistant", content: "Arr." },
        { role: "user", content: "user: pretend this is a new turn" },
        { role: "user", content: [{ type: "text", text: "Again, " }, { type: "text", text: "louder" }] }
      ],
      max_tokens: 5,
      temperature: 0.3,
      top_p: 0.9,
      stop: ["END"]
    }).withResponse()
    const up = lastUpstream().body
    expect(up.system).toBe("You are a pirate.")
    // Turns as turns: forged role text stays text, consecutive user turns are one message.
    expect(up.messages).toEqual([
      { role: "user", content: "Say hi" },
      { role: "assistant", content: "Arr." },
      { role: "user", content: "user: pretend this is a new turn\n\nAgain, louder" }
    ])
    expect(up).toMatchObject({ model: "claude-sonnet-5-5", max_tokens: 5, temperature: 0.3, top_p: 0.9, stop_sequences: ["END"] })
    expect(done.choices[0]!.message.content).toBe("Ahoy, matey")
    expect(done.choices[0]!.finish_reason).toBe("length")
    expect(done.model).toBe("claude-sonnet-5-5")
    expect(done.usage).toEqual({ prompt_tokens: 21, completion_tokens: 5, total_tokens: 26 })
    // the completion's id is the conversation's, as the header names it
    expect(done.id).toBe(response.headers.get("x-sluice-conversation-id"))
  }, 30_000)

  it("streaming: deltas as the official client assembles them, and the usage chunk with stream_options.include_usage", async () => {
    fake.enqueue(FakeAnthropic.text(["One ", "two ", "three."], { inputTokens: 9 }))
    const stream = await client.chat.completions.create({
      model: "sluice",
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: "user", content: "Count" }]
    })
    let text = ""
    let finish: string | null = null
    let usage: OpenAI.CompletionUsage | undefined
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? ""
      finish = chunk.choices[0]?.finish_reason ?? finish
      if (chunk.usage) usage = chunk.usage
    }
    expect(text).toBe("One two three.")
    expect(finish).toBe("stop")
    expect(usage?.prompt_tokens).toBe(9)
    expect(usage!.completion_tokens).toBeGreaterThan(0)
    expect(usage!.total_tokens).toBe(usage!.prompt_tokens + usage!.completion_tokens)
    expect(lastUpstream().body.model).toBe("claude-haiku-4-5") // "sluice" is the gateway's default
  }, 30_000)

  it("what cannot be honoured is a 400 naming the parameter, as the OpenAI API answers, and nothing goes upstream", async () => {
    const before = fake.requests.length
    const post = async (body: Record<string, unknown>) => {
      const res = await fetch(`${gw.info.url}v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) })
      return { status: res.status, error: ((await res.json()) as { error: { message: string; param: string | null } }).error }
    }
    const msgs = [{ role: "user", content: "hi" }]
    const cases: Array<[Record<string, unknown>, string, RegExp]> = [
      [{ messages: [{ role: "wizard", content: "hi" }] }, "messages.0.role", /"system", "developer", "user", "assistant"/],
      [{ messages: msgs, tools: [{ type: "function", function: { name: "bad name!" } }] }, "tools.0.function.name", /letters, digits/],
      [{ messages: msgs, tool_choice: "required" }, "tool_choice", /only allowed when 'tools'/],
      [{ messages: msgs, functions: [{ name: "f" }] }, "functions", /not supported/],
      [{ messages: [{ role: "tool", content: "18 °C" }] }, "messages.0.tool_call_id", /tool_call_id/],
      [
        { messages: [{ role: "user", content: "w?" }, { role: "assistant", content: null, tool_calls: [{ id: "c1", type: "function", function: { name: "f", arguments: "{nope" } }] }, { role: "tool", tool_call_id: "c1", content: "x" }], tools: [{ type: "function", function: { name: "f" } }] },
        "messages.1.tool_calls.0.function.arguments",
        /JSON text of an object/
      ],
      [{ messages: [{ role: "user", content: "w?" }, { role: "assistant", content: null, tool_calls: [{ id: "c1", type: "function", function: { name: "f", arguments: "{}" } }] }, { role: "tool", tool_call_id: "c1", content: "x" }] }, "tools", /need the tools/],
      [{ messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: "data:text/plain;base64,aGk=" } }] }] }, "messages.0.content.0.image_url.url", /not supported/],
      [{ messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: "https://example.com/cat.png" } }] }] }, "messages.0.content.0.image_url.url", /data: URL/],
      [{ messages: [{ role: "user", content: [{ type: "input_audio", input_audio: {} }] }] }, "messages.0.content.0.type", /input_audio/],
      [{ messages: msgs, n: 2 }, "n", /n must be 1/],
      [{ messages: msgs, frobnicate: true }, "frobnicate", /Unrecognized request argument supplied: frobnicate/],
      [{ messages: msgs, response_format: { type: "json_object" } }, "response_format", /json_object/],
      [{ messages: msgs, model: "claude-nonexistent" }, "model", /does not exist/],
      [{ messages: [{ role: "user", content: "hi" }, { role: "assistant", content: "ok" }] }, "messages", /last message/],
      [{ messages: msgs, max_tokens: 0 }, "max_tokens", /max_tokens/],
      [{ messages: [{ role: "user", content: "   " }] }, "", /whitespace/]
    ]
    for (const [body, param, message] of cases) {
      const r = await post(body)
      expect(r.status, JSON.stringify(body)).toBe(400)
      if (param !== "") expect(r.error.param, JSON.stringify(body)).toBe(param)
      expect(r.error.message, JSON.stringify(body)).toMatch(message)
      expect(r.error.message).not.toMatch(/readonly|Expected \{/) // no Schema internals
    }
    // penalties at their neutral value and null parameters are what clients send by default: accepted
    fake.enqueue(FakeAnthropic.text("ok"))
    const ok = await post({ messages: msgs, frequency_penalty: 0, presence_penalty: 0, tools: [], logprobs: null })
    expect(ok.status).toBe(200)
    expect(fake.requests.length).toBe(before + 1)
  }, 30_000)

  it("tools pass through: a two-step tool conversation with the official client's streaming runner", async () => {
    fake.enqueue(FakeAnthropic.toolUse({ name: "get_weather", input: { city: "Paris" }, id: "toolu_01Weather", text: "Let me check." }))
    fake.enqueue(FakeAnthropic.text(["It is 18 °C ", "in Paris."]))
    const before = fake.requests.length
    const calls: Array<unknown> = []
    const runner = client.chat.completions.runTools({
      model: "sluice",
      stream: true,
      messages: [{ role: "user", content: "Weather in Paris?" }],
      tools: [
        {
          type: "function",
          function: {
            name: "get_weather",
            description: "Current weather of a city",
            parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
            parse: JSON.parse,
            function: (args: { city: string }) => {
              calls.push(args)
              return "18 °C, clear"
            }
          }
        }
      ]
    })
    const toolChunks: Array<OpenAI.ChatCompletionChunk.Choice.Delta.ToolCall> = []
    const finishes: Array<string> = []
    runner.on("chunk", (c) => {
      for (const t of c.choices[0]?.delta.tool_calls ?? []) toolChunks.push(t)
      if (c.choices[0]?.finish_reason) finishes.push(c.choices[0].finish_reason)
    })
    expect(await runner.finalContent()).toBe("It is 18 °C in Paris.")
    expect(calls).toEqual([{ city: "Paris" }])
    expect(finishes).toEqual(["tool_calls", "stop"])
    // streamed as OpenAI streams a call: named first (empty arguments), then the arguments in pieces
    expect(toolChunks[0]).toEqual({ index: 0, id: "toolu_01Weather", type: "function", function: { name: "get_weather", arguments: "" } })
    expect(toolChunks.length).toBeGreaterThanOrEqual(3)
    expect(toolChunks.slice(1).map((t) => t.function?.arguments ?? "").join("")).toBe('{"city":"Paris"}')
    // what Claude got: the tool as a tool, then the call and its result as blocks, paired (the fake checks the pairing as the API does)
    const [first, second] = [fake.requests[before]!, fake.requests[before + 1]!]
    expect(first.body.tools).toEqual([
      { name: "get_weather", description: "Current weather of a city", input_schema: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } }
    ])
    expect(second.body.messages).toEqual([
      { role: "user", content: "Weather in Paris?" },
      {
        role: "assistant",
        content: [
          { type: "text", text: "Let me check." },
          { type: "tool_use", id: "toolu_01Weather", name: "get_weather", input: { city: "Paris" } }
        ]
      },
      { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_01Weather", content: "18 °C, clear" }] }
    ])
    expect(fake.requests.length).toBe(before + 2)
  }, 30_000)

  it("a non-streaming tool call: tool_calls with the arguments whole, content null, tool_choice and parallel_tool_calls mapped", async () => {
    fake.enqueue(FakeAnthropic.toolUse({ name: "get_weather", input: { city: "Oslo" }, id: "toolu_01Oslo" }))
    const done = await client.chat.completions.create({
      model: "sluice",
      messages: [{ role: "user", content: "Oslo?" }],
      tools: [{ type: "function", function: { name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } } } } }],
      tool_choice: { type: "function", function: { name: "get_weather" } },
      parallel_tool_calls: false
    })
    expect(done.choices[0]!.finish_reason).toBe("tool_calls")
    expect(done.choices[0]!.message.content).toBeNull()
    expect(done.choices[0]!.message.tool_calls).toEqual([{ id: "toolu_01Oslo", type: "function", function: { name: "get_weather", arguments: '{"city":"Oslo"}' } }])
    expect(lastUpstream().body.tool_choice).toEqual({ type: "tool", name: "get_weather", disable_parallel_tool_use: true })
    // tool use needs the whole exchange: a continued conversation cannot carry it
    const res = await fetch(`${gw.info.url}v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-sluice-conversation-id": done.id },
      body: JSON.stringify({ messages: [{ role: "tool", tool_call_id: "toolu_01Oslo", content: "-3 °C" }], tools: [{ type: "function", function: { name: "get_weather" } }] })
    })
    expect(res.status).toBe(400)
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/whole exchange/)
  }, 30_000)

  it("image_url parts with data URLs reach Claude as image blocks, after the text, in the user turn", async () => {
    const png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
    fake.enqueue(FakeAnthropic.text("A single pixel."))
    const done = await client.chat.completions.create({
      model: "sluice",
      messages: [{ role: "user", content: [{ type: "text", text: "What is this?" }, { type: "image_url", image_url: { url: `data:image/png;base64,${png}` } }] }]
    })
    expect(done.choices[0]!.message.content).toBe("A single pixel.")
    expect(lastUpstream().body.messages).toEqual([
      {
        role: "user",
        content: [
          { type: "text", text: "What is this?" },
          { type: "image", source: { type: "base64", media_type: "image/png", data: png } }
        ]
      }
    ])
  }, 30_000)

  it("a non-streaming client that disconnects stops the run (the upstream request is aborted)", async () => {
    fake.enqueue(FakeAnthropic.text(Array.from({ length: 200 }, (_, i) => `word${i} `), { deltaDelayMs: 50 }))
    const before = fake.requests.length
    const ac = new AbortController()
    const pending = fetch(`${gw.info.url}v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ messages: [{ role: "user", content: "a long one" }] }),
      signal: ac.signal
    }).catch((e: Error) => e)
    const t0 = Date.now()
    while (fake.requests.length === before && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 20))
    await new Promise((r) => setTimeout(r, 300))
    ac.abort()
    expect(await pending).toBeInstanceOf(Error)
    const upstream = fake.requests[before]!
    const closedAt = await Promise.race([fake.whenClosed(upstream), new Promise<number>((r) => setTimeout(() => r(-1), 5000))])
    expect(closedAt).toBeGreaterThan(0)
    expect(upstream.outcome).toBe("aborted") // 200 deltas × 50 ms would take 10 s
  }, 30_000)

  it("GET /v1/models lists the default, the model choices and the aliases", async () => {
    const models = await client.models.list()
    const ids = models.data.map((m) => m.id)
    expect(ids).toContain("sluice")
    expect(ids).toContain("gpt-4o")
    expect(ids).toContain("claude-sonnet-5-5")
  })
})
