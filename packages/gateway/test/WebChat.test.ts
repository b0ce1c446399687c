/**
 * The web chat page in headless Chromium (Debian `chromium` + playwright-core): text shows as it
 * streams and the finished reply is the Final's Markdown rendered, Stop works mid-stream, a reload
 * mid-stream resumes without duplicates, and nothing is wider than a phone.
 */
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { StreamingSettings } from "@sluice/core"
import type { Page } from "playwright-core"
import { type Browser, launch, screenshotDir } from "./support/browser.js"
import { connect, start, type Started } from "./support/harness.js"

const settings: StreamingSettings.StreamingSettings = {
  ...StreamingSettings.defaults,
  chunk: { minChars: 120, maxChars: 300, breakPreference: "sentence", flushOnParagraph: false },
  coalesce: { minChars: 120, maxChars: 300, idleMs: 100, joiner: " " }
}

describe("web chat page (headless Chromium)", () => {
  let gw: Started
  let browser: Browser
  let page: Page

  beforeAll(async () => {
    gw = await start({ tokensPerSecond: 60, words: 200, thinking: true, settings })
    browser = await launch()
    page = browser.page
  }, 660_000)

  afterAll(async () => {
    await browser?.close()
    await gw?.close()
  })

  const lastAssistant = (p: Page) => p.locator(".msg.assistant").last()
  const send = async (p: Page, text: string) => {
    await p.fill("#input", text)
    await p.press("#input", "Enter")
  }
  /** The runs' Finals of a conversation, read as a protocol client reads them. */
  const finals = async (conversationId: string, runs: number) => {
    const c = await connect(gw.info.wsUrl)
    await c.request({ type: "subscribe", conversationId, fromSeq: 0 })
    await c.until(() => c.events(conversationId).filter((e) => e._tag === "RunEnded").length === runs, 10_000)
    const texts = c.events(conversationId).flatMap((e) => (e._tag === "Final" ? [e.text as string] : []))
    c.close()
    return texts
  }
  /** The last reply's body next to the page's own renderer applied to `text` at once. */
  // (a string, not a function: vitest rewrites `import()` inside functions it transforms)
  const compareRendered = (p: Page, text: string): Promise<{ shown: string; expected: string; text: string }> =>
    p.evaluate(`(async () => {
      const md = await import("/markdown.js")
      const wrap = document.createElement("div")
      wrap.append(...md.render(${JSON.stringify(text)}))
      const body = Array.from(document.querySelectorAll(".msg.assistant .body")).pop()
      return { shown: body.innerHTML, expected: wrap.innerHTML, text: body.innerText }
    })()`)
  const waitDone = (p: Page, timeout: number) =>
    p.waitForFunction(() => {
      const last = Array.from(document.querySelectorAll(".msg.assistant")).pop()
      return last && !last.querySelector(".typing")
    }, undefined, { timeout })
  const waitStreaming = (p: Page) =>
    p.waitForFunction(() => {
      const last = Array.from(document.querySelectorAll(".msg.assistant")).pop()
      return last?.querySelector(".typing") && (last.querySelector(".body")?.textContent ?? "").length > 0
    }, undefined, { timeout: 30_000 })

  it("shows the offline model, streams text as it arrives, and the finished reply is the Final's Markdown", async () => {
    // Record when the first Draft frame arrives and when the reply first shows text, in the page.
    await page.addInitScript(() => {
      const w = window as unknown as { __t: { draft?: number; shown?: number } }
      w.__t = {}
      const Native = window.WebSocket
      window.WebSocket = class extends Native {
        constructor(url: string | URL, protocols?: string | Array<string>) {
          super(url, protocols)
          this.addEventListener("message", (m) => {
            if (w.__t.draft === undefined && typeof m.data === "string" && m.data.includes('"Draft"')) w.__t.draft = performance.now()
          })
        }
      }
      new MutationObserver(() => {
        if (w.__t.shown === undefined && (document.querySelector(".msg.assistant .body")?.textContent ?? "") !== "")
          w.__t.shown = performance.now()
      }).observe(document, { subtree: true, childList: true, characterData: true })
    })
    await page.goto(gw.info.url)
    await page.waitForSelector("#conn.online", { timeout: 20_000 })
    expect(await page.isVisible("#offline")).toBe(true)
    expect(await page.textContent("#model")).toBe("offline demo model")
    await send(page, "Explain how a sluice gate controls water flow.")
    await waitStreaming(page)
    const early = (await lastAssistant(page).locator(".body").textContent())!.length
    const t = await page.evaluate(() => (window as unknown as { __t: { draft: number; shown: number } }).__t)
    expect(t.shown - t.draft).toBeLessThan(200)
    await waitDone(page, 30_000)
    const conversationId = new URL(page.url()).hash.slice(1)
    const [final] = await finals(conversationId, 1)
    const r = await compareRendered(page, final!)
    expect(r.text.length).toBeGreaterThan(early)
    expect(r.shown).toBe(r.expected)
    // Real Markdown: headings and code are elements, not literal markers.
    if (final!.includes("### ")) {
      expect(await lastAssistant(page).locator("h3").count()).toBeGreaterThan(0)
      expect(r.text).not.toContain("### ")
    }
    if (final!.includes("```")) expect(await lastAssistant(page).locator("pre code").count()).toBeGreaterThan(0)
    await page.waitForSelector("#conversations a.active", { timeout: 5_000 })
  }, 60_000)

  it("Stop mid-stream ends the run and marks the reply stopped", async () => {
    await send(page, "Now write a much longer essay about canals and locks, with history.")
    await waitStreaming(page)
    expect(await page.isVisible("#stop")).toBe(true)
    await page.click("#stop")
    await page.waitForSelector(".msg.assistant:last-child .badge.stopped", { timeout: 15_000 })
    await page.waitForSelector("#stop", { state: "hidden", timeout: 5_000 })
  }, 60_000)

  it("reload mid-stream: the stream resumes and the reply shows once, as the Final renders", async () => {
    await send(page, "Tell me about the Erie canal in detail please.")
    await waitStreaming(page)
    const conversationId = new URL(page.url()).hash.slice(1)
    await page.reload()
    await page.waitForSelector("#conn.online", { timeout: 20_000 })
    // Still streaming after the reload, then done.
    await waitDone(page, 40_000)
    const texts = await finals(conversationId, 3)
    const r = await compareRendered(page, texts.at(-1)!)
    expect(r.shown).toBe(r.expected)
    expect(await page.locator(".msg.user").count()).toBe(3)
    expect(await page.locator(".msg.assistant").count()).toBe(3)
  }, 90_000)

  it("at 390 px nothing is wider than the screen (code and tables scroll inside) and the conversations are a drawer", async () => {
    await page.setViewportSize({ width: 390, height: 844 })
    await send(page, `${"Averyveryverylongwordwithoutanyspaces".repeat(4)} and a long request, please.`)
    await waitDone(page, 40_000)
    // A long code line and a wide table inside the reply (rendered by the page's own renderer).
    const wide = `\`\`\`ts\nconst x = "${"y".repeat(400)}"\n\`\`\`\n\n| ${"col | ".repeat(30)}\n|${"---|".repeat(30)}\n| ${"cell | ".repeat(30)}\n`
    await page.evaluate(`(async () => {
      const md = await import("/markdown.js")
      Array.from(document.querySelectorAll(".msg.assistant .body")).pop().append(...md.render(${JSON.stringify(wide)}))
    })()`)
    const m = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, inner: window.innerWidth }))
    expect(m.scroll).toBeLessThanOrEqual(m.inner)
    // The long line scrolls inside its code block (highlight.js makes `code.hljs` the scroller).
    expect(await page.locator(".msg.assistant pre code").last().evaluate((e) => e.scrollWidth > e.clientWidth)).toBe(true)
    await page.screenshot({ path: join(screenshotDir(), "phone.png") })
    // The sidebar is a drawer: off-screen until the menu button opens it, closed again by a choice.
    // (waited for: after the resize from desktop width the slide-out transition takes 0.2 s)
    const closed = () =>
      page.waitForFunction(() => document.querySelector("#sidebar")!.getBoundingClientRect().right <= 0, undefined, { timeout: 5_000 })
    await closed()
    await page.click("#menu")
    await page.waitForFunction(() => document.querySelector("#sidebar")!.getBoundingClientRect().left >= 0, undefined, { timeout: 5_000 })
    expect(await page.locator("#conversations a").count()).toBeGreaterThan(0)
    expect(await page.isVisible("#new")).toBe(true)
    await page.screenshot({ path: join(screenshotDir(), "phone-drawer.png") })
    await page.locator("#conversations a").first().click()
    await closed()
    await page.setViewportSize({ width: 1200, height: 800 })
  }, 60_000)
})

