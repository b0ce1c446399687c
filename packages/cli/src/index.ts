export * as Cli from "./Cli.js"
export * as ExitCode from "./ExitCode.js"
export * as Preview from "./Preview.js"
export * as TerminalRenderer from "./TerminalRenderer.js"
