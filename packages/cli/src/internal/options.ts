/** Options shared by several commands. */
import { Options } from "@effect/cli"
import { Config } from "effect"

export const configFile = Options.file("config").pipe(
  Options.withAlias("c"),
  Options.withDescription("Configuration file (JSON). Default: $SLUICE_CONFIG, else ./sluice.json if present"),
  Options.withFallbackConfig(Config.string("SLUICE_CONFIG")),
  Options.optional
)

export const dataDir = Options.directory("data-dir").pipe(
  Options.withDescription("Data directory (SQLite history). Default: $SLUICE_DATA_DIR, the config's gateway.dataDir, else ./.data"),
  Options.withFallbackConfig(Config.string("SLUICE_DATA_DIR")),
  Options.optional
)

export const agent = Options.text("agent").pipe(
  Options.withAlias("a"),
  Options.withDescription("Agent id (from the config's agents.list)"),
  Options.optional
)

export const channel = Options.text("channel").pipe(
  Options.withDescription("Channel id (telegram, discord, slack, whatsapp, signal, webchat …)"),
  Options.optional
)

export const account = Options.text("account").pipe(
  Options.withDescription("Channel account id"),
  Options.optional
)

export const conversation = Options.text("conversation").pipe(
  Options.withDescription("Conversation id. Default: \"cli\""),
  Options.withDefault("cli")
)

export const remote = Options.text("remote").pipe(
  Options.withDescription("Gateway URL (ws://host:port or http://host:port); default: run in-process"),
  Options.optional
)

export const token = Options.redacted("token").pipe(
  Options.withDescription("Bearer token for --remote. Default: $SLUICE_TOKEN"),
  Options.withFallbackConfig(Config.redacted("SLUICE_TOKEN")),
  Options.optional
)
