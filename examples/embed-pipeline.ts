/**
 * Embedding Sluice's streaming pipeline in a plain Effect program.
 *
 * You bring the model (any `Stream<ModelEvent>`) and decide where replies go; Sluice turns the
 * token stream into readable blocks (chunked, coalesced, optionally paced) plus one final reply.
 * Both ends are services, so each is a `Layer` you swap for your own:
 * - `Model.Model` — here `EchoModel`, a model of our own that streams a canned answer in small
 *   deltas (swap in `AnthropicModel.layer()` for Claude, or anything that yields `ModelEvent`s);
 * - `Replies` — where the reply payloads go: the console here, a `Ref` in the tests.
 *
 * Run: `node --import tsx examples/embed-pipeline.ts`
 */
import { NodeRuntime } from "@effect/platform-node"
import { Config, Model, type ModelEvent, Pipeline, type ReplyEvent } from "@sluice/core"
import { Console, Context, Effect, Layer, Stream } from "effect"
import { pathToFileURL } from "node:url"

/** Where reply payloads go. */
export class Replies extends Context.Tag("examples/Replies")<
  Replies,
  { readonly publish: (payload: ReplyEvent.Payload) => Effect.Effect<void> }
>() {}

/** Prints blocks and the final reply. */
export const RepliesConsole = Layer.succeed(Replies, {
  publish: (p) => {
    switch (p._tag) {
      case "Block":
        return Console.log(`--- block ${p.index} (${p.text.length} chars) ---\n${p.text}`)
      case "Final":
        return Console.log(`=== final reply: ${p.text.length} chars ===`)
      default:
        return Effect.void
    }
  }
})

export const answer = [
  "# Streaming, the short version",
  "A model writes a reply a few characters at a time. Sending each fragment to a chat would be noise; waiting for the whole reply would be slow.",
  "So the reply is cut into blocks at paragraph breaks, merged while they are small, and sent as they become ready.",
  "```ts\nconst blocks = events.pipe(Pipeline.make(settings))\n```",
  "Code fences are never split while a better break exists, and nothing is ever lost."
].join("\n\n")

/** Cuts a text into `ModelEvent`s the way a streaming model emits them. */
export const toEvents = (text: string, size = 6): ReadonlyArray<ModelEvent.ModelEvent> => {
  const events: Array<ModelEvent.ModelEvent> = [
    { _tag: "MessageStart", messageId: "msg_1", model: "echo", usage: { inputTokens: 1, outputTokens: 0 } }
  ]
  for (let i = 0; i < text.length; i += size) events.push({ _tag: "TextDelta", index: 0, text: text.slice(i, i + size) })
  events.push({ _tag: "TextEnd", index: 0 }, { _tag: "MessageEnd" })
  return events
}

/** A model of our own: answers every request with `answer`. */
export const EchoModel = Layer.succeed(Model.Model, {
  name: "echo model",
  stream: () => Stream.fromIterable(toEvents(answer)).pipe(Stream.rechunk(1))
})

/** The program: ask the model, run the reply through the pipeline, publish every payload. */
export const program = Effect.gen(function* () {
  // Settings the way Sluice resolves them for a target; blocks are small here so the demo shows several.
  const config = yield* Config.decode({
    agents: { defaults: { blockStreamingChunk: { minChars: 60, maxChars: 200 }, blockStreamingCoalesce: { minChars: 60 } } }
  })
  const settings = Config.resolve(config) // no channel: a web/terminal client, block streaming on
  const model = yield* Model.Model
  const replies = yield* Replies
  yield* model
    .stream({ messages: [{ role: "user", content: "How does streaming work?" }] })
    .pipe(Pipeline.make(settings), Stream.runForEach(replies.publish))
})

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  program.pipe(Effect.provide(Layer.merge(EchoModel, RepliesConsole)), NodeRuntime.runMain)
}
