// Sluice web chat: speaks the gateway WebSocket protocol v1 (docs/protocol.md). No build step.
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

const escapeHtml = (s) => s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c])
/** Tiny markdown: fenced code, inline code, bold, paragraphs. */
const render = (text) => {
  const out = []
  const parts = text.split(/(```[^\n]*\n[\s\S]*?(?:```|$))/)
  for (const part of parts) {
    if (part.startsWith("```")) {
      const body = part.replace(/^```[^\n]*\n/, "").replace(/```$/, "")
      out.push(`<pre><code>${escapeHtml(body)}</code></pre>`)
    } else {
      for (const para of part.split(/\n{2,}/)) {
        if (!para.trim()) continue
        const html = escapeHtml(para)
          .replace(/`([^`]+)`/g, "<code>$1</code>")
          .replace(/\*\*([^*]+)\*\*/g, "<b>$1</b>")
          .replace(/(^|[^*])\*([^*\n]+)\*/g, "$1<i>$2</i>")
          .replace(/\n/g, "<br>")
        out.push(`<p>${html}</p>`)
      }
    }
  }
  return out.join("")
}

const messages = $("messages")
const scrollDown = () => {
  messages.scrollTop = messages.scrollHeight
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
  const body = el("div", "body")
  const typing = el("div", "typing")
  typing.innerHTML = "<i></i><i></i><i></i>"
  box.append(reasoning, body, typing)
  messages.append(box)
  v = { box, reasoning, body, typing, blocks: 0, ended: false }
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
    case "RunStarted":
      runView(ev.runId)
      setRunning(true)
      break
    case "ReasoningUpdate": {
      const v = runView(ev.runId)
      v.reasoning.hidden = false
      v.reasoning.querySelector(".label").textContent =
        ev.status === "completed" ? "Done thinking" : `${ev.status[0].toUpperCase()}${ev.status.slice(1)} · step ${ev.step} of ${ev.total}`
      v.reasoning.querySelector(".bar i").style.width = `${Math.round(ev.progress * 100)}%`
      break
    }
    case "Block": {
      const v = runView(ev.runId)
      v.reasoning.classList.add("done")
      const b = el("div", "block")
      b.dataset.seq = ev.seq
      b.innerHTML = render(ev.text)
      v.body.append(b)
      v.blocks++
      break
    }
    case "Final": {
      const v = runView(ev.runId)
      v.reasoning.classList.add("done")
      if (v.blocks === 0 && ev.text) {
        const b = el("div", "block final")
        b.dataset.seq = ev.seq
        b.innerHTML = render(ev.text)
        v.body.append(b)
      }
      if (ev.interrupted) v.box.append(el("span", "badge stopped", "stopped"))
      break
    }
    case "Rollback": {
      const v = runView(ev.runId)
      for (const b of [...v.body.children]) if (Number(b.dataset.seq) >= ev.discardFromSeq) b.remove()
      v.blocks = v.body.children.length
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

$("new").onclick = () => {
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
