/**
 * Generated bad input, measured from outside: the gateway as users start it, with two principals
 * (alice and bob, `gateway.tokens`) and the offline model. fast-check generates the cases
 * (`fc.sample` with the scenario's seed, so a seed repeats a run):
 *
 * - WebSocket frames, before and after `hello`, as JSON text, MessagePack binary and garbage:
 *   requests of every type with fields of every shape, any JSON value, broken JSON, random bytes,
 *   frames over the size limit. After each case a `ping` probe must be answered (no hang), or the
 *   connection must have been closed with a documented code.
 * - HTTP requests: every route and some that do not exist, every method, tokens right, wrong and
 *   missing, random content types, `Last-Event-ID` / `?fromSeq=` resume headers of every shape,
 *   `Idempotency-Key`s, bodies of any JSON value, garbage or over the limit.
 *
 * Every answer: no 5xx, no `Internal` error, no stack trace, an error as the documented typed error
 * (`{ code, message }`, code from the protocol's list), within 5 s. Alice's fuzzing aims at bob's
 * conversation too; nothing of bob's may appear in any answer, and bob's history must be unchanged
 * at the end. A canary conversation of alice's gets valid messages throughout; every acknowledged
 * one must be in its history at the end. The gateway must still be running, with no stack frame in
 * its output.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { Agent, request as httpRequest } from "node:http"
import { createRequire } from "node:module"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import fc from "fast-check"
import WebSocket from "ws"
import { start } from "../streaming/procs.js"
import { startGateway } from "./gateway.js"

export interface BadInputOptions {
  readonly wsCases: number
  readonly httpCases: number
  readonly seed: number
}

export interface BadInputResult {
  readonly ws: { readonly cases: number; readonly closes: Readonly<Record<string, number>>; readonly codes: Readonly<Record<string, number>> }
  readonly http: { readonly cases: number; readonly statuses: Readonly<Record<string, number>>; readonly codes: Readonly<Record<string, number>> }
  readonly canary: { readonly accepted: number; readonly present: number }
  readonly failures: ReadonlyArray<string>
  readonly ms: number
}

const here = dirname(fileURLToPath(import.meta.url))
const root = join(here, "../..")
const { pack, unpack } = createRequire(join(root, "packages/gateway/package.json"))("msgpackr") as {
  pack: (v: unknown) => Buffer
  unpack: (b: Buffer) => unknown
}

const ALICE = "alice-fuzz-token"
const BOB = "bob-fuzz-token"
const SECRET = "BOBSECRET"
const CODES = new Set([
  "BadJson",
  "BadFrame",
  "HandshakeRequired",
  "UnsupportedProtocol",
  "Unauthorized",
  "Forbidden",
  "NotFound",
  "Conflict",
  "RateLimited",
  "TooManyRuns",
  "MailboxFull",
  "PayloadTooLarge",
  "ShuttingDown",
  "MethodNotAllowed",
  "EventsExpired"
])
const CLOSES = new Set([1000, 1009, 4000, 4001, 4005])
/** A stack frame (`at f (file.ts:1:2)`), a source path or a runtime's own error text in an answer. */
const leak = /\bat [^\s]+ \(|\.(ts|js):\d+:\d+|node_modules|\bSqliteError\b|\bTypeError\b|\bReferenceError\b|Encoded side|Type side|<->/
/** The OpenAI endpoint answers in OpenAI's error shape (`{ message, type, param, code }`). */
const OPENAI_TYPES = new Set(["invalid_request_error", "authentication_error", "permission_error", "not_found_error", "rate_limit_exceeded"])

// ---- generators ------------------------------------------------------------------------------

const conversationId = fc.oneof(
  fc.constantFrom("bob-secret", "alice-play-1", "alice-play-2"),
  fc.string({ maxLength: 12 }),
  fc.constantFrom("", " ", "../bob-secret", "bob-secret\u0000", "a".repeat(600), "%2e%2e", "💥")
)
const anything = fc.oneof(fc.string({ maxLength: 40 }), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.jsonValue({ maxDepth: 2 }))
const request = fc.record(
  {
    type: fc.oneof(
      fc.constantFrom("hello", "send", "stop", "subscribe", "unsubscribe", "history", "list", "ping", "update", "delete", "regenerate", "edit", "export"),
      fc.string({ maxLength: 10 })
    ),
    id: fc.oneof(fc.integer(), fc.string({ maxLength: 8 }), fc.constant(null), fc.double(), fc.array(fc.integer(), { maxLength: 2 })),
    conversationId: fc.oneof(conversationId, anything),
    text: fc.oneof(fc.string({ maxLength: 200 }), fc.constantFrom("", "   ", "\u0000", "x".repeat(5000)), anything),
    fromSeq: fc.oneof(fc.integer(), fc.double(), fc.constantFrom(-1, 0, 2 ** 53, Number.NaN), anything),
    queueMode: fc.oneof(fc.constantFrom("followup", "collect", "interrupt"), anything),
    clientMessageId: fc.oneof(fc.string({ maxLength: 30 }), fc.constant("k".repeat(300)), anything),
    messageId: fc.oneof(fc.uuid(), anything),
    runId: anything,
    format: fc.oneof(fc.constantFrom("markdown", "json", "pdf"), anything),
    title: fc.oneof(fc.string({ maxLength: 300 }), anything),
    system: fc.oneof(fc.string({ maxLength: 100 }), anything),
    model: fc.oneof(fc.constantFrom("", "claude-haiku-4-5", "gpt-4o"), anything),
    protocol: fc.oneof(fc.constantFrom(1, 2, 0), anything),
    encoding: fc.oneof(fc.constantFrom("json", "msgpack", "xml"), anything),
    token: fc.oneof(fc.constantFrom(ALICE, BOB.slice(0, 5), ""), anything)
  },
  { requiredKeys: [] }
)
/** A valid request of each type, then maybe one field replaced by anything: reaches the handlers behind the decoder. */
const nearlyValid = fc
  .record({
    type: fc.constantFrom("send", "stop", "subscribe", "unsubscribe", "history", "list", "ping", "update", "delete", "regenerate", "edit", "export"),
    id: fc.integer({ min: 1, max: 1_000_000 }),
    conversationId,
    text: fc.string({ minLength: 1, maxLength: 80 }),
    fromSeq: fc.integer({ min: -2, max: 50 }),
    messageId: fc.uuid(),
    title: fc.string({ maxLength: 40 }),
    format: fc.constantFrom("markdown", "json"),
    clientMessageId: fc.string({ minLength: 1, maxLength: 20 })
  })
  .chain((r) =>
    fc.oneof(
      fc.constant(r as Record<string, unknown>),
      fc.tuple(fc.constantFrom(...Object.keys(r).filter((k) => k !== "type" && k !== "id")), anything).map(([k, v]) => ({ ...r, [k]: v }))
    )
  )
type Frame = { readonly kind: "text"; readonly data: string } | { readonly kind: "binary"; readonly data: Buffer }
const frame: fc.Arbitrary<Frame> = fc.oneof(
  { weight: 4, arbitrary: request.map((r): Frame => ({ kind: "text", data: JSON.stringify(r) })) },
  { weight: 4, arbitrary: nearlyValid.map((r): Frame => ({ kind: "text", data: JSON.stringify(r) })) },
  { weight: 2, arbitrary: request.map((r): Frame => ({ kind: "binary", data: pack(r) })) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v): Frame => ({ kind: "text", data: JSON.stringify(v) ?? "null" })) },
  { weight: 1, arbitrary: fc.string({ maxLength: 60 }).map((s): Frame => ({ kind: "text", data: s })) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 60 }).map((b): Frame => ({ kind: "binary", data: Buffer.from(b) })) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }).map((v): Frame => ({ kind: "binary", data: pack(v) })) }
)
/** True with probability p (without fast-check's bias towards small values). */
const chance = (p: number) => fc.noBias(fc.integer({ min: 0, max: 9999 })).map((x) => x < p * 10_000)
/** A case: its frame, before or after hello, and now and then one over the size limit. */
const wsCase = fc.record({
  frame,
  beforeHello: chance(0.15),
  huge: chance(0.004)
})

const routes = (id: string): ReadonlyArray<readonly [string, string]> => [
  ["POST", `/v1/conversations/${id}/messages`],
  ["GET", `/v1/conversations/${id}/messages`],
  ["POST", `/v1/conversations/${id}/stop`],
  ["GET", `/v1/conversations/${id}/events`],
  ["PATCH", `/v1/conversations/${id}`],
  ["DELETE", `/v1/conversations/${id}`],
  ["POST", `/v1/conversations/${id}/regenerate`],
  ["PUT", `/v1/conversations/${id}/messages/${id}`],
  ["GET", `/v1/conversations/${id}/export?format=${id}`],
  ["GET", "/v1/conversations"],
  ["POST", "/v1/chat/completions"],
  ["GET", "/v1/models"],
  ["GET", "/healthz"],
  ["GET", "/readyz"],
  ["GET", "/metrics"],
  ["GET", `/v1/${id}`],
  ["POST", `/${id}`]
]
const chat = fc.record(
  {
    model: fc.oneof(fc.constantFrom("sluice", "gpt-4o"), anything),
    messages: fc.oneof(
      fc.array(fc.record({ role: fc.oneof(fc.constantFrom("system", "user", "assistant", "tool", "developer"), anything), content: fc.oneof(fc.string({ maxLength: 40 }), anything) }, { requiredKeys: [] }), { maxLength: 4 }),
      anything
    ),
    stream: fc.oneof(fc.boolean(), anything),
    max_tokens: fc.oneof(fc.integer({ min: 1, max: 50 }), anything),
    n: fc.oneof(fc.constant(1), anything),
    temperature: anything
  },
  { requiredKeys: [] }
)
const httpCase = fc.record({
  route: fc.nat(16),
  method: fc.oneof(fc.constant(undefined), fc.constantFrom("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD")),
  id: conversationId.map((s) => encodeURIComponent(s)),
  rawId: fc.constantFrom("..", "%00", "%E0%A4%A", "a/b", "%2F"),
  useRawId: chance(0.1),
  auth: fc.oneof(
    { weight: 6, arbitrary: fc.constant(`Bearer ${ALICE}`) },
    { weight: 1, arbitrary: fc.constantFrom(`Bearer ${ALICE}x`, "Bearer ", "Basic YWxpY2U6eA==", `bearer ${ALICE}`) },
    { weight: 1, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: fc.string({ maxLength: 20 }) }
  ),
  contentType: fc.oneof(fc.constantFrom("application/json", "text/plain", "application/json; charset=utf-16", "multipart/form-data"), fc.constant(undefined)),
  lastEventId: fc.oneof(fc.constant(undefined), fc.constantFrom("0", "-1", "1e9", "abc", "9007199254740993", " 3 ", ""), fc.string({ maxLength: 8 })),
  fromSeqQuery: fc.oneof(fc.constant(undefined), fc.constantFrom("0", "-5", "x", "1.5")),
  idempotencyKey: fc.oneof(fc.constant(undefined), fc.string({ maxLength: 20 }), fc.constant("k".repeat(300))),
  body: fc.oneof(
    fc.record({ text: fc.oneof(fc.string({ maxLength: 100 }), anything), queueMode: anything, clientMessageId: anything, title: anything, system: anything, model: anything }, { requiredKeys: [] }).map((b) => JSON.stringify(b)),
    chat.map((b) => JSON.stringify(b)),
    fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v) ?? ""),
    fc.string({ maxLength: 60 }),
    fc.constant(undefined)
  ),
  huge: chance(0.004)
})

// ---- checks ----------------------------------------------------------------------------------

export const checkAnswer = (text: string, where: string, failures: Array<string>, codes?: Record<string, number>) => {
  if (text.includes(SECRET)) failures.push(`${where}: bob's text in an answer to alice: ${text.slice(0, 200)}`)
  if (leak.test(text)) failures.push(`${where}: internals in an answer: ${text.slice(0, 300)}`)
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    return
  }
  const error = (parsed as { error?: { code?: unknown; message?: unknown; type?: unknown } } | null)?.error
  if (error === undefined || error === null || typeof error !== "object") return
  if (typeof error.type === "string") {
    const type = `openai:${error.type}`
    if (codes !== undefined) codes[type] = (codes[type] ?? 0) + 1
    if (!OPENAI_TYPES.has(error.type)) failures.push(`${where}: OpenAI error of type ${error.type}: ${text.slice(0, 200)}`)
    if (typeof error.message !== "string" || error.message === "") failures.push(`${where}: error without a message: ${text.slice(0, 200)}`)
    return
  }
  const code = String(error.code)
  if (codes !== undefined) codes[code] = (codes[code] ?? 0) + 1
  if (!CODES.has(code)) failures.push(`${where}: undocumented error code ${code}: ${text.slice(0, 200)}`)
  if (typeof error.message !== "string" || error.message === "") failures.push(`${where}: error without a message: ${text.slice(0, 200)}`)
}

// ---- WebSocket -------------------------------------------------------------------------------

interface Conn {
  readonly ws: WebSocket
  readonly welcomed: Promise<boolean>
  /** Resolves when the probe with this id is answered. */
  readonly probe: (id: string) => Promise<void>
  readonly closed: Promise<number>
}

const connect = (url: string, where: () => string, failures: Array<string>, codes: Record<string, number>, hello: boolean): Conn => {
  const ws = new WebSocket(url)
  const waiting = new Map<string, () => void>()
  let welcome!: (ok: boolean) => void
  const welcomed = new Promise<boolean>((r) => (welcome = r))
  const closed = new Promise<number>((r) => ws.once("close", (code) => {
    welcome(false)
    for (const w of waiting.values()) w()
    r(code)
  }))
  ws.on("error", () => {})
  ws.on("open", () => {
    if (hello) ws.send(JSON.stringify({ type: "hello", protocol: 1, token: ALICE, encoding: "json" }))
  })
  ws.on("message", (data, binary) => {
    const text = binary ? JSON.stringify(unpack(data as Buffer)) : String(data)
    checkAnswer(text, where(), failures, codes)
    const f = JSON.parse(text) as { type?: string; id?: unknown }
    if (f.type === "welcome") welcome(true)
    if (f.type === "res" && typeof f.id === "string") {
      waiting.get(f.id)?.()
      waiting.delete(f.id)
    }
  })
  const probe = (id: string) =>
    new Promise<void>((resolve) => {
      if (ws.readyState !== WebSocket.OPEN) return resolve()
      waiting.set(id, resolve)
      ws.send(JSON.stringify({ type: "ping", id }))
    })
  return { ws, welcomed, probe, closed }
}

const within = <A>(p: Promise<A>, ms: number): Promise<A | "timeout"> =>
  new Promise((resolve) => {
    const t = setTimeout(() => resolve("timeout"), ms)
    void p.then((a) => {
      clearTimeout(t)
      resolve(a)
    })
  })

const fuzzWs = async (port: number, o: BadInputOptions, failures: Array<string>) => {
  const url = `ws://127.0.0.1:${port}/v1/ws`
  const codes: Record<string, number> = {}
  const closes: Record<string, number> = {}
  let n = 0
  const where = () => `ws case ${n}`
  const noteClose = (code: number) => {
    closes[code] = (closes[code] ?? 0) + 1
    if (!CLOSES.has(code)) failures.push(`${where()}: closed with undocumented code ${code}`)
  }
  let conn: Conn | undefined
  const cases = fc.sample(wsCase, { seed: o.seed, numRuns: o.wsCases })
  for (const c of cases) {
    n++
    if (c.beforeHello) {
      const fresh = connect(url, where, failures, codes, false)
      await within(new Promise((r) => fresh.ws.once("open", r)), 5000)
      fresh.ws.send(c.frame.data, { binary: c.frame.kind === "binary" })
      fresh.ws.send(JSON.stringify({ type: "hello", protocol: 1, token: ALICE }))
      const welcomed = await within(fresh.welcomed, 5000)
      if (welcomed === "timeout") failures.push(`${where()}: no welcome and no close within 5 s`)
      else if (welcomed) {
        if ((await within(fresh.probe(`p${n}`), 5000)) === "timeout") failures.push(`${where()}: probe not answered within 5 s`)
      }
      fresh.ws.terminate()
      if (!welcomed) noteClose(await fresh.closed)
      continue
    }
    if (conn === undefined || conn.ws.readyState !== WebSocket.OPEN) {
      conn = connect(url, where, failures, codes, true)
      if ((await within(conn.welcomed, 5000)) !== true) {
        failures.push(`${where()}: a proper hello was not welcomed`)
        conn.ws.terminate()
        conn = undefined
        continue
      }
    }
    const current = conn
    if (c.huge) current.ws.send(JSON.stringify({ type: "send", id: "huge", conversationId: "alice-play-1", text: "x".repeat(1_100_000) }))
    else current.ws.send(c.frame.data, { binary: c.frame.kind === "binary" })
    if ((await within(current.probe(`p${n}`), 5000)) === "timeout") failures.push(`${where()}: probe not answered within 5 s`)
    if (current.ws.readyState !== WebSocket.OPEN) noteClose(await current.closed)
  }
  conn?.ws.terminate()
  return { cases: cases.length, closes, codes }
}

// ---- HTTP ------------------------------------------------------------------------------------

const agent = new Agent({ keepAlive: true, maxSockets: 4 })

const http = (
  port: number,
  method: string,
  path: string,
  headers: Record<string, string>,
  body: string | undefined,
  sse: boolean,
  fresh = sse
) =>
  new Promise<{ status: number; text: string } | "timeout" | "error">((resolve) => {
    // An explicit length: Node frames a body of GET, DELETE or OPTIONS only with one.
    const framed = body === undefined ? headers : { ...headers, "content-length": String(Buffer.byteLength(body)) }
    const req = httpRequest({ host: "127.0.0.1", port, method, path, headers: framed, agent: fresh ? false : agent })
    const t = setTimeout(() => {
      req.destroy()
      resolve("timeout")
    }, 5000)
    req.on("error", () => {
      clearTimeout(t)
      resolve("error")
    })
    req.on("response", (res) => {
      let text = ""
      res.setEncoding("utf8")
      res.on("data", (d: string) => {
        text += d
        // An event stream stays open: its first chunk is enough.
        if (sse && res.statusCode === 200) {
          clearTimeout(t)
          req.destroy()
          resolve({ status: 200, text })
        }
      })
      res.on("end", () => {
        clearTimeout(t)
        resolve({ status: res.statusCode ?? 0, text })
      })
      res.on("error", () => {})
    })
    if (body !== undefined) req.write(body)
    req.end()
  })

const fuzzHttp = async (port: number, o: BadInputOptions, failures: Array<string>, canary: () => Promise<void>) => {
  const statuses: Record<string, number> = {}
  const codes: Record<string, number> = {}
  const cases = fc.sample(httpCase, { seed: o.seed + 1, numRuns: o.httpCases })
  let n = 0
  for (const c of cases) {
    n++
    if (n % 100 === 0) await canary()
    const id = c.useRawId ? c.rawId : c.id === "" ? "x" : c.id
    const [routeMethod, routePath] = routes(id)[c.route]!
    const method = c.method ?? routeMethod
    let path = routePath
    if (c.fromSeqQuery !== undefined) path += `${path.includes("?") ? "&" : "?"}fromSeq=${c.fromSeqQuery}`
    const headers: Record<string, string> = {}
    if (c.auth !== undefined && /^[\t\x20-\x7e]*$/.test(c.auth)) headers.authorization = c.auth
    if (c.contentType !== undefined) headers["content-type"] = c.contentType
    if (c.lastEventId !== undefined && /^[\t\x20-\x7e]*$/.test(c.lastEventId)) headers["last-event-id"] = c.lastEventId
    if (c.idempotencyKey !== undefined && /^[\t\x20-\x7e]*$/.test(c.idempotencyKey)) headers["idempotency-key"] = c.idempotencyKey
    const body = method === "GET" || method === "HEAD" ? undefined : c.huge ? JSON.stringify({ text: "x".repeat(1_100_000) }) : c.body
    const sse = routePath.endsWith("/events") || (body?.includes("\"stream\":true") ?? false)
    const r = await http(port, method, path, headers, body, sse)
    const where = `http case ${n} (${method} ${path})`
    if (r === "timeout") {
      failures.push(`${where}: no answer within 5 s`)
      continue
    }
    if (r === "error") {
      // The gateway may close a connection it answered (a body over the limit); anything else is a fault.
      if (!c.huge) failures.push(`${where}: connection failed without an answer`)
      continue
    }
    statuses[r.status] = (statuses[r.status] ?? 0) + 1
    if (r.status >= 500) failures.push(`${where}: ${r.status} ${r.text.slice(0, 200)}`)
    checkAnswer(r.text, where, failures, codes)
  }
  return { cases: cases.length, statuses, codes }
}

// ---- the scenario ----------------------------------------------------------------------------

export const runBadInput = async (o: BadInputOptions): Promise<BadInputResult> => {
  const t0 = Date.now()
  const dir = mkdtempSync(join(tmpdir(), "sluice-stress-badinput-"))
  let gateway: ReturnType<typeof start> | undefined
  const failures: Array<string> = []
  try {
    const started = await startGateway({
      dir,
      config: {
        gateway: { tokens: [ALICE, BOB], limits: { maxRunsPerPrincipal: 50, messagesPerSecond: 100_000, burst: 100_000 } },
        model: { provider: "offline", offline: { tokensPerSecond: 5000, words: 12 } }
      }
    })
    gateway = started.proc
    const port = started.port
    const json = async (token: string, method: string, path: string, body?: unknown) => {
      // Its own connection (a keep-alive one the fuzzing shares may have been closed by the gateway).
      const r = await http(port, method, path, { authorization: `Bearer ${token}`, "content-type": "application/json" }, body === undefined ? undefined : JSON.stringify(body), false, true)
      if (typeof r === "string") throw new Error(`${method} ${path}: ${r}`)
      return { status: r.status, body: JSON.parse(r.text) as Record<string, unknown> }
    }
    // Bob's conversation, which alice's fuzzing aims at.
    const bobSent = await json(BOB, "POST", "/v1/conversations/bob-secret/messages", { text: `${SECRET}: bob's own words` })
    if (bobSent.status !== 202) throw new Error(`bob's send: ${JSON.stringify(bobSent)}`)
    await new Promise((r) => setTimeout(r, 1500))
    const bobBefore = JSON.stringify((await json(BOB, "GET", "/v1/conversations/bob-secret/messages")).body)
    // Alice's canary: valid messages throughout, never a target of the fuzzing.
    const accepted: Array<string> = []
    let k = 0
    const canary = async () => {
      const r = await json(ALICE, "POST", "/v1/conversations/alice-canary-ZZ9/messages", { text: `canary ${++k}`, queueMode: "collect" })
      if (r.status === 202) accepted.push(String(r.body.messageId))
      else if (r.status !== 429) failures.push(`canary send: ${r.status} ${JSON.stringify(r.body)}`)
    }
    const ws = await fuzzWs(port, o, failures)
    await canary()
    const h = await fuzzHttp(port, o, failures, canary)
    await new Promise((r) => setTimeout(r, 1500))
    const history = (await json(ALICE, "GET", "/v1/conversations/alice-canary-ZZ9/messages")).body.messages as Array<{ messageId: string }>
    const ids = new Set(history.map((m) => m.messageId))
    const present = accepted.filter((id) => ids.has(id)).length
    if (present !== accepted.length) failures.push(`canary: ${accepted.length - present} of ${accepted.length} acknowledged messages missing`)
    const bobAfter = JSON.stringify((await json(BOB, "GET", "/v1/conversations/bob-secret/messages")).body)
    if (bobAfter !== bobBefore) failures.push(`bob's history changed: ${bobBefore.slice(0, 200)} → ${bobAfter.slice(0, 200)}`)
    if (gateway.child.exitCode !== null) failures.push(`the gateway exited (${gateway.child.exitCode})`)
    if (gateway.stackFrames() > 0) failures.push(`${gateway.stackFrames()} stack frames in the gateway's output`)
    return { ws, http: h, canary: { accepted: accepted.length, present }, failures, ms: Date.now() - t0 }
  } finally {
    agent.destroy()
    await gateway?.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}
