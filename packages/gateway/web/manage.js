// Managing the open conversation from the web chat: the header menu (rename, system prompt and
// model, export, delete) and each message's tools (edit and resend, regenerate, copy). Speaks the
// `update`, `delete`, `regenerate`, `edit` and `export` requests of docs/protocol.md.

const $ = (id) => document.getElementById(id)

/**
 * `app` is what the page shares: `state`, `request(frame)`, `open(id)`, `refreshList()`,
 * `banner(text)` and `summary()` (the open conversation's list entry, if any).
 */
export const setupManage = (app) => {
  const { state, request } = app

  // ---- header menu ------------------------------------------------------------------------
  const menu = $("actions")
  const showMenu = (open) => {
    menu.hidden = !open
    $("more").setAttribute("aria-expanded", String(open))
  }
  $("more").onclick = (e) => {
    e.stopPropagation()
    showMenu(menu.hidden)
  }
  document.addEventListener("click", (e) => {
    if (!menu.hidden && !menu.contains(e.target)) showMenu(false)
  })
  menu.addEventListener("click", () => showMenu(false))

  const failed = (res) => `${res.error.code}: ${res.error.message}`

  // ---- rename, system prompt, model -----------------------------------------------------------
  const dialog = $("settings")
  $("act-settings").onclick = () => {
    const c = app.summary() ?? {}
    $("set-title").value = c.title ?? ""
    $("set-system").value = c.system ?? ""
    const select = $("set-model")
    select.replaceChildren(select.options[0])
    for (const m of state.models) select.append(new Option(m, m))
    select.value = c.model ?? ""
    $("set-error").hidden = true
    dialog.showModal()
    $("set-title").focus()
  }
  $("settings-form").addEventListener("submit", async (e) => {
    if (e.submitter?.value !== "save") return
    e.preventDefault() // stay open until the gateway said yes
    const res = await request({
      type: "update",
      conversationId: state.current,
      title: $("set-title").value,
      system: $("set-system").value,
      model: $("set-model").value
    })
    if (!res.ok) {
      $("set-error").textContent = failed(res)
      $("set-error").hidden = false
      return
    }
    dialog.close()
    app.refreshList()
  })

  // ---- export -------------------------------------------------------------------------------
  const download = async (format) => {
    const res = await request({ type: "export", conversationId: state.current, format })
    if (!res.ok) return app.banner(`Export failed — ${failed(res)}`)
    const url = URL.createObjectURL(new Blob([res.result.body], { type: res.result.contentType }))
    const a = document.createElement("a")
    a.href = url
    a.download = res.result.filename
    document.body.append(a)
    a.click()
    a.remove()
    setTimeout(() => URL.revokeObjectURL(url), 10_000)
  }
  $("act-md").onclick = () => download("markdown")
  $("act-json").onclick = () => download("json")

  // ---- delete -------------------------------------------------------------------------------
  $("act-delete").onclick = async () => {
    const id = state.current
    const title = app.summary()?.title || "this conversation"
    if (!confirm(`Delete “${title}”? Its messages are gone for good.`)) return
    const res = await request({ type: "delete", conversationId: id })
    if (!res.ok) return app.banner(`Could not delete — ${failed(res)}`)
    history.pushState(null, "", location.pathname + location.search)
    app.open(undefined)
  }

  // ---- message tools --------------------------------------------------------------------------
  const button = (cls, text, onclick) => {
    const b = document.createElement("button")
    b.type = "button"
    b.className = cls
    b.textContent = text
    b.onclick = onclick
    return b
  }
  const tools = (...buttons) => {
    const t = document.createElement("div")
    t.className = "tools"
    t.append(...buttons)
    return t
  }

  /** Turns a user bubble into an editor; Save sends the new text in place of the old. */
  const startEdit = (bubble) => {
    if (state.running || bubble.classList.contains("editing")) return
    const old = bubble.querySelector(".text").textContent
    const saved = [...bubble.childNodes]
    const area = document.createElement("textarea")
    area.value = old
    const error = document.createElement("div")
    error.className = "error"
    error.hidden = true
    const cancel = () => {
      bubble.classList.remove("editing")
      bubble.replaceChildren(...saved)
    }
    const save = async () => {
      const text = area.value.trim()
      if (!text) return
      if (text === old) return cancel()
      const res = await request({ type: "edit", conversationId: state.current, messageId: bubble.dataset.messageId, text })
      if (!res.ok) {
        error.textContent = failed(res)
        error.hidden = false
        return
      }
      cancel() // the Rewound event removes the old bubble; the new message arrives as an event
    }
    area.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey) {
        e.preventDefault()
        save()
      } else if (e.key === "Escape") {
        e.stopPropagation()
        cancel()
      }
    })
    bubble.classList.add("editing")
    bubble.replaceChildren(area, error, tools(button("", "Cancel", cancel), button("save", "Save & send", save)))
    area.focus()
  }

  return {
    /** The tools under a user message. */
    userTools: (bubble) => tools(button("edit", "Edit", () => startEdit(bubble))),
    /** The tools under a reply: copy its text; regenerate (shown on the last reply only). */
    replyTools: (view) =>
      tools(
        button("copy-reply", "Copy", (e) => {
          navigator.clipboard?.writeText(view.final ?? view.text ?? "")
          e.target.textContent = "Copied"
          setTimeout(() => {
            e.target.textContent = "Copy"
          }, 1200)
        }),
        button("regen", "Regenerate", async () => {
          const res = await request({ type: "regenerate", conversationId: state.current })
          if (!res.ok) app.banner(`Could not regenerate — ${failed(res)}`)
        })
      ),
    /** Regenerate only on the last reply; editing and regenerating only while nothing runs. */
    refresh: () => {
      document.body.classList.toggle("running", state.running)
      const replies = document.querySelectorAll(".msg.assistant .regen")
      replies.forEach((b, i) => {
        b.hidden = i !== replies.length - 1
      })
    },
    /** ↑ in the empty composer: edit the last message. */
    editLast: () => {
      const mine = document.querySelectorAll(".msg.user[data-message-id]")
      const last = mine[mine.length - 1]
      if (last) startEdit(last)
      return last !== undefined
    }
  }
}
