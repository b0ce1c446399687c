/**
 * The web chat page: plain HTML/CSS/JS from `packages/gateway/web`, no build step. The Markdown
 * renderer (marked), the sanitiser (DOMPurify) and the highlighter (highlight.js, its single-file
 * ES build with the common languages) are served from their packages, so the page works offline.
 */
import { readFileSync } from "node:fs"
import { createRequire } from "node:module"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const dir = fileURLToPath(new URL("../../web/", import.meta.url))
const require = createRequire(import.meta.url)

const cache = new Map<string, string>()
const read = (file: string, immutable = false) => () => {
  let body = cache.get(file)
  if (body === undefined) {
    body = readFileSync(file, "utf8")
    if (immutable || process.env.NODE_ENV === "production") cache.set(file, body)
  }
  return body
}
const page = (file: string) => read(dir + file)
const vendor = (file: string) => read(file, true)

const js = "text/javascript; charset=utf-8"
const css = "text/css; charset=utf-8"

export interface Asset {
  readonly path: `/${string}`
  readonly contentType: string
  readonly body: () => string
}

export const assets: ReadonlyArray<Asset> = [
  { path: "/", contentType: "text/html; charset=utf-8", body: page("index.html") },
  { path: "/app.js", contentType: js, body: page("app.js") },
  { path: "/markdown.js", contentType: js, body: page("markdown.js") },
  { path: "/manage.js", contentType: js, body: page("manage.js") },
  { path: "/style.css", contentType: css, body: page("style.css") },
  { path: "/favicon.svg", contentType: "image/svg+xml", body: page("favicon.svg") },
  { path: "/vendor/marked.js", contentType: js, body: vendor(require.resolve("marked")) },
  { path: "/vendor/purify.js", contentType: js, body: vendor(join(dirname(require.resolve("dompurify")), "purify.es.mjs")) },
  {
    path: "/vendor/highlight.js",
    contentType: js,
    body: vendor(require.resolve("@highlightjs/cdn-assets/es/highlight.min.js"))
  },
  {
    path: "/vendor/highlight.css",
    contentType: css,
    body: vendor(require.resolve("@highlightjs/cdn-assets/styles/github-dark.min.css"))
  }
]
