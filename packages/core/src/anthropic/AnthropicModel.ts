/**
 * The Anthropic driver of `Model`: Claude through `@anthropic-ai/sdk` (streaming), with our own
 * retry, rollback and timeout policy (documented on `Model`).
 *
 * - `layer(options?)` — without `apiKey` / `baseURL` options the SDK reads `ANTHROPIC_API_KEY` /
 *   `ANTHROPIC_BASE_URL` from the environment.
 * - `layerConfig(options?)` — reads `ANTHROPIC_API_KEY` (required), `ANTHROPIC_BASE_URL` and
 *   `ANTHROPIC_MODEL` (optional) through Effect `Config`. A model set in `ANTHROPIC_MODEL` is used
 *   for every request (`forceModel`), overriding the model a reasoning plan picked.
 * - `layerFromEnv(options?)` — Anthropic when `ANTHROPIC_API_KEY` is set (and non-empty), the
 *   offline demo model otherwise.
 *
 * @since 0.1.0
 */
import { Config, ConfigError, Effect, Layer, Option, Redacted } from "effect"
import * as Model from "../Model.js"
import * as client from "./internal/client.js"

export type Options = client.Options
export type Timeouts = client.Timeouts

/** Defaults: first event 60 s, idle gap 120 s, whole run 15 min. */
export const defaultTimeouts: Required<Timeouts> = client.DEFAULT_TIMEOUTS
export const defaultModel = client.DEFAULT_MODEL

/** The Anthropic model service (no layer); useful for benches and custom wiring. */
export const make = (options: Options = {}): Model.ModelService => client.make(options)

export const layer = (options: Options = {}): Layer.Layer<Model.Model> => Layer.sync(Model.Model, () => client.make(options))

/** Anthropic with `ANTHROPIC_API_KEY` (required), `ANTHROPIC_BASE_URL`, `ANTHROPIC_MODEL` read through `Config`. */
export const layerConfig = (options: Options = {}): Layer.Layer<Model.Model, ConfigError.ConfigError> =>
  Layer.effect(
    Model.Model,
    Effect.gen(function* () {
      // Config.redacted's own error says only "<redacted>": say what to do instead.
      const apiKey = yield* Config.redacted("ANTHROPIC_API_KEY").pipe(
        Effect.mapError(() =>
          ConfigError.MissingData(
            ["ANTHROPIC_API_KEY"],
            'ANTHROPIC_API_KEY is not set: Claude needs an API key (export ANTHROPIC_API_KEY=…), or set "model": { "provider": "offline" } for the offline demo model'
          )
        )
      )
      const baseURL = yield* Config.option(Config.string("ANTHROPIC_BASE_URL"))
      const model = yield* Config.option(Config.string("ANTHROPIC_MODEL"))
      return client.make({
        ...options,
        apiKey: options.apiKey ?? Redacted.value(apiKey),
        ...(options.baseURL === undefined && Option.isSome(baseURL) && baseURL.value !== "" ? { baseURL: baseURL.value } : {}),
        ...(options.model === undefined && Option.isSome(model) && model.value !== "" ? { model: model.value, forceModel: true } : {})
      })
    })
  )

/**
 * Anthropic when `ANTHROPIC_API_KEY` is set and non-empty, the offline demo model otherwise
 * (`provider: "auto"`, the default). `provider: "anthropic"` requires the key (a missing key is a
 * `ConfigError` naming it); `provider: "offline"` never calls out, key or not.
 */
export const layerFromEnv = (
  options: {
    readonly provider?: "auto" | "anthropic" | "offline"
    readonly anthropic?: Options
    readonly scripted?: Model.ScriptedOptions
  } = {}
): Layer.Layer<Model.Model, ConfigError.ConfigError> =>
  options.provider === "offline"
    ? Model.layerScripted(options.scripted)
    : options.provider === "anthropic"
      ? layerConfig(options.anthropic)
      : Layer.unwrapEffect(
          Config.option(Config.string("ANTHROPIC_API_KEY")).pipe(
            Effect.map((key) =>
              Option.isSome(key) && key.value.trim() !== "" ? layerConfig(options.anthropic) : Model.layerScripted(options.scripted)
            )
          )
        )
