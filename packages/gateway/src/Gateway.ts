/**
 * The gateway server: `HttpLayerRouter` on `NodeHttpServer`, with the WebSocket protocol
 * (`/v1/ws`), REST + SSE (`/v1/conversations…`), the OpenAI-compatible endpoint
 * (`/v1/chat/completions`), `/healthz`, `/readyz`, `/metrics` and the web chat page at `/`.
 *
 * `layer(options)` needs `Conversations` and `Model` (for the model's name); `run(options)` builds
 * the whole stack (config file, env and flags → model, SQLite store, conversations) and serves
 * until interrupted (SIGTERM/SIGINT through `NodeRuntime.runMain`), then shuts down gracefully.
 *
 * @since 0.1.0
 */
import * as Http from "node:http"
import { FetchHttpClient, HttpLayerRouter, HttpServer, type HttpServerError } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { NodeContext } from "@effect/platform-node"
import { Config as CoreConfig, type Conversations, Model } from "@sluice/core"
import * as CoreRuntime from "@sluice/core/Runtime"
import type { StreamingSettings } from "@sluice/core/StreamingSettings"
import { Console, Context, Duration, Effect, Layer, Redacted, Runtime, Schema } from "effect"
import { type Channel, ChannelAccounts, ChannelHub } from "@sluice/channels"
import * as Auth from "./Auth.js"
import * as Discovery from "./Discovery.js"
import * as Webhooks from "./Webhooks.js"
import * as HttpRoutes from "./internal/http.js"
import * as Manage from "./internal/manage.js"
import * as AccessLog from "./internal/accessLog.js"
import * as Fallback from "./internal/fallback.js"
import * as OpenAi from "./internal/openai.js"
import * as State from "./internal/state.js"
import * as WsHub from "./internal/wsHub.js"

export type Limits = State.Limits
export const defaultLimits = State.defaultLimits

export interface Options {
  /** Default 127.0.0.1. Anything but loopback requires at least one token. */
  readonly host?: string | undefined
  /** Default 8787; 0 picks a free port. */
  readonly port?: number | undefined
  /** Bearer tokens; each is a principal. None = one local principal (loopback only). */
  readonly tokens?: ReadonlyArray<string | Auth.TokenSpec> | undefined
  /**
   * A bearer token `/metrics` accepts besides the principals' tokens. With tokens configured,
   * `/metrics` and `/v1/models` need one of them; with none (loopback only) they are open.
   */
  readonly metricsToken?: Redacted.Redacted<string> | undefined
  readonly limits?: Partial<Limits> | undefined
  /** WebSocket ping interval (default 30 s); a peer silent for a whole interval is closed. */
  readonly heartbeatMs?: number | undefined
  /** SSE heartbeat comment interval (default 15 s). */
  readonly sseHeartbeatMs?: number | undefined
  /** SIGTERM: how long running turns may take to finish before they are stopped (default 10 s). */
  readonly graceMs?: number | undefined
  /** Streaming settings for messages sent through the gateway; the conversation's own when absent. */
  readonly settings?: StreamingSettings | undefined
  /**
   * The models a conversation may be set to (the web chat's choice, `update.model`); default: the
   * reasoning levels' built-in models. `run` takes them from the config (`Config.modelChoices`).
   */
  readonly models?: ReadonlyArray<string> | undefined
  /** Model names OpenAI clients may ask for, each to the model that answers (`model.aliases`). */
  readonly modelAliases?: Readonly<Record<string, string>> | undefined
  /** Let OpenAI clients' http(s) image URLs through to the model, which fetches them (`model.imageUrls`; default off: data URLs only). */
  readonly imageUrls?: boolean | undefined
  /** Extra routes merged into the server (e.g. channel webhooks: `Webhooks.layer`). */
  readonly routes?:
    | Layer.Layer<never, never, HttpLayerRouter.HttpRouter | Conversations.Conversations | Model.Model>
    | undefined
}

export interface Info {
  readonly host: string
  readonly port: number
  /** The web chat page. */
  readonly url: string
  readonly wsUrl: string
  /** Open WebSocket connections. */
  readonly connections: () => number
}

export class Gateway extends Context.Tag("@sluice/gateway/Gateway")<Gateway, Info>() {}

/** Refuses a non-loopback host without tokens, before anything listens. */
export const checkBind = (host: string, tokens: ReadonlyArray<unknown>): Effect.Effect<void, Auth.InsecureBind> =>
  tokens.length === 0 && !Auth.isLoopback(host) ? Effect.fail(new Auth.InsecureBind({ host })) : Effect.void

/** A Node server that hands WebSocket upgrades on the hub's path to the hub, the rest to the router. */
const makeNodeServer = (hub: WsHub.Hub) => {
  const server = Http.createServer()
  const emit = server.emit.bind(server) as (event: string, ...args: Array<unknown>) => boolean
  server.emit = ((event: string, ...args: Array<unknown>) => {
    if (event === "upgrade") {
      const req = args[0] as Http.IncomingMessage
      if ((req.url ?? "/").split("?")[0] === hub.path) {
        hub.handleUpgrade(req, args[1] as import("node:stream").Duplex, args[2] as Buffer)
        return true
      }
    }
    return emit(event, ...args)
  }) as typeof server.emit
  return server
}

const shutdown = (state: State.State, hub: WsHub.Hub, stopListening: () => void, server: Http.Server) =>
  Effect.gen(function* () {
    yield* state.beginShutdown
    yield* Effect.logDebug("gateway: shutting down")
    // Stop accepting: no new connections, idle keep-alive sockets closed.
    stopListening()
    server.closeIdleConnections()
    // Let running turns finish within the grace period, then stop the rest (persisted as interrupted).
    const idle = Effect.async<void>((resume) => {
      const t = setInterval(() => {
        if (state.runs.size === 0) {
          clearInterval(t)
          resume(Effect.void)
        }
      }, 20)
      return Effect.sync(() => clearInterval(t))
    })
    const finished = yield* idle.pipe(Effect.timeout(Duration.millis(state.options.graceMs)), Effect.isSuccess)
    if (!finished) {
      yield* Effect.forEach([...state.runs.keys()], (id) => state.conversations.stop(id).pipe(Effect.ignore), {
        concurrency: "unbounded",
        discard: true
      })
      yield* idle.pipe(Effect.timeout("2 seconds"), Effect.ignore)
    }
    yield* Effect.logDebug(`gateway: runs finished in grace period: ${finished}`)
    yield* hub.closeAll(1001, "server shutting down")
    yield* state.closeStreams
    yield* Effect.sleep("20 millis")
    server.closeAllConnections()
  })

/**
 * The graceful sequence must run before the platform's `server.close()` waits for every open
 * socket, whatever order layers are released in: it is hooked into `close` itself, and runs once.
 */
const installShutdown = (server: Http.Server, state: State.State, hub: WsHub.Hub) =>
  Effect.gen(function* () {
    const runtime = yield* Effect.runtime<never>()
    const originalClose = server.close.bind(server)
    let stopped: Promise<void> | undefined
    const stopListening = () => {
      if (server.listening) originalClose()
    }
    const graceful = () =>
      (stopped ??= Runtime.runPromise(runtime)(shutdown(state, hub, stopListening, server).pipe(Effect.ignore)))
    server.close = ((cb?: (err?: Error) => void) => {
      graceful().then(() => {
        if (server.listening) originalClose(cb)
        else cb?.()
      })
      return server
    }) as typeof server.close
    return Effect.promise(graceful)
  })

/** The gateway on its own: needs `Conversations` and `Model`. */
export const layer = (
  options: Options = {}
): Layer.Layer<Gateway | HttpServer.HttpServer, Auth.InsecureBind | HttpServerError.ServeError, Conversations.Conversations | Model.Model> =>
  Layer.unwrapScoped(
    Effect.gen(function* () {
      const host = options.host ?? "127.0.0.1"
      const tokens = options.tokens ?? []
      yield* checkBind(host, tokens)
      const model = yield* Model.Model
      const resolved: State.Resolved = {
        host,
        port: options.port ?? 8787,
        limits: { ...State.defaultLimits, ...options.limits },
        heartbeatMs: options.heartbeatMs ?? 30_000,
        sseHeartbeatMs: options.sseHeartbeatMs ?? 15_000,
        graceMs: options.graceMs ?? 10_000,
        settings: options.settings,
        modelName: model.name,
        offline: /offline/i.test(model.name),
        models: options.models ?? CoreConfig.modelChoices(CoreConfig.decodeSync({})),
        modelAliases: options.modelAliases ?? {},
        imageUrls: options.imageUrls ?? false,
        metricsToken: options.metricsToken
      }
      const state = yield* State.make(resolved, Auth.make(tokens))
      const hub = yield* WsHub.make(state)
      const server = makeNodeServer(hub)
      const graceful = yield* installShutdown(server, state, hub)

      const lifecycle = Layer.scopedDiscard(
        Effect.gen(function* () {
          yield* HttpServer.HttpServer // built after the server, so released before it closes
          yield* Effect.addFinalizer(() => graceful)
        })
      )
      const info = Layer.effect(
        Gateway,
        HttpServer.addressWith((address) => {
          const port = address._tag === "TcpAddress" ? address.port : 0
          const shown = host.includes(":") ? `[${host}]` : host === "0.0.0.0" ? "127.0.0.1" : host
          return Effect.succeed<Info>({
            host,
            port,
            url: `http://${shown}:${port}/`,
            wsUrl: `ws://${shown}:${port}${hub.path}`,
            connections: hub.size
          })
        })
      )
      const routes = Layer.mergeAll(
        HttpRoutes.routes(state),
        Manage.routes(state),
        OpenAi.routes(state),
        Fallback.routes,
        options.routes ?? Layer.empty
      )
      return Layer.mergeAll(
        HttpLayerRouter.serve(routes, {
          disableListenLog: true,
          disableLogger: true,
          middleware: AccessLog.middleware(state),
          // ids longer than find-my-way's default 100 reach the handler, which names the limit (200)
          routerConfig: { maxParamLength: 1000 }
        }),
        lifecycle,
        info
      ).pipe(Layer.provideMerge(NodeHttpServer.layer(() => server, { host, port: resolved.port })))
    })
  )

export interface RunOptions extends Options {
  /** Where conversations live (SQLite). Default `./.data`. */
  readonly dataDir?: string | undefined
  /** JSON config file; default `$SLUICE_CONFIG`, else `./sluice.json` when it exists. */
  readonly configFile?: string | undefined
  /** Print the URL and model on start (default true). */
  readonly announce?: boolean | undefined
  /** Called once listening (tests, embedding). */
  readonly onListening?: ((info: Info) => void) | undefined
  /** Channel adapters: when given, a ChannelHub runs them and their webhooks are mounted (`/webhooks/…`). */
  readonly adapters?: ReadonlyArray<Channel.Adapter> | undefined
  /**
   * Run as one runner of a cluster (docs/cluster.md). `true` takes every setting from the
   * environment (`SLUICE_DATABASE_URL`, `SLUICE_RUNNER_HOST`, `SLUICE_RUNNER_PORT`) and the config's
   * `gateway.cluster`; the fields here come first. A config with a `gateway.cluster` section runs
   * clustered without this.
   */
  readonly cluster?: boolean | ClusterRunOptions | undefined
}

export interface ClusterRunOptions {
  readonly databaseUrl?: Redacted.Redacted<string> | undefined
  readonly runnerHost?: string | undefined
  readonly runnerPort?: number | undefined
  readonly listenHost?: string | undefined
}

/** The cluster settings (flags > environment > config file > defaults), or undefined when not clustered. */
export const resolveCluster = (
  options: RunOptions,
  config: CoreConfig.Config,
  env: Record<string, string | undefined> = process.env
): Effect.Effect<Omit<CoreRuntime.ClusterOptions, "config"> | undefined, InvalidClusterOptions> => {
  const section = config.gateway?.cluster
  const given = typeof options.cluster === "object" ? options.cluster : {}
  if (!options.cluster && section === undefined) return Effect.succeed(undefined)
  const databaseUrl = given.databaseUrl ?? secretOf(nonEmpty(env.SLUICE_DATABASE_URL), env) ?? secretOf(section?.databaseUrl, env)
  if (databaseUrl === undefined) {
    return Effect.fail(
      new InvalidClusterOptions({
        message: "a cluster needs its PostgreSQL database: --database-url postgres://… (or SLUICE_DATABASE_URL, or gateway.cluster.databaseUrl)"
      })
    )
  }
  if (!/^postgres(ql)?:\/\//.test(Redacted.value(databaseUrl))) {
    return Effect.fail(new InvalidClusterOptions({ message: "--database-url must be a postgres:// URL" }))
  }
  const rawPort = env.SLUICE_RUNNER_PORT
  const envPort = nonEmpty(rawPort) === undefined ? undefined : /^\d{1,5}$/.test(rawPort!.trim()) ? Number(rawPort) : Number.NaN
  const runnerPort = given.runnerPort ?? envPort ?? section?.runnerPort ?? 34431
  if (!Number.isInteger(runnerPort) || runnerPort < 1 || runnerPort > 65535) {
    const from = given.runnerPort !== undefined ? "--runner-port" : envPort !== undefined ? "SLUICE_RUNNER_PORT" : "gateway.cluster.runnerPort"
    return Effect.fail(new InvalidClusterOptions({ message: `${from} must be a port number 1–65535, got ${rawPort !== undefined && from === "SLUICE_RUNNER_PORT" ? JSON.stringify(rawPort) : runnerPort}` }))
  }
  return Effect.succeed({
    databaseUrl,
    runnerPort,
    runnerHost: given.runnerHost ?? nonEmpty(env.SLUICE_RUNNER_HOST) ?? section?.runnerHost ?? "127.0.0.1",
    listenHost: given.listenHost ?? section?.listenHost
  })
}

/** Flags > environment (`SLUICE_HOST`, `SLUICE_PORT`, `SLUICE_DATA_DIR`, `SLUICE_TOKEN`) > config file > defaults. */
export const resolveRunOptions = (options: RunOptions, config: CoreConfig.Config, env: Record<string, string | undefined> = process.env) => {
  const section = config.gateway ?? {}
  const envPort = env.SLUICE_PORT !== undefined && env.SLUICE_PORT !== "" ? Number(env.SLUICE_PORT) : undefined
  const envTokens = env.SLUICE_TOKEN !== undefined && env.SLUICE_TOKEN !== "" ? env.SLUICE_TOKEN.split(",").map((t) => t.trim()) : undefined
  return {
    ...options,
    host: options.host ?? nonEmpty(env.SLUICE_HOST) ?? section.host ?? "127.0.0.1",
    port: options.port ?? envPort ?? section.port ?? 8787,
    dataDir: options.dataDir ?? nonEmpty(env.SLUICE_DATA_DIR) ?? section.dataDir ?? "./.data",
    tokens: options.tokens ?? envTokens ?? section.tokens ?? [],
    metricsToken: options.metricsToken ?? secretOf(nonEmpty(env.SLUICE_METRICS_TOKEN) ?? section.metricsToken, env),
    // Web and terminal clients get the config file's streaming keys (agents.defaults) like the channels do.
    settings: options.settings ?? CoreConfig.resolve(config, {}),
    models: options.models ?? CoreConfig.modelChoices(config),
    modelAliases: options.modelAliases ?? config.model?.aliases ?? {},
    imageUrls: options.imageUrls ?? config.model?.imageUrls ?? false,
    limits: { ...section.limits, ...options.limits }
  }
}
const checkPort = (options: RunOptions, env: Record<string, string | undefined>, port: number) => {
  const raw = env.SLUICE_PORT
  if (options.port === undefined && raw !== undefined && raw !== "" && !/^\d{1,5}$/.test(raw.trim())) {
    return Effect.fail(new InvalidPort({ message: `SLUICE_PORT must be a port number 0–65535, got ${JSON.stringify(raw)}` }))
  }
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    const from = options.port !== undefined ? "--port" : raw !== undefined && raw !== "" ? "SLUICE_PORT" : "gateway.port"
    return Effect.fail(new InvalidPort({ message: `${from} must be a port number 0–65535, got ${port}` }))
  }
  return Effect.void
}
/** A config secret: `"$NAME"` reads the environment variable NAME. */
const secretOf = (v: string | undefined, env: Record<string, string | undefined>) => {
  const value = v?.startsWith("$") === true ? nonEmpty(env[v.slice(1)]) : v
  return value === undefined ? undefined : Redacted.make(value)
}
const nonEmpty = (s: string | undefined) => (s === undefined || s === "" ? undefined : s)

const loadConfig = (file: string | undefined) =>
  CoreConfig.locate(file).pipe(
    Effect.map((located) => located.config),
    Effect.provide(NodeContext.layer)
  )

/**
 * Runs the gateway until interrupted: Anthropic when `ANTHROPIC_API_KEY` is set, else the offline
 * model; conversations in SQLite under `dataDir`. Prints the web chat URL once listening.
 */
export const run = (options: RunOptions = {}) =>
  Effect.gen(function* () {
    const config = yield* loadConfig(options.configFile)
    const o = resolveRunOptions(options, config)
    yield* checkPort(options, process.env, o.port)
    yield* checkBind(o.host, o.tokens)
    // Channel accounts with credentials in the config file run alongside the web clients.
    const adapters =
      options.adapters ?? (yield* ChannelAccounts.fromConfig(config).pipe(Effect.provide(FetchHttpClient.layer)))
    const webhooks =
      adapters.length === 0
        ? undefined
        : Webhooks.layer.pipe(Layer.provide(ChannelHub.layer({ adapters, config })))
    const cluster = yield* resolveCluster(options, config)
    const stack = layer({ ...o, routes: o.routes ?? webhooks }).pipe(
      Layer.provideMerge(
        cluster === undefined ? CoreRuntime.layer({ config, dataDir: o.dataDir }) : CoreRuntime.layerCluster({ config, ...cluster })
      )
    )
    return yield* Layer.launch(
      Layer.scopedDiscard(
        Effect.gen(function* () {
          const info = yield* Gateway
          const model = yield* Model.Model
          yield* Discovery.announce(o.dataDir, info.url)
          options.onListening?.(info)
          if (options.announce !== false) {
            const offline = /offline/i.test(model.name)
            yield* Console.log(
              `Sluice gateway listening — web chat: ${info.url}\n` +
                `  model: ${model.name}${offline ? " (offline demo; set ANTHROPIC_API_KEY for Claude)" : ""}\n` +
                `  data: ${cluster === undefined ? o.dataDir : `PostgreSQL (cluster runner ${cluster.runnerHost}:${cluster.runnerPort})`}   auth: ${o.tokens.length === 0 ? "none (loopback only)" : `${o.tokens.length} token(s)`}` +
                (adapters.length === 0 ? "" : `\n  channels: ${adapters.map((a) => `${a.channel}:${a.accountId}`).join(", ")}`)
            )
          }
        })
      ).pipe(Layer.provideMerge(stack))
    ).pipe(
      Effect.catchTag("ServeError", (e) => Effect.fail(ListenFailed.from(o.host, o.port, e.cause)))
    )
  })

/** The gateway could not listen: the address, why, and what to do. */
export class ListenFailed extends Schema.TaggedError<ListenFailed>()("ListenFailed", {
  host: Schema.String,
  port: Schema.Number,
  message: Schema.String
}) {
  static from(host: string, port: number, cause: unknown): ListenFailed {
    const code = (cause as { readonly code?: unknown } | undefined)?.code
    const why =
      code === "EADDRINUSE"
        ? "the address is already in use (another gateway or program has the port); stop it or choose another port with --port or SLUICE_PORT (0 picks a free one)"
        : code === "EACCES"
          ? "permission denied (ports below 1024 need privileges); choose another port with --port"
          : code === "EADDRNOTAVAIL"
            ? "that address is not on this machine; check --host / SLUICE_HOST"
            : String((cause as { readonly message?: unknown } | undefined)?.message ?? cause)
    return new ListenFailed({ host, port, message: `cannot listen on ${host}:${port}: ${why}` })
  }
}

/** A port from a flag, the environment or the config file must be a whole number 0–65535. */
/** `--cluster` without what a cluster needs (the database URL), or a bad runner port. */
export class InvalidClusterOptions extends Schema.TaggedError<InvalidClusterOptions>()("InvalidClusterOptions", {
  message: Schema.String
}) {}
export class InvalidPort extends Schema.TaggedError<InvalidPort>()("InvalidPort", { message: Schema.String }) {}
