/**
 * No secret in any log line or any answer. The real `sluice gateway` runs with every channel
 * configured (each secret through a `$VARIABLE`), at debug level, while everything fails around it:
 * every platform API is unreachable (a closed loopback port), so long polling, the Discord gateway
 * and the Signal event stream retry, and every reply send fails; webhooks are called with good and
 * bad signatures. Then all of stdout and stderr, and every webhook answer, are searched for every
 * secret's value. The retry warnings are also checked to be one line each (no stack traces) and
 * spaced out (backoff, not a line a second).
 */
import { spawn } from "node:child_process"
import { createHmac, randomBytes } from "node:crypto"
import { writeFileSync } from "node:fs"
import { closedPort } from "@sluice/core/fakes/closedPort"
import { describe, expect, it } from "vitest"
import { bin, cleanEnv, tempDir } from "./run.js"

const secret = (name: string) => `${name}-${randomBytes(12).toString("hex")}`

const until = async (ok: () => boolean, ms: number, what: () => string, exitedEarly?: () => boolean) => {
  const t0 = Date.now()
  while (!ok()) {
    if (Date.now() - t0 > ms || (exitedEarly?.() ?? false)) throw new Error(`timed out or exited: ${what()}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

describe("secrets never reach a log line or an answer", () => {
  it("every channel configured, every API unreachable, webhooks good and bad: no secret anywhere in the output", async () => {
    using dir = tempDir()
    const dead = `http://127.0.0.1:${await closedPort()}`
    const secrets = {
      SLUICE_TEST_TG_TOKEN: `${100000 + Math.floor(Math.random() * 1e6)}:${secret("tgtoken")}`,
      SLUICE_TEST_TG_HOOK_TOKEN: `${100000 + Math.floor(Math.random() * 1e6)}:${secret("tghooktoken")}`,
      SLUICE_TEST_TG_WEBHOOK_SECRET: secret("tgwebhook"),
      SLUICE_TEST_DISCORD_TOKEN: secret("discordtoken"),
      SLUICE_TEST_SLACK_TOKEN: `xoxb-${secret("slacktoken")}`,
      SLUICE_TEST_SLACK_SIGNING: secret("slacksigning"),
      SLUICE_TEST_WA_TOKEN: secret("watoken"),
      SLUICE_TEST_WA_APP_SECRET: secret("waapp"),
      SLUICE_TEST_WA_VERIFY: secret("waverify")
    }
    const config = `${dir.path}/sluice.json`
    writeFileSync(
      config,
      JSON.stringify({
        model: { provider: "offline", offline: { tokensPerSecond: 0, words: 30 } },
        channels: {
          telegram: {
            token: "$SLUICE_TEST_TG_TOKEN",
            baseUrl: dead,
            accounts: {
              hook: { token: "$SLUICE_TEST_TG_HOOK_TOKEN", receive: "webhook", webhookSecret: "$SLUICE_TEST_TG_WEBHOOK_SECRET", streamMode: "off" }
            }
          },
          discord: { token: "$SLUICE_TEST_DISCORD_TOKEN", baseUrl: dead, gatewayUrl: dead.replace("http", "ws") },
          slack: { token: "$SLUICE_TEST_SLACK_TOKEN", signingSecret: "$SLUICE_TEST_SLACK_SIGNING", baseUrl: dead },
          whatsapp: {
            token: "$SLUICE_TEST_WA_TOKEN",
            phoneNumberId: "106540352242922",
            appSecret: "$SLUICE_TEST_WA_APP_SECRET",
            verifyToken: "$SLUICE_TEST_WA_VERIFY",
            baseUrl: dead
          },
          signal: { baseUrl: dead }
        }
      })
    )
    const child = spawn(process.execPath, [bin, "--log-level", "debug", "gateway", "--port", "0", "--data-dir", `${dir.path}/data`], {
      env: cleanEnv({ SLUICE_CONFIG: config, ...secrets }),
      stdio: ["ignore", "pipe", "pipe"]
    })
    let out = ""
    child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d))
    child.stderr.setEncoding("utf8").on("data", (d: string) => (out += d))
    let gone = false
    const exited = new Promise<void>((resolve) => child.on("close", () => {
        gone = true
        resolve()
      })
    )
    const answers: Array<string> = []
    try {
      await until(() => /web chat: http:\/\/[^\s/]+/.test(out), 90_000, () => out, () => gone)
      const base = /web chat: (http:\/\/[^\s/]+)/.exec(out)![1]!
      const post = async (path: string, body: string, headers: Record<string, string>) => {
        const res = await fetch(`${base}${path}`, { method: "POST", body, headers: { "content-type": "application/json", ...headers } })
        const text = await res.text()
        const shown: Array<string> = []
        res.headers.forEach((v, k) => {
          shown.push(`${k}: ${v}`)
        })
        answers.push(`${res.status} ${shown.join("; ")} ${text}`)
        return res.status
      }

      // Telegram webhook: a wrong secret is refused, the right one is answered (and its send fails).
      const update = JSON.stringify({
        update_id: 1,
        message: { message_id: 7, date: 0, from: { id: 42, is_bot: false, first_name: "U" }, chat: { id: 42, type: "private" }, text: "hello" }
      })
      expect(await post("/webhooks/telegram/hook", update, { "x-telegram-bot-api-secret-token": "wrong" })).toBe(401)
      expect(await post("/webhooks/telegram/hook", update, { "x-telegram-bot-api-secret-token": secrets.SLUICE_TEST_TG_WEBHOOK_SECRET })).toBe(200)

      // Slack Events API: a bad signature is refused, a signed event is answered.
      const ts = String(Math.floor(Date.now() / 1000))
      const event = JSON.stringify({
        type: "event_callback",
        event_id: "Ev1",
        event: { type: "message", channel: "C1", user: "U1", text: "hello", ts: "1.000", channel_type: "im" }
      })
      const slackSig = (key: string) => `v0=${createHmac("sha256", key).update(`v0:${ts}:${event}`).digest("hex")}`
      expect(await post("/webhooks/slack/default", event, { "x-slack-request-timestamp": ts, "x-slack-signature": slackSig("nope") })).toBe(401)
      expect(
        await post("/webhooks/slack/default", event, { "x-slack-request-timestamp": ts, "x-slack-signature": slackSig(secrets.SLUICE_TEST_SLACK_SIGNING) })
      ).toBe(200)

      // WhatsApp: verification with a wrong and the right token, a bad and a good signature.
      const verify = async (token: string) => {
        const res = await fetch(`${base}/webhooks/whatsapp/default?hub.mode=subscribe&hub.verify_token=${token}&hub.challenge=c123`)
        answers.push(`${res.status} ${await res.text()}`)
        return res.status
      }
      expect(await verify("wrong")).toBe(403)
      expect(await verify(secrets.SLUICE_TEST_WA_VERIFY)).toBe(200)
      const wa = JSON.stringify({
        object: "whatsapp_business_account",
        entry: [
          {
            id: "1",
            changes: [
              {
                field: "messages",
                value: {
                  messaging_product: "whatsapp",
                  metadata: { phone_number_id: "106540352242922" },
                  messages: [{ from: "4915550001", id: "wamid.1", timestamp: "0", type: "text", text: { body: "hello" } }]
                }
              }
            ]
          }
        ]
      })
      const waSig = (key: string) => `sha256=${createHmac("sha256", key).update(wa).digest("hex")}`
      expect(await post("/webhooks/whatsapp/default", wa, { "x-hub-signature-256": waSig("nope") })).toBe(401)
      expect(await post("/webhooks/whatsapp/default", wa, { "x-hub-signature-256": waSig(secrets.SLUICE_TEST_WA_APP_SECRET) })).toBe(200)

      // Each accepted message's reply fails to send (the API is unreachable), and that is logged.
      await until(() => ["telegram", "slack", "whatsapp"].every((c) => new RegExp(`channel send failed \\(${c} `).test(out)), 30_000, () => out, () => gone)
      // Long polling, the Discord gateway and the Signal stream have failed and retried a few times.
      await until(() => (out.match(/telegram:default getUpdates failed/g) ?? []).length >= 3, 30_000, () => out, () => gone)
    } finally {
      child.kill("SIGTERM")
      await exited
    }

    for (const [name, value] of Object.entries(secrets)) {
      expect(out.includes(value), `${name} appears in the gateway's output`).toBe(false)
      expect(answers.join("\n").includes(value), `${name} appears in a webhook answer`).toBe(false)
      // Telegram tokens are `<bot id>:<secret>`: the secret half never shows either.
      const half = value.split(":").at(-1)!
      expect(out.includes(half), `${name} (its secret part) appears in the gateway's output`).toBe(false)
    }
    // The token-bearing URL is there, scrubbed: the failure says what failed without the secret.
    expect(out).toContain("/bot<redacted>/sendMessage")
    // One concise line per failure: no stack traces.
    expect(out).not.toMatch(/^\s+at /m)
    for (const channel of ["telegram:default getUpdates failed", "discord", "signal:default event stream failed"]) {
      expect(out, channel).toContain(channel)
    }
    // Backoff, not a line a second: the first three getUpdates failures span at least 1.5 s
    // (0.5–1 s, then 1–2 s after a 1 s start, doubling).
    const ms = (t: string) => {
      const [h, m, s] = t.split(":").map(Number)
      return ((h! * 60 + m!) * 60 + s!) * 1000
    }
    const times = [...out.matchAll(/^\[(\d\d:\d\d:\d\d\.\d+)\] WARN[^\n]*telegram:default getUpdates failed/gm)].map((m) => ms(m[1]!))
    expect(times.length).toBeGreaterThanOrEqual(3)
    expect(times[2]! - times[0]!).toBeGreaterThan(1500)
  }, 150_000)
})
