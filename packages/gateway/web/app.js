// Sluice web chat: speaks the gateway WebSocket protocol v1 (docs/protocol.md). No build step.
import { enableCopy, LiveMarkdown } from "/markdown.js"

const $ = (id) => document.getElementById(id)
const el = (tag, cls, text) => {
  const e = document.createElement(tag)
  if (cls) e.className = cls
  if (text !== undefined) e.textContent = text
  return e
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
  token: new URLSearchParams(location.search).get("token") ?? localStorage.getItem("sluice.token") ?? undefined
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

const clearView = () => {
  messages.replaceChildren()
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
  box.append(reasoning, thinking, body, typing)
  messages.append(box)
  // text: the visible reply from Drafts; blockText: from Blocks, shown only while no Draft came.
  v = { box, reasoning, thinking, body, typing, text: "", blockText: "", live: new LiveMarkdown(body, scrollDown), ended: false }
  state.runs.set(runId, v)
  return v
}

const setRunning = (running) => {
  state.running = running
  $("stop").hidden = !running
}

/** Applies one reply event; idempotent by seq, so a replayed event is never shown twice. */
const apply = (ev) => {
  if (ev.conversationId !== state.current || ev.seq <= state.lastSeq) return
  state.lastSeq = ev.seq
  switch (ev._tag) {
    case "UserMessage": {
      $("empty")?.remove()
      const m = el("div", "msg user", ev.text)
      m.dataset.seq = ev.seq
      messages.append(m)
      break
    }
    case "RunStarted": {
      const v = runView(ev.runId)
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
      v.live.finish(ev.text)
      if (ev.interrupted) v.box.append(el("span", "badge stopped", "stopped"))
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
      runView(ev.runId).box.append(el("div", "error", `${ev.error.tag}: ${ev.error.message}`))
      break
    case "RunEnded": {
      const v = runView(ev.runId)
      v.ended = true
      v.typing.remove()
      v.reasoning.classList.add("done")
      if (ev.reason !== "completed" && !v.box.querySelector(".badge")) v.box.append(el("span", "badge stopped", ev.reason))
      if (v.box.dataset.model && !v.box.querySelector(".badge.model")) v.box.append(el("span", "badge model", v.box.dataset.model))
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

const request = (frame) =>
  new Promise((resolve) => {
    const id = state.nextId++
    state.pending.set(id, resolve)
    state.ws.send(JSON.stringify({ ...frame, id }))
  })

const onFrame = (f) => {
  switch (f.type) {
    case "welcome":
      state.ready = true
      state.backoff = 500
      setStatus(`connected as ${f.principal}`, "online")
      $("model").hidden = false
      $("model").textContent = f.model.name
      $("offline").hidden = !f.model.offline
      refreshList()
      if (state.current) subscribe(state.current)
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
    state.ready = false
    for (const resolve of state.pending.values()) resolve({ ok: false, error: { code: "Disconnected", message: "connection lost" } })
    state.pending.clear()
    if (e.code === 4001) {
      setStatus("token required", "offline")
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
  if (!res.ok && res.error.code === "NotFound") return
}

const refreshList = async () => {
  if (!state.ready) return
  const res = await request({ type: "list" })
  if (!res.ok) return
  const nav = $("conversations")
  nav.replaceChildren()
  for (const c of [...res.result].sort((a, b) => b.updatedAt - a.updatedAt)) {
    const a = el("a")
    a.href = `#${c.conversationId}`
    a.dataset.id = c.conversationId
    if (c.conversationId === state.current) {
      a.className = "active"
      $("title").textContent = c.title || "Conversation"
    }
    if (c.running) a.append(el("span", "run"))
    a.append(document.createTextNode(c.title || c.conversationId))
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
document.addEventListener("keydown", (e) => {
  if (e.key === "Escape") drawer(false)
})

$("new").onclick = () => {
  drawer(false)
  history.pushState(null, "", location.pathname + location.search)
  open(undefined)
  $("input").focus()
}

$("composer").onsubmit = async (e) => {
  e.preventDefault()
  const input = $("input")
  const text = input.value.trim()
  if (!text || !state.ready) return
  let id = state.current
  const isNew = id === undefined
  if (isNew) {
    id = `c-${crypto.randomUUID().slice(0, 8)}`
    state.current = id
    history.replaceState(null, "", `#${id}`)
  }
  input.value = ""
  const res = await request({ type: "send", conversationId: id, text })
  if (!res.ok) {
    messages.append(el("div", "msg assistant error", `${res.error.code}: ${res.error.message}`))
    return
  }
  if (isNew) await subscribe(id)
  refreshList()
}

$("input").addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey) {
    e.preventDefault()
    $("composer").requestSubmit()
  }
})

$("stop").onclick = () => {
  if (state.current) request({ type: "stop", conversationId: state.current })
}

$("auth").addEventListener("close", () => {
  state.token = $("token").value || undefined
  if (state.token) localStorage.setItem("sluice.token", state.token)
  connect()
})

clearView()
connect()
