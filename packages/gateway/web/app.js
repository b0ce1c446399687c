// Sluice web chat: speaks the gateway WebSocket protocol v1 (docs/protocol.md). No build step.
import { setupManage } from "/manage.js"
import { enableCopy, LiveMarkdown } from "/markdown.js"

const $ = (id) => document.getElementById(id)
const el = (tag, cls, text) => {
  const e = document.createElement(tag)
  if (cls) e.className = cls
  if (text !== undefined) e.textContent = text
  return e
}

// A token in the URL (`?token=`) is taken once and removed from the address bar and history.
const tokenInUrl = new URLSearchParams(location.search).get("token")
if (tokenInUrl !== null) {
  const u = new URL(location.href)
  u.searchParams.delete("token")
  history.replaceState(null, "", u.pathname + u.search + u.hash)
}

const state = {
  ws: undefined,
  ready: false,
  nextId: 1,
  pending: new Map(), // request id -> resolve
  current: location.hash.slice(1) || undefined,
  lastSeq: 0, // of the current conversation: resume cursor
  runs: new Map(), // runId -> view
  running: false,
  backoff: 500,
  token: tokenInUrl || localStorage.getItem("sluice.token") || undefined,
  models: [], // what a conversation can be set to (welcome.model.choices)
  list: [], // the last `list` result
  outbox: [], // sends made while disconnected: { id, text, clientMessageId, bubble }
  forbidden: false, // the open conversation belongs to another principal
  subscribed: false // the open conversation's subscription holds (false while it does not exist yet)
}

// ---------------------------------------------------------------------------------------------
// rendering

/** The visible reply after a Draft (ReplyEvent.applyDraft): idempotent, a gap waits for the Final. */
const applyDraft = (current, d) => {
  if (d.offset === current.length) return current + d.text
  if (d.offset > current.length) return current
  const end = d.offset + d.text.length
  return end <= current.length && current.startsWith(d.text, d.offset) ? current : current.slice(0, d.offset) + d.text
}

const messages = $("messages")
enableCopy(messages)
// Follow the reply only while the reader is at the bottom: never yank them back while they read above.
let follow = true
messages.addEventListener("scroll", () => {
  follow = messages.scrollHeight - messages.scrollTop - messages.clientHeight < 48
})
const scrollDown = () => {
  if (follow) messages.scrollTop = messages.scrollHeight
}

const banner = (text) => {
  $("banner").textContent = text ?? ""
  $("banner").hidden = !text
}

const clearView = () => {
  messages.replaceChildren()
  banner(undefined)
  state.forbidden = false
  state.subscribed = false
  state.runs.clear()
  state.lastSeq = 0
  const empty = el("div", "empty", "Ask anything. Replies stream in as readable blocks.")
  empty.id = "empty"
  messages.append(empty)
  setRunning(false)
}

const runView = (runId) => {
  let v = state.runs.get(runId)
  if (v) return v
  $("empty")?.remove()
  const box = el("div", "msg assistant")
  box.dataset.run = runId
  const reasoning = el("div", "reasoning")
  reasoning.innerHTML = '<span class="label">Thinking…</span><div class="bar"><i></i></div>'
  reasoning.hidden = true
  const thinking = el("details", "thinking")
  thinking.hidden = true
  thinking.append(el("summary", "", "Thinking"), el("div", "text"))
  const body = el("div", "body markdown")
  const typing = el("div", "typing")
  typing.innerHTML = "<i></i><i></i><i></i>"
  // text: the visible reply from Drafts; blockText: from Blocks, shown only while no Draft came.
  v = { box, reasoning, thinking, body, typing, text: "", blockText: "", final: undefined, live: new LiveMarkdown(body, scrollDown), ended: false }
  box.append(reasoning, thinking, body, typing, manage.replyTools(v))
  messages.append(box)
  state.runs.set(runId, v)
  return v
}

/** A badge or an error under a reply: above its tools. */
const note = (v, node) => v.box.querySelector(".tools").before(node)

const setRunning = (running) => {
  state.running = running
  $("stop").hidden = !running
  manage.refresh()
}

/** Applies one reply event; idempotent by seq, so a replayed event is never shown twice. */
const apply = (ev) => {
  if (ev.conversationId !== state.current || ev.seq <= state.lastSeq) return
  if (ev._tag === "UserMessage") for (const p of messages.querySelectorAll(".msg.user.pending")) if (p.dataset.text === ev.text) p.remove()
  state.lastSeq = ev.seq
  switch (ev._tag) {
    case "UserMessage": {
      $("empty")?.remove()
      const m = el("div", "msg user")
      m.append(el("span", "text", ev.text))
      m.dataset.seq = ev.seq
      m.dataset.messageId = ev.messageId
      m.append(manage.userTools(m))
      messages.append(m)
      break
    }
    case "Rewound":
      // An edit or a regenerate: what those seqs created is superseded.
      for (const m of messages.querySelectorAll(".msg[data-seq]")) {
        if (Number(m.dataset.seq) < ev.fromSeq) continue
        if (m.dataset.run) state.runs.delete(m.dataset.run)
        m.remove()
      }
      manage.refresh()
      break
    case "RunStarted": {
      const v = runView(ev.runId)
      v.box.dataset.seq = ev.seq
      if (ev.model) v.box.dataset.model = ev.model
      setRunning(true)
      break
    }
    case "ReasoningUpdate": {
      const v = runView(ev.runId)
      v.reasoning.hidden = false
      v.reasoning.querySelector(".label").textContent =
        ev.status === "completed" ? "Done thinking" : `${ev.status[0].toUpperCase()}${ev.status.slice(1)} · step ${ev.step} of ${ev.total}`
      v.reasoning.querySelector(".bar i").style.width = `${Math.round(ev.progress * 100)}%`
      break
    }
    case "ReasoningDelta": {
      const v = runView(ev.runId)
      v.thinking.hidden = false
      v.thinking.querySelector(".text").textContent += ev.text
      break
    }
    case "Draft": {
      const v = runView(ev.runId)
      v.reasoning.classList.add("done")
      v.text = applyDraft(v.text, ev)
      v.live.set(v.text)
      break
    }
    case "Block": {
      const v = runView(ev.runId)
      v.reasoning.classList.add("done")
      v.blockText += (v.blockText ? "\n\n" : "") + ev.text
      if (v.text === "") v.live.set(v.blockText)
      break
    }
    case "Final": {
      const v = runView(ev.runId)
      v.reasoning.classList.add("done")
      v.final = ev.text
      v.live.finish(ev.text)
      // The model that actually wrote the reply, when the stream named it.
      if (ev.model) v.box.dataset.model = ev.model
      if (ev.interrupted) note(v, el("span", "badge stopped", "stopped"))
      break
    }
    case "Rollback": {
      // Offsets restart at 0: the retried attempt streams the reply again from its start.
      const v = runView(ev.runId)
      v.text = ""
      v.blockText = ""
      v.live.reset()
      v.thinking.querySelector(".text").textContent = ""
      break
    }
    case "Error":
      note(runView(ev.runId), el("div", "error", `${ev.error.tag}: ${ev.error.message}`))
      break
    case "RunEnded": {
      const v = runView(ev.runId)
      v.ended = true
      v.typing.remove()
      v.reasoning.classList.add("done")
      if (ev.reason !== "completed" && !v.box.querySelector(".badge")) note(v, el("span", "badge stopped", ev.reason))
      if (v.box.dataset.model && !v.box.querySelector(".badge.model")) note(v, el("span", "badge model", v.box.dataset.model))
      setRunning(false)
      refreshList()
      break
    }
  }
  scrollDown()
}

// ---------------------------------------------------------------------------------------------
// connection

const setStatus = (text, cls) => {
  $("status").textContent = text
  $("conn").className = cls
}

/** Requests waiting for an answer get "Disconnected" (the socket is gone). */
const failPending = (message) => {
  for (const resolve of state.pending.values()) resolve({ ok: false, error: { code: "Disconnected", message } })
  state.pending.clear()
}

const request = (frame) =>
  new Promise((resolve) => {
    if (!state.ready) return resolve({ ok: false, error: { code: "Disconnected", message: "not connected to the gateway" } })
    const id = state.nextId++
    state.pending.set(id, resolve)
    state.ws.send(JSON.stringify({ ...frame, id }))
  })

const onFrame = (f) => {
  switch (f.type) {
    case "welcome":
      state.ready = true
      state.backoff = 500
      // Only a token the gateway accepted is remembered.
      if (state.token) localStorage.setItem("sluice.token", state.token)
      $("signout").hidden = !state.token
      setStatus(`connected as ${f.principal}`, "online")
      $("model").hidden = false
      $("model").textContent = f.model.name
      $("offline").hidden = !f.model.offline
      state.models = f.model.choices ?? []
      refreshList()
      if (state.current) subscribe(state.current)
      flushOutbox()
      break
    case "ended":
      if (f.conversationId === state.current) {
        clearView()
        banner("This conversation was deleted.")
      }
      refreshList()
      break
    case "res":
      state.pending.get(f.id)?.(f)
      state.pending.delete(f.id)
      break
    case "event":
      apply(f.event)
      break
    case "batch":
      for (const e of f.events) apply(e)
      break
    case "error":
      console.warn("gateway error", f.error)
      break
  }
}

const connect = () => {
  const proto = location.protocol === "https:" ? "wss" : "ws"
  const ws = new WebSocket(`${proto}://${location.host}/v1/ws`)
  state.ws = ws
  state.ready = false
  setStatus("connecting…", "")
  ws.onopen = () => ws.send(JSON.stringify({ type: "hello", protocol: 1, ...(state.token ? { token: state.token } : {}) }))
  ws.onmessage = (m) => onFrame(JSON.parse(m.data))
  ws.onclose = (e) => {
    if (state.ws !== ws) return // replaced (sign-out)
    state.ready = false
    failPending("connection lost")
    // Nothing is known to be running while we cannot hear the gateway.
    setRunning(false)
    for (const dot of document.querySelectorAll("nav a .run")) dot.remove()
    if (e.code === 4001) {
      setStatus("token required", "offline")
      const rejected = state.token !== undefined
      $("auth-error").textContent = rejected ? "That token was not accepted. Check it and try again." : ""
      $("auth-error").hidden = !rejected
      if (rejected && localStorage.getItem("sluice.token") === state.token) localStorage.removeItem("sluice.token")
      $("token").value = ""
      $("auth").showModal()
      return
    }
    if (e.code === 4005) return setStatus("this page is out of date; reload", "offline")
    setStatus(e.code === 1001 ? "gateway restarting… reconnecting" : "reconnecting…", "offline")
    setTimeout(connect, state.backoff)
    state.backoff = Math.min(state.backoff * 2, 5000)
  }
}

const subscribe = async (conversationId) => {
  const res = await request({ type: "subscribe", conversationId, fromSeq: state.lastSeq })
  if (conversationId === state.current) state.subscribed = res.ok
  if (res.ok || conversationId !== state.current) return
  if (res.error.code === "Forbidden") {
    state.forbidden = true
    $("empty")?.remove()
    banner("This conversation belongs to someone else. Start a new conversation to write.")
  } else if (res.error.code !== "NotFound" && res.error.code !== "Disconnected") {
    banner(`Could not open this conversation — ${res.error.code}: ${res.error.message}`)
  }
}

/** The open conversation's entry in the last list. */
const summary = () => state.list.find((c) => c.conversationId === state.current)

const refreshList = async () => {
  if (!state.ready) return
  const res = await request({ type: "list" })
  if (!res.ok) return
  state.list = res.result
  const nav = $("conversations")
  nav.replaceChildren()
  $("more").hidden = summary() === undefined
  for (const c of [...res.result].sort((a, b) => b.updatedAt - a.updatedAt)) {
    const a = el("a")
    a.href = `#${c.conversationId}`
    a.dataset.id = c.conversationId
    if (c.conversationId === state.current) {
      a.className = "active"
      $("title").textContent = c.title || "Conversation"
    }
    a.title = c.title || c.conversationId
    if (c.running) a.append(el("span", "run"))
    a.append(el("span", "label", c.title || c.conversationId))
    nav.append(a)
  }
}

const open = (conversationId) => {
  if (state.current && state.ready && state.current !== conversationId) {
    request({ type: "unsubscribe", conversationId: state.current })
  }
  state.current = conversationId
  clearView()
  $("title").textContent = conversationId ? "Conversation" : "New conversation"
  if (conversationId && state.ready) subscribe(conversationId)
  refreshList()
}

// ---------------------------------------------------------------------------------------------
// UI

window.addEventListener("hashchange", () => {
  const id = location.hash.slice(1) || undefined
  if (id !== state.current) open(id)
})

// The phone drawer: the sidebar slides in over the chat; choosing anything in it closes it.
const drawer = (open) => {
  document.body.classList.toggle("drawer", open)
  $("scrim").hidden = !open
  $("menu").setAttribute("aria-expanded", String(open))
}
$("menu").onclick = () => drawer(!document.body.classList.contains("drawer"))
$("scrim").onclick = () => drawer(false)
$("conversations").addEventListener("click", (e) => {
  if (e.target.closest("a")) drawer(false)
})
$("new").onclick = () => {
  drawer(false)
  history.pushState(null, "", location.pathname + location.search)
  open(undefined)
  $("input").focus()
}

/**
 * Sends one message. Its `clientMessageId` makes a resend after a lost connection safe: the
 * gateway answers a repeat with the first acceptance. While disconnected the message waits (shown
 * greyed) and goes out on reconnect; when the gateway refuses it, the text goes back in the box.
 */
const deliver = async (m) => {
  const res = await request({ type: "send", conversationId: m.id, text: m.text, clientMessageId: m.clientMessageId })
  if (!res.ok && res.error.code === "Disconnected") {
    queue(m)
    return
  }
  m.bubble?.remove()
  if (!res.ok) {
    const input = $("input")
    if (input.value.trim() === "") input.value = m.text
    banner(`Not sent — ${res.error.code}: ${res.error.message}. Your text is back in the box.`)
    return
  }
  // A new conversation, or one opened by URL before it existed (its subscribe was NotFound).
  if ((m.isNew || !state.subscribed) && m.id === state.current) await subscribe(m.id)
  refreshList()
}
const queue = (m) => {
  if (!m.bubble && m.id === state.current) {
    $("empty")?.remove()
    m.bubble = el("div", "msg user pending", m.text)
    m.bubble.dataset.text = m.text
    messages.append(m.bubble)
    scrollDown()
  }
  if (!state.outbox.includes(m)) state.outbox.push(m)
}
const flushOutbox = () => {
  const waiting = state.outbox
  state.outbox = []
  for (const m of waiting) deliver(m)
}

$("composer").onsubmit = (e) => {
  e.preventDefault()
  const input = $("input")
  const text = input.value.trim()
  if (!text) return
  if (state.forbidden) {
    banner("This conversation belongs to someone else; your text stays in the box. Start a new conversation to send it.")
    return
  }
  let id = state.current
  const isNew = id === undefined
  if (isNew) {
    id = `c-${crypto.randomUUID().slice(0, 8)}`
    state.current = id
    history.replaceState(null, "", `#${id}`)
  }
  input.value = ""
  banner(undefined)
  const m = { id, text, isNew, clientMessageId: crypto.randomUUID(), bubble: undefined }
  if (state.ready) deliver(m)
  else queue(m)
}

$("input").addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey) {
    e.preventDefault()
    $("composer").requestSubmit()
  } else if (e.key === "ArrowUp" && e.target.value === "" && manage.editLast()) {
    e.preventDefault()
  }
})

// Shortcuts (also in the composer's tooltip): Esc stops the reply, Ctrl/⌘+Shift+O starts a new
// conversation, "/" goes back to the composer.
document.addEventListener("keydown", (e) => {
  if (e.key === "Escape") drawer(false)
  if (document.querySelector("dialog[open]")) return
  if (e.key === "Escape" && state.running && !e.target.closest?.(".editing")) {
    $("stop").click()
  } else if ((e.ctrlKey || e.metaKey) && e.shiftKey && e.key.toLowerCase() === "o") {
    e.preventDefault()
    $("new").click()
  } else if (e.key === "/" && !/^(INPUT|TEXTAREA|SELECT)$/.test(e.target.tagName)) {
    e.preventDefault()
    $("input").focus()
  }
})

$("signout").onclick = () => {
  localStorage.removeItem("sluice.token")
  state.token = undefined
  const ws = state.ws
  state.ws = undefined
  ws?.close(1000)
  failPending("signed out")
  state.list = []
  $("conversations").replaceChildren()
  history.pushState(null, "", location.pathname)
  state.current = undefined
  clearView()
  connect()
}

$("stop").onclick = () => {
  if (state.current) request({ type: "stop", conversationId: state.current })
}

$("auth").addEventListener("close", () => {
  state.token = $("token").value.trim() || undefined
  connect() // saved once the gateway welcomes it
})

const manage = setupManage({ state, request, open, refreshList, banner, summary })
clearView()
connect()
