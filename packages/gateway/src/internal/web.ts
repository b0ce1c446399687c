/**
 * The web chat page: plain HTML/CSS/JS from `packages/gateway/web`, no build step.
 */
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"

const dir = fileURLToPath(new URL("../../web/", import.meta.url))

const cache = new Map<string, string>()
const read = (file: string) => () => {
  let body = cache.get(file)
  if (body === undefined) {
    body = readFileSync(dir + file, "utf8")
    if (process.env.NODE_ENV === "production") cache.set(file, body)
  }
  return body
}

export const assets: ReadonlyArray<{ path: `/${string}`; contentType: string; body: () => string }> = [
  { path: "/", contentType: "text/html; charset=utf-8", body: read("index.html") },
  { path: "/app.js", contentType: "text/javascript; charset=utf-8", body: read("app.js") },
  { path: "/style.css", contentType: "text/css; charset=utf-8", body: read("style.css") }
]
