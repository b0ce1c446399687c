/**
 * The web chat page in headless Chromium (Debian `chromium` + playwright-core): blocks arrive,
 * Stop works mid-stream, a reload mid-stream resumes without duplicates.
 */
import { execSync } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { StreamingSettings } from "@sluice/core"
import { type BrowserContext, chromium, type Page } from "playwright-core"
import { connect, start, type Started } from "./support/harness.js"

const CHROMIUM = "/usr/bin/chromium"
const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync"
]

const settings: StreamingSettings.StreamingSettings = {
  ...StreamingSettings.defaults,
  chunk: { minChars: 120, maxChars: 300, breakPreference: "sentence", flushOnParagraph: false },
  coalesce: { minChars: 120, maxChars: 300, idleMs: 100, joiner: " " }
}

describe("web chat page (headless Chromium)", () => {
  let gw: Started
  let ctx: BrowserContext
  let page: Page
  let profile: string

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      execSync("apt-get update && apt-get install -y chromium", { stdio: "inherit", timeout: 600_000 })
    }
    gw = await start({ tokensPerSecond: 60, words: 200, thinking: true, settings })
    profile = mkdtempSync(join(tmpdir(), "sluice-chromium-"))
    ctx = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, args: ARGS, headless: true })
    page = ctx.pages()[0] ?? (await ctx.newPage())
    await page.setViewportSize({ width: 1200, height: 800 })
  }, 660_000)

  afterAll(async () => {
    await ctx?.close()
    await gw?.close()
    if (profile) rmSync(profile, { recursive: true, force: true })
  })

  const lastAssistant = (p: Page) => p.locator(".msg.assistant").last()
  const blockSeqs = (p: Page) => lastAssistant(p).locator(".block").evaluateAll((bs) => bs.map((b) => Number((b as HTMLElement).dataset.seq)))
  const send = async (p: Page, text: string) => {
    await p.fill("#input", text)
    await p.press("#input", "Enter")
  }

  it("shows the offline model, streams blocks, and keeps the conversation in the list", async () => {
    await page.goto(gw.info.url)
    await page.waitForSelector("#conn.online", { timeout: 20_000 })
    expect(await page.isVisible("#offline")).toBe(true)
    expect(await page.textContent("#model")).toBe("offline demo model")
    await send(page, "Explain how a sluice gate controls water flow.")
    await page.waitForSelector(".msg.assistant .block", { timeout: 20_000 })
    const early = (await blockSeqs(page)).length
    if (process.env.SLUICE_SCREENSHOT) await page.screenshot({ path: process.env.SLUICE_SCREENSHOT })
    await page.waitForSelector(".msg.assistant:not(:has(.typing))", { timeout: 30_000 })
    const seqs = await blockSeqs(page)
    expect(seqs.length).toBeGreaterThan(early)
    expect(new Set(seqs).size).toBe(seqs.length)
    await page.waitForSelector("#conversations a.active", { timeout: 5_000 })
  }, 60_000)

  it("Stop mid-stream ends the run and marks the reply stopped", async () => {
    await send(page, "Now write a much longer essay about canals and locks, with history.")
    await page.waitForFunction(() => {
      const last = Array.from(document.querySelectorAll(".msg.assistant")).pop()
      return last?.querySelector(".typing") && last.querySelector(".block")
    }, undefined, { timeout: 30_000 })
    expect(await page.isVisible("#stop")).toBe(true)
    await page.click("#stop")
    await page.waitForSelector(".msg.assistant:last-child .badge.stopped", { timeout: 15_000 })
    await page.waitForSelector("#stop", { state: "hidden", timeout: 5_000 })
  }, 60_000)

  it("reload mid-stream: the stream resumes and no block appears twice", async () => {
    await send(page, "Tell me about the Erie canal in detail please.")
    await page.waitForFunction(() => {
      const last = Array.from(document.querySelectorAll(".msg.assistant")).pop()
      return last?.querySelector(".typing") && last.querySelector(".block")
    }, undefined, { timeout: 30_000 })
    const conversationId = new URL(page.url()).hash.slice(1)
    await page.reload()
    await page.waitForSelector("#conn.online", { timeout: 20_000 })
    // Still streaming after the reload, then done.
    await page.waitForFunction(() => {
      const last = Array.from(document.querySelectorAll(".msg.assistant")).pop()
      return last && !last.querySelector(".typing")
    }, undefined, { timeout: 40_000 })
    const seqs = await blockSeqs(page)
    expect(new Set(seqs).size).toBe(seqs.length)
    // The page shows exactly the blocks of that run, as a protocol client reads them.
    const c = await connect(gw.info.wsUrl)
    await c.request({ type: "subscribe", conversationId, fromSeq: 0 })
    await c.until(() => c.events(conversationId).filter((e) => e._tag === "RunEnded").length === 3, 10_000)
    const events = c.events(conversationId)
    const lastRun = events.filter((e) => e._tag === "RunStarted").pop()!.runId
    const expected = events.filter((e) => e._tag === "Block" && e.runId === lastRun).map((e) => e.seq)
    expect(seqs).toEqual(expected)
    const userMessages = await page.locator(".msg.user").count()
    expect(userMessages).toBe(3)
    c.close()
  }, 90_000)
})

// Make sure a stray profile dir from an aborted run does not pile up.
mkdirSync(tmpdir(), { recursive: true })
