/**
 * `pnpm bench [name…]`: runs every `bench/*.bench.ts` (or the ones whose file name contains a
 * given name). Each bench module default-exports `async () => void` and prints its own numbers.
 */
import { readdirSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"

const here = dirname(fileURLToPath(import.meta.url))
const filters = process.argv.slice(2)
const files = readdirSync(here)
  .filter((f) => f.endsWith(".bench.ts"))
  .filter((f) => filters.length === 0 || filters.some((n) => f.includes(n)))
  .sort()

for (const file of files) {
  console.log(`\n## ${file}\n`)
  const mod = (await import(pathToFileURL(join(here, file)).href)) as { default: () => Promise<void> }
  await mod.default()
}
