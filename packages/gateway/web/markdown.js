// Markdown for the web chat: marked (GFM) → DOMPurify → DOM, highlight.js for code, all served by the
// gateway (no CDN). `LiveMarkdown` renders a growing reply incrementally: the top-level blocks that can
// no longer change are rendered once and stay in place; only the last ones are re-rendered, at most
// once per animation frame. The finished DOM equals `render(final text)`.
import { Marked } from "/vendor/marked.js"
import DOMPurify from "/vendor/purify.js"
import hljs from "/vendor/highlight.js"

const escapeHtml = (s) =>
  s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c])

/** A code block, highlighted when `highlight` and the language is known. */
const code = (highlight) =>
  function ({ text, lang }) {
    const language = (lang ?? "").match(/^\S*/)[0]
    const known = language !== "" && hljs.getLanguage(language) !== undefined
    const body = highlight && known ? hljs.highlight(text, { language, ignoreIllegals: true }).value : escapeHtml(text)
    return `<pre><code class="hljs${language ? ` language-${escapeHtml(language)}` : ""}">${body}\n</code></pre>\n`
  }
const marked = new Marked({ gfm: true, renderer: { code: code(true) } })
// The live tail is not highlighted: it is re-rendered every frame while it grows.
const plain = new Marked({ gfm: true, renderer: { code: code(false) } })

DOMPurify.addHook("afterSanitizeAttributes", (node) => {
  if (node.tagName === "A" && node.hasAttribute("href")) {
    node.setAttribute("target", "_blank")
    node.setAttribute("rel", "noopener noreferrer")
  }
})

/** The model's text with line endings as marked sees them (so token offsets match the text). */
const normalize = (text) => text.replace(/\r\n?/g, "\n")

const toNodes = (html) => {
  const t = document.createElement("template")
  t.innerHTML = DOMPurify.sanitize(html)
  for (const pre of t.content.querySelectorAll("pre")) {
    const b = document.createElement("button")
    b.type = "button"
    b.className = "copy"
    b.textContent = "Copy"
    pre.prepend(b)
  }
  return [...t.content.childNodes]
}

/** The whole text rendered at once: what a finished reply shows. */
export const render = (text) => toNodes(marked.parse(normalize(text)))

/** Copy buttons on code blocks (one listener on the container). */
export const enableCopy = (container) =>
  container.addEventListener("click", (e) => {
    const b = e.target.closest?.("button.copy")
    if (!b) return
    const code = b.parentElement.querySelector("code")?.textContent ?? ""
    navigator.clipboard?.writeText(code).then(
      () => (b.textContent = "Copied"),
      () => (b.textContent = "Copy failed")
    )
    setTimeout(() => (b.textContent = "Copy"), 1500)
  })

/**
 * A reply's body that grows: `set(text)` whenever the visible reply changes (a Draft), `finish(text)`
 * with the Final. Settled blocks are never re-rendered; the tail (the last two top-level tokens, so a
 * paragraph that may still become a setext heading or a list that may still grow stays live) is.
 */
export class LiveMarkdown {
  constructor(el, onRender) {
    this.el = el
    this.onRender = onRender
    this.text = ""
    this.settled = 0 // offset into text: everything before it is rendered and final
    this.tail = [] // the DOM nodes of the live tail
    this.frame = 0
  }

  set(text) {
    const t = normalize(text)
    if (t === this.text) return
    if (!t.startsWith(this.text.slice(0, this.settled))) this.reset()
    this.text = t
    if (this.frame === 0) this.frame = requestAnimationFrame(() => this.flush())
  }

  reset() {
    this.el.replaceChildren()
    this.text = ""
    this.settled = 0
    this.tail = []
  }

  flush() {
    if (this.frame !== 0) cancelAnimationFrame(this.frame)
    this.frame = 0
    const tokens = marked.lexer(this.text.slice(this.settled))
    const keep = Math.max(0, tokens.length - 2)
    for (const n of this.tail) n.remove()
    if (keep > 0) {
      const done = tokens.slice(0, keep)
      done.links = tokens.links
      this.el.append(...toNodes(marked.parser(done)))
      for (const t of done) this.settled += t.raw.length
    }
    const live = tokens.slice(keep)
    live.links = tokens.links
    this.tail = toNodes(plain.parser(live))
    this.el.append(...this.tail)
    this.onRender?.()
  }

  /** The Final: the whole text rendered at once; it replaces the live DOM only if that differs. */
  finish(text) {
    if (this.frame !== 0) cancelAnimationFrame(this.frame)
    this.frame = 0
    this.text = normalize(text)
    const nodes = render(this.text)
    const wrap = document.createElement("div")
    wrap.append(...nodes)
    if (wrap.innerHTML !== this.el.innerHTML) this.el.replaceChildren(...wrap.childNodes)
    this.settled = this.text.length
    this.tail = []
    this.onRender?.()
  }
}
