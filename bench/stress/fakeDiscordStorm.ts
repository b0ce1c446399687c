/**
 * Discord for the 429 storm, in its own process: the channels' loopback fake of Discord
 * (`packages/channels/fakes/FakeDiscord.ts`: REST with a per-channel bucket and its X-RateLimit-*
 * headers, 429 `{ retry_after }` + Retry-After, and the Gateway WebSocket) with STORM of the REST
 * calls answered 429 on top (seeded: SEED). The bucket is BUCKET calls per BUCKET_MS per channel.
 *
 * Prints `{"url":…,"gatewayUrl":…}` once listening and `{"ready":true}` once a client identified.
 * Stdin lines: `ask <channelId> <text>` (a user's message, dispatched as MESSAGE_CREATE), `stats`
 * (one line `{"stats":{answered, texts}}`: every REST call as answered, and per channel the
 * messages as the user sees them). A SIGTERM stops it.
 */
import { createInterface } from "node:readline"
import { FakeDiscord } from "../../packages/channels/fakes/FakeDiscord.js"
import { seeded } from "./random.js"

const TOKEN = "stress-discord-token"

const fake = await new FakeDiscord(TOKEN, {
  bucketSize: Number(process.env.BUCKET ?? 5),
  bucketResetMs: Number(process.env.BUCKET_MS ?? 5000),
  stormRate: Number(process.env.STORM ?? 0.5),
  random: seeded(Number(process.env.SEED ?? 1))
}).start()
console.log(JSON.stringify({ url: fake.url, gatewayUrl: fake.gatewayUrl }))
const ready = setInterval(() => {
  if (fake.identifies > 0) {
    clearInterval(ready)
    console.log(JSON.stringify({ ready: true }))
  }
}, 50)

createInterface({ input: process.stdin }).on("line", (l) => {
  const ask = /^ask (\d+) (.+)$/.exec(l.trim())
  if (ask !== null) fake.userMessage(ask[1]!, ask[2]!, { authorId: `42${ask[1]}` })
  if (l.trim() === "stats") {
    const texts: Record<string, Array<string>> = {}
    for (const c of fake.created) texts[c.channelId] = [...(texts[c.channelId] ?? []), c.content]
    console.log(JSON.stringify({ stats: { answered: fake.answered, texts } }))
  }
})
process.once("SIGTERM", () => {
  fake.close().then(() => process.exit(0))
})
