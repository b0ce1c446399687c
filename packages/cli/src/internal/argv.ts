/**
 * Command-line mistakes named plainly, before @effect/cli parses the line (it would name the word
 * after an unknown option, take an unknown short option as the message, say `'x' is not a integer`
 * without the option, or print an empty line). Each check reads the command's own help, so the
 * options it knows can never drift from the definitions. Words after `--` are never options.
 */
import { CliConfig, Command, HelpDoc } from "@effect/cli"

export type Leaves = Readonly<Record<string, Command.Command<string, never, unknown, unknown>>>

const COMMANDS = ["gateway", "chat", "send", "preview", "config"]
const CONFIG_COMMANDS = ["check", "show"]

/** A word that is an option: `--name`, `-x` (a letter); not `-` (stdin) nor `-5` (a number). */
const isOption = (a: string) => /^--?[A-Za-z]/.test(a)
const builtIn = (a: string) => /^(--help|-h|--version|--completions|--wizard)(=|$)/.test(a)

/** The first mistake in `argv` (the words after `sluice`), or undefined. */
export const check = (argv: ReadonlyArray<string>, leaves: Leaves): string | undefined => {
  const end = argv.indexOf("--")
  const before = end < 0 ? argv : argv.slice(0, end)
  if (before.some(builtIn)) return undefined // help, version and completions answer whatever else is there
  const words = before.filter((a, i) => !a.startsWith("-") && !(i > 0 && takesValue(before[i - 1]!)))
  if (words[0] !== undefined && !COMMANDS.includes(words[0])) {
    return `unknown command ${JSON.stringify(words[0])}: use one of ${COMMANDS.join(", ")} (see sluice --help)`
  }
  if (words[0] === "config" && !CONFIG_COMMANDS.includes(words[1] ?? "")) {
    return words[1] === undefined ? "config needs a command: check or show (see sluice config --help)" : `unknown command "config ${words[1]}": use config check or config show`
  }
  const name = words[0] === "config" ? `config ${words[1]}` : (words[0] ?? "")
  const leaf = leaves[name]
  const options = before.filter(isOption)
  // Only a command line with options pays for rendering the help (start-up time matters).
  if (leaf === undefined || options.length === 0) return undefined
  const help = HelpDoc.toAnsiText(Command.getHelp(leaf, CliConfig.defaultConfig))
  // Long names, the aliases the help shows as `(-p, --port …)`, and @effect/cli's own -h.
  const aliases = new Map([...help.matchAll(/\((-[a-zA-Z]), (--[a-z][a-z-]*)/g)].map((m) => [m[1]!, m[2]!]))
  const known = new Set([...(help.match(/--[a-z][a-z-]*/g) ?? []), ...aliases.keys(), "-h"])
  const integers = new Set([...help.matchAll(/(--[a-z][a-z-]*) integer/g)].map((m) => m[1]!))
  // Options with a value are shown with its kind (`--host text`); flags alone (`--json`).
  const valued = new Set([...help.matchAll(/(--[a-z][a-z-]*) [a-z]/g)].map((m) => m[1]!))
  const seen = new Set<string>()
  for (let i = 0; i < before.length; i++) {
    const a = before[i]!
    if (!isOption(a)) continue
    const given = a.split("=")[0]!
    if (!known.has(given)) return `unknown option ${given} for "sluice ${name}" (see sluice ${name} --help)`
    const flag = aliases.get(given) ?? given
    if (seen.has(flag)) return `${flag} is given more than once`
    seen.add(flag)
    const next = before[i + 1]
    // `--token --remote x`: the option's value would be the next option, silently.
    if (valued.has(flag) && !a.includes("=") && next !== undefined && known.has(next.split("=")[0]!)) {
      return `${flag} needs a value (the next word is the option ${next.split("=")[0]})`
    }
    if (integers.has(flag)) {
      const value = a.includes("=") ? a.slice(a.indexOf("=") + 1) : next
      if (value === undefined) return `${flag} needs a value: a whole number`
      if (!/^-?\d+$/.test(value)) return `${flag} must be a whole number, got ${JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value)}`
    }
  }
  return undefined
}

/** Whether an option word takes the next word as its value (a guess good enough to find the command word). */
const takesValue = (a: string) => /^--?[A-Za-z]/.test(a) && !a.includes("=") && !/^--(json|summary|help|version)$/.test(a)
