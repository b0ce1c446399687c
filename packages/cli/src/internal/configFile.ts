/** Which configuration file a command uses, and loading it: the one rule in `Config.locate`. */
import type { FileSystem } from "@effect/platform"
import * as Config from "@sluice/core/Config"
import { type Effect, Option } from "effect"

export type Loaded = Config.Located

/** The named file (--config, or $SLUICE_CONFIG through the option's fallback), else ./sluice.json if it exists. */
export const load = (explicit: Option.Option<string>): Effect.Effect<Loaded, Config.ConfigError, FileSystem.FileSystem> =>
  Config.locate(Option.getOrUndefined(explicit))
