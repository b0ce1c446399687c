/** Headless Chromium (Debian's `chromium`) for the web chat tests, and where their screenshots go. */
import { execSync } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { type BrowserContext, chromium, type Page } from "playwright-core"

export const CHROMIUM = "/usr/bin/chromium"
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

export interface Browser {
  readonly ctx: BrowserContext
  readonly page: Page
  readonly close: () => Promise<void>
}

/** A fresh profile (no saved token or state), one page at 1200×800. Installs chromium if missing. */
export const launch = async (): Promise<Browser> => {
  if (!existsSync(CHROMIUM)) execSync("apt-get update && apt-get install -y chromium", { stdio: "inherit", timeout: 600_000 })
  const profile = mkdtempSync(join(tmpdir(), "sluice-chromium-"))
  const ctx = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, args: ARGS, headless: true })
  const page = ctx.pages()[0] ?? (await ctx.newPage())
  await page.setViewportSize({ width: 1200, height: 800 })
  return {
    ctx,
    page,
    close: async () => {
      await ctx.close()
      rmSync(profile, { recursive: true, force: true })
    }
  }
}

/**
 * Screenshots are test artifacts: `SLUICE_SCREENSHOT_DIR` when set, else `<tmp>/sluice-screenshots`
 * (printed once, so a CI log says where they are).
 */
export const screenshotDir = (() => {
  let dir: string | undefined
  return () => {
    if (dir === undefined) {
      dir = process.env.SLUICE_SCREENSHOT_DIR ?? join(tmpdir(), "sluice-screenshots")
      mkdirSync(dir, { recursive: true })
      console.log(`web chat screenshots: ${dir}`)
    }
    return dir
  }
})()
