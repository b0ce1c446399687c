/** `sluice preview [--channel NAME] [--agent ID] [--account ID] [FILE|-]`. */
import { FileSystem } from "@effect/platform"
import * as Channel from "@sluice/channels/Channel"
import * as Config from "@sluice/core/Config"
import type { ModelEvent } from "@sluice/core/ModelEvent"
import { Console, Effect, Option, Stream } from "effect"
import * as Preview from "../Preview.js"
import * as ConfigFile from "./configFile.js"
import { warnings } from "./configCommand.js"
import { InputError } from "./errors.js"
import { readStdin } from "./stdin.js"

export interface PreviewArgs {
  readonly config: Option.Option<string>
  readonly channel: Option.Option<string>
  readonly agent: Option.Option<string>
  readonly account: Option.Option<string>
  readonly json: boolean
  readonly summary: boolean
  readonly seed: number
  readonly file: Option.Option<string>
  readonly prompt: string
}

const readFile = (path: string) =>
  Effect.flatMap(FileSystem.FileSystem, (fs) => fs.readFileString(path)).pipe(
    Effect.mapError((e) => new InputError({ message: `cannot read ${path}: ${e.message}` }))
  )

/** The offline demo model answering `prompt`, as fast as it can (nothing sleeps in a preview). */
const offlineModel = (prompt: string, seed: number): Effect.Effect<Stream.Stream<ModelEvent>> =>
  Effect.promise(() => import("@sluice/core/Model")).pipe(
    Effect.map((Model) =>
      Model.makeScripted({ tokensPerSecond: Number.POSITIVE_INFINITY, seed }).stream({
        messages: [{ role: "user", content: prompt }]
      }).pipe(Stream.orDie)
    )
  )

export const preview = (args: PreviewArgs) =>
  Effect.gen(function* () {
    const { config, file } = yield* ConfigFile.load(args.config)
    const target: Config.Target = {
      channel: Option.getOrUndefined(args.channel),
      agentId: Option.getOrUndefined(args.agent),
      accountId: Option.getOrUndefined(args.account)
    }
    for (const w of warnings(config, target)) yield* Console.error(`sluice: warning: ${w}`)
    const settings = Config.resolve(config, target)
    const source = Option.getOrUndefined(args.file)
    const events: Stream.Stream<ModelEvent> =
      source === undefined
        ? yield* offlineModel(args.prompt, args.seed)
        : Stream.fromIterable(Preview.eventsFromText(yield* source === "-" ? readStdin : readFile(source)))
    const caps = target.channel !== undefined && Channel.ChannelId.literals.includes(target.channel as Channel.ChannelId)
      ? Channel.capabilities[target.channel as Channel.ChannelId]
      : undefined
    const plan = yield* Preview.run(events, settings, { channel: caps, seed: args.seed })
    if (args.json) {
      for (const line of Preview.toJsonLines(plan)) yield* Console.log(line)
      return
    }
    const from = source === undefined ? "the offline demo model" : source === "-" ? "stdin" : source
    yield* Console.log(`Preview of a reply from ${from}\n${Preview.formatTarget(target, file)}`)
    yield* Console.log(Preview.formatSettings(settings))
    if (caps?.draftStreaming === true && (settings.streamMode === "partial" || settings.streamMode === "block")) {
      yield* Console.log(
        `  note: in private chats the reply streams in a draft (streamMode ${settings.streamMode}) and only the final is sent; shown here: groups`
      )
    }
    yield* Console.log(Preview.format(plan, { text: !args.summary }))
  })
