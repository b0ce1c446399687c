import WebSocket from "ws"
const ws = new WebSocket(process.argv[2])
const counts = {}
let frames = 0
ws.on("open", () => ws.send(JSON.stringify({ type: "hello", protocol: 1, encoding: "json" })))
ws.on("message", (d) => {
  frames++
  const f = JSON.parse(String(d))
  if (f.type === "welcome") ws.send(JSON.stringify({ type: "send", id: 1, conversationId: "probe-" + Date.now(), text: "stream please" }))
  else if (f.type === "res" && f.id === 1) ws.send(JSON.stringify({ type: "subscribe", id: 2, conversationId: f.result.conversationId, fromSeq: f.result.seq - 1 }))
  else if (f.type === "event" || f.type === "batch") {
    for (const e of f.type === "event" ? [f.event] : f.events) {
      counts[e._tag] = (counts[e._tag] ?? 0) + 1
      if (e._tag === "RunEnded") { console.log(frames, JSON.stringify(counts)); process.exit(0) }
    }
  } else console.log(JSON.stringify(f).slice(0, 200))
})
