/**
 * The web chat as a user manages it, in headless Chromium: tokens (a wrong one, sign-out, a token
 * in the URL, someone else's conversation), rename / system prompt / model, regenerate, edit and
 * resend, export, delete — each checked against what the gateway then holds — and a message sent
 * while the connection is down, plus the keyboard shortcuts.
 */
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import type { Page } from "playwright-core"
import { type Browser, launch, screenshotDir } from "./support/browser.js"
import { connect, start, type Started } from "./support/harness.js"

const ALICE = "alice-web-token-0123456789"
const BOB = "bob-web-token-9876543210"

describe("web chat: accounts and conversation management (headless Chromium)", () => {
  let gw: Started
  let browser: Browser

  beforeAll(async () => {
    // ~0.6 s per reply: slow enough that Esc surely lands while one is being written.
    gw = await start({ tokens: [ALICE, BOB], tokensPerSecond: 100, words: 60 })
    browser = await launch()
  }, 660_000)
  afterAll(async () => {
    await browser?.close()
    await gw?.close()
  })

  const newPage = async () => {
    const page = await browser.ctx.newPage()
    await page.setViewportSize({ width: 1200, height: 800 })
    return page
  }
  const signedIn = async (page: Page, token = ALICE) => {
    await page.goto(`${gw.info.url}?token=${token}`)
    await page.waitForFunction(() => document.querySelector("#status")?.textContent?.startsWith("connected as"), undefined, { timeout: 10_000 })
  }
  const send = async (page: Page, text: string) => {
    await page.fill("#input", text)
    await page.press("#input", "Enter")
  }
  const idle = (page: Page) =>
    page.waitForFunction(
      () => document.querySelectorAll(".msg.assistant").length > 0 && !document.querySelector(".msg.assistant .typing"),
      undefined,
      { timeout: 20_000 }
    )
  /** What the gateway holds, read as a protocol client. */
  const gateway = async <A>(token: string, f: (c: Awaited<ReturnType<typeof connect>>) => Promise<A>) => {
    const c = await connect(gw.info.wsUrl, { token })
    try {
      return await f(c)
    } finally {
      c.close()
    }
  }
  const current = (page: Page) => page.evaluate(() => location.hash.slice(1))

  it("tokens: a wrong one is said and not saved, ?token= leaves the URL, sign-out asks again, another's conversation id opens one's own", async () => {
    const page = await newPage()
    try {
      await page.goto(`${gw.info.url}?token=not-a-real-token`)
      await page.waitForSelector("#auth[open]", { timeout: 10_000 })
      expect(await page.textContent("#auth-error")).toContain("not accepted")
      expect(page.url()).not.toContain("token=")
      expect(await page.evaluate(() => localStorage.getItem("sluice.token"))).toBeNull()

      await page.fill("#token", ALICE)
      await page.press("#token", "Enter")
      await page.waitForFunction(() => document.querySelector("#status")?.textContent?.startsWith("connected as"), undefined, { timeout: 10_000 })
      expect(await page.evaluate(() => localStorage.getItem("sluice.token"))).toBe(ALICE)
      expect(await page.isVisible("#signout")).toBe(true)

      // Bob's conversation id, opened by URL: ids are per principal, so it is alice's own (new)
      // conversation of that name; nothing of bob's shows, and what she sends stays hers.
      await gateway(BOB, (c) => c.request({ type: "send", conversationId: "bobs-chat", text: "private" }))
      await page.evaluate(() => {
        location.hash = "#bobs-chat"
      })
      await send(page, "my carefully typed text")
      await page.waitForFunction(() => document.querySelectorAll(".msg.user").length === 1, undefined, { timeout: 5_000 })
      expect(await page.textContent("#messages")).not.toContain("private")
      expect(await page.isHidden("#banner")).toBe(true)
      expect(await gateway(BOB, async (c) => (await c.request({ type: "history", conversationId: "bobs-chat" })).result.map((m: { text: string }) => m.text))).not.toContain("my carefully typed text")
      expect(await gateway(ALICE, async (c) => (await c.request({ type: "history", conversationId: "bobs-chat" })).result[0].text)).toBe("my carefully typed text")

      await page.click("#signout")
      await page.waitForSelector("#auth[open]", { timeout: 10_000 })
      expect(await page.isHidden("#auth-error")).toBe(true)
      expect(await page.evaluate(() => localStorage.getItem("sluice.token"))).toBeNull()
    } finally {
      await page.close()
    }
  }, 60_000)

  it("rename, prompt and model; regenerate; edit and resend; reload; export; delete — each as the gateway then holds it", async () => {
    const page = await newPage()
    try {
      await signedIn(page)
      await send(page, "first question")
      await idle(page)
      const id = await current(page)

      await page.click("#more")
      await page.click("#act-settings")
      await page.fill("#set-title", "Renamed chat")
      await page.fill("#set-system", "Answer briefly.")
      await page.selectOption("#set-model", "claude-opus-5-5")
      await page.click("#set-save")
      await page.waitForFunction(() => !document.querySelector("#settings")!.hasAttribute("open"), undefined, { timeout: 5_000 })
      await page.waitForFunction(() => document.querySelector("#title")?.textContent === "Renamed chat", undefined, { timeout: 5_000 })
      expect(await page.textContent("#conversations a.active")).toBe("Renamed chat")
      const listed = await gateway(ALICE, async (c) => (await c.request({ type: "list" })).result.find((x: { conversationId: string }) => x.conversationId === id))
      expect(listed).toMatchObject({ title: "Renamed chat", system: "Answer briefly.", model: "claude-opus-5-5" })

      await send(page, "second question")
      await page.waitForFunction(() => document.querySelectorAll(".msg.assistant").length === 2, undefined, { timeout: 10_000 })
      await idle(page)
      // The badge says who wrote it: the offline model, not the pinned Claude id it was asked for.
      expect(await page.locator(".msg.assistant .badge.model").last().textContent()).toBe("offline-demo-model")

      // Regenerate: the last reply is replaced, not added to.
      const before = await page.locator(".msg.assistant").last().getAttribute("data-run")
      expect(await page.locator(".msg.assistant .regen:visible").count()).toBe(1)
      await page.locator(".msg.assistant .regen").last().click()
      await page.waitForFunction(
        (old) => (Array.from(document.querySelectorAll<HTMLElement>(".msg.assistant")).pop()?.dataset.run ?? old) !== old,
        before,
        { timeout: 10_000 }
      )
      await idle(page)
      expect(await page.locator(".msg.assistant").count()).toBe(2)
      expect(await page.locator(".msg.user").count()).toBe(2)

      // Edit the first message: it and everything after it are replaced by the new exchange.
      await page.locator(".msg.user .edit").first().click()
      await page.fill(".msg.user.editing textarea", "first question, edited")
      await page.press(".msg.user.editing textarea", "Enter")
      await page.waitForFunction(() => document.querySelectorAll(".msg.user").length === 1, undefined, { timeout: 10_000 })
      await page.waitForFunction(() => document.querySelectorAll(".msg.assistant").length === 1, undefined, { timeout: 10_000 })
      await idle(page)
      expect(await page.locator(".msg.user .text").textContent()).toBe("first question, edited")
      const history = await gateway(ALICE, async (c) => (await c.request({ type: "history", conversationId: id })).result)
      expect(history.map((m: { role: string; text: string }) => m.role)).toEqual(["user", "assistant"])
      expect(history[0].text).toBe("first question, edited")

      // A reload replays the log (with its Rewound events) to the same page.
      await page.reload()
      await page.waitForFunction(() => document.querySelectorAll(".msg.assistant").length >= 1, undefined, { timeout: 10_000 })
      await idle(page)
      expect(await page.locator(".msg.user").count()).toBe(1)
      expect(await page.locator(".msg.assistant").count()).toBe(1)
      await page.screenshot({ path: join(screenshotDir(), "desktop.png") })

      // Export.
      for (const [item, check] of [
        ["#act-md", (text: string) => expect(text).toMatch(/^# Renamed chat\n[\s\S]*## You\n\nfirst question, edited\n/)],
        ["#act-json", (text: string) => expect(JSON.parse(text)).toMatchObject({ conversationId: id, title: "Renamed chat", system: "Answer briefly." })]
      ] as const) {
        await page.click("#more")
        const [download] = await Promise.all([page.waitForEvent("download"), page.click(item)])
        check(readFileSync((await download.path())!, "utf8"))
      }

      // Delete, confirmed.
      page.once("dialog", (d) => d.accept())
      await page.click("#more")
      await page.click("#act-delete")
      await page.waitForFunction(() => document.querySelector("#title")?.textContent === "New conversation", undefined, { timeout: 5_000 })
      expect(await current(page)).toBe("")
      expect(await page.locator(`#conversations a[data-id="${id}"]`).count()).toBe(0)
      const after = await gateway(ALICE, async (c) => (await c.request({ type: "list" })).result)
      expect(after.some((x: { conversationId: string }) => x.conversationId === id)).toBe(false)
    } finally {
      await page.close()
    }
  }, 90_000)

  it("sending while disconnected waits and goes out once on reconnect; the running dot clears; Esc stops, Ctrl+Shift+O starts anew", async () => {
    const page = await newPage()
    // Lets the test cut the connection and hold reconnects back, as a network outage would.
    await page.addInitScript(() => {
      const w = window as unknown as { __block: boolean; __sockets: Array<WebSocket> }
      w.__block = false
      w.__sockets = []
      const Native = window.WebSocket
      window.WebSocket = class extends Native {
        constructor(url: string | URL, protocols?: string | Array<string>) {
          super(w.__block ? "ws://127.0.0.1:9/" : url, protocols)
          w.__sockets.push(this)
        }
      } as typeof WebSocket
    })
    try {
      await signedIn(page)
      await send(page, "please write a long answer about the sea and its tides")
      await page.waitForSelector("#conversations a .run", { timeout: 10_000 })
      const id = await current(page)
      await page.evaluate(() => {
        const w = window as unknown as { __block: boolean; __sockets: Array<WebSocket> }
        w.__block = true
        for (const s of w.__sockets) s.close()
      })
      await page.waitForFunction(() => !document.querySelector("#status")?.textContent?.startsWith("connected"), undefined, { timeout: 5_000 })
      expect(await page.locator("#conversations a .run").count()).toBe(0)
      expect(await page.isHidden("#stop")).toBe(true)

      await send(page, "sent while offline")
      await page.waitForSelector(".msg.user.pending", { timeout: 5_000 })
      expect(await page.inputValue("#input")).toBe("")
      await page.evaluate(() => {
        ;(window as unknown as { __block: boolean }).__block = false
      })
      await page.waitForFunction(() => !document.querySelector(".msg.user.pending"), undefined, { timeout: 15_000 })
      await page.waitForFunction(() => document.querySelectorAll(".msg.assistant").length === 2, undefined, { timeout: 20_000 })
      const texts = await page.locator(".msg.user .text").allTextContents()
      expect(texts.filter((t) => t === "sent while offline")).toHaveLength(1)
      const history = await gateway(ALICE, async (c) => (await c.request({ type: "history", conversationId: id })).result)
      expect(history.filter((m: { text: string }) => m.text === "sent while offline")).toHaveLength(1)

      // Esc stops the reply that is being written.
      await page.waitForSelector("#stop:not([hidden])", { timeout: 10_000 })
      await page.keyboard.press("Escape")
      await page.waitForFunction(() => !document.querySelector(".msg.assistant .typing"), undefined, { timeout: 10_000 })
      await page.waitForFunction(() => document.querySelector(".msg.assistant:last-child .badge.stopped") !== null, undefined, { timeout: 5_000 })

      await page.locator("body").click({ position: { x: 600, y: 300 } })
      await page.keyboard.press("Control+Shift+O")
      await page.waitForFunction(() => document.querySelector("#title")?.textContent === "New conversation", undefined, { timeout: 5_000 })
      expect(await page.evaluate(() => document.activeElement?.id)).toBe("input")
    } finally {
      await page.close()
    }
  }, 90_000)
})
