/**
 * The web chat's Markdown while a 50 KB reply streams, in headless Chromium: `LiveMarkdown` (settled
 * blocks rendered once, only the tail re-rendered) next to the simplest page a user would write,
 * `body.innerHTML = DOMPurify.sanitize(marked.parse(text))` on every delta. Both render after every
 * 32-char delta (no frame throttling, so this is the worst case the page can meet); reported: total
 * time, and the median / p99 cost of one update over the last tenth of the reply, where the text is
 * longest. The finished DOMs are checked equal.
 */
import { existsSync } from "node:fs"
import { createServer } from "node:http"
import { createRequire } from "node:module"
import type { AddressInfo } from "node:net"
import { pathToFileURL } from "node:url"
import { assets } from "../packages/gateway/src/internal/web.js"

const CHROMIUM = "/usr/bin/chromium"
/** The part of playwright-core's `chromium` used here (the package is the gateway's, not the bench's). */
interface ChromiumType {
  launch(o: { executablePath: string; args: Array<string>; headless: boolean }): Promise<{
    newPage(): Promise<{ goto(url: string): Promise<unknown>; evaluate(expression: string): Promise<unknown> }>
    close(): Promise<void>
  }>
}

const reply = (bytes: number): string => {
  const parts: Array<string> = []
  let n = 0
  for (let i = 0; n < bytes; i++) {
    const s =
      i % 5 === 0
        ? `### Part ${i}\n\nHere is how the sluice works, with **bold**, \`code\` and a [link](https://example.com/${i}).\n\n`
        : i % 5 === 1
          ? "1. Change one thing at a time.\n2. Measure instead of guessing.\n3. Keep the happy path simple.\n\n"
          : i % 5 === 2
            ? "```ts\nexport const words = (input: string) =>\n  input.trim().split(/\\s+/).map((w) => w[0]?.toUpperCase())\n```\n\n"
            : i % 5 === 3
              ? "| gate | flow |\n|---|---|\n| open | 12 m³/s |\n| shut | 0 |\n\n"
              : "A paragraph of ordinary prose that goes on for a while, as a model writes it, sentence after sentence.\n\n"
    parts.push(s)
    n += s.length
  }
  return parts.join("")
}

export default async () => {
  if (!existsSync(CHROMIUM)) return console.log(`skipped: ${CHROMIUM} is not installed`)
  // playwright-core is the gateway's (test) dependency: resolve it from there.
  const pw = createRequire(new URL("../packages/gateway/package.json", import.meta.url)).resolve("playwright-core")
  const mod = (await import(pathToFileURL(pw).href)) as { chromium?: ChromiumType; default?: { chromium: ChromiumType } }
  const chromium = (mod.chromium ?? mod.default?.chromium)!
  const byPath = new Map(assets.map((a) => [a.path, a]))
  const server = createServer((req, res) => {
    const a = byPath.get((req.url ?? "/").split("?")[0] as `/${string}`)
    if (a === undefined || a.path === "/") {
      res.writeHead(200, { "content-type": "text/html" }).end("<!doctype html><div id=b class=markdown></div>")
      return
    }
    res.writeHead(200, { "content-type": a.contentType }).end(a.body())
  })
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-gpu"], headless: true })
  try {
    const page = await browser.newPage()
    await page.goto(url)
    const text = reply(50 * 1024)
    const result = (await page.evaluate(`(async () => {
      const md = await import("/markdown.js")
      const { marked } = await import("/vendor/marked.js")
      const DOMPurify = (await import("/vendor/purify.js")).default
      const text = ${JSON.stringify(text)}
      const step = 32
      const run = (update) => {
        const el = document.getElementById("b")
        el.replaceChildren()
        const times = []
        const t0 = performance.now()
        const u = update(el)
        for (let i = step; i < text.length + step; i += step) {
          const t = performance.now()
          u(text.slice(0, i))
          times.push(performance.now() - t)
        }
        const total = performance.now() - t0
        const tail = times.slice(Math.floor(times.length * 0.9)).sort((a, b) => a - b)
        return { total, updates: times.length, median: tail[Math.floor(tail.length / 2)], p99: tail[Math.floor(tail.length * 0.99)], html: el.innerHTML }
      }
      const live = run((el) => {
        const m = new md.LiveMarkdown(el)
        return (t) => { m.set(t); m.flush() }
      })
      const finished = document.createElement("div")
      finished.append(...md.render(text))
      const naive = run((el) => (t) => { el.innerHTML = DOMPurify.sanitize(marked.parse(t)) })
      return { live, naive, liveEqualsFinal: live.html === finished.innerHTML }
    })()`)) as {
      live: { total: number; updates: number; median: number; p99: number }
      naive: { total: number; updates: number; median: number; p99: number }
      liveEqualsFinal: boolean
    }
    const row = (name: string, r: typeof result.live) =>
      console.log(
        `${name.padEnd(34)} ${r.total.toFixed(0).padStart(6)} ms total, ${r.updates} updates; last tenth: median ${r.median.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms`
      )
    console.log(`a ${(text.length / 1024).toFixed(0)} KiB reply, 32-char deltas, one render per delta`)
    row("LiveMarkdown (settled + tail)", result.live)
    row("innerHTML = sanitize(parse(all))", result.naive)
    console.log(
      `ratio (naive / live): total ${(result.naive.total / result.live.total).toFixed(1)}×, last-tenth median ${(result.naive.median / result.live.median).toFixed(1)}×; live DOM equals the Final rendered at once: ${result.liveEqualsFinal}`
    )
  } finally {
    await browser.close()
    server.close()
  }
}
