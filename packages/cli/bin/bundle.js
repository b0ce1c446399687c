// The `sluice` CLI as one esbuild bundle (with per-command chunks), built on first use and
// rebuilt when any workspace source, package.json or the lockfile changed. Loading it takes
// ~0.3 s; running the TypeScript sources through tsx's loader takes ~1.7 s, nearly all of it
// compiling and resolving several hundred modules one by one.
//
// The bundle lives in packages/cli/node_modules/.cache/sluice-cli/<stamp>/, one directory per
// source state: concurrent first runs each build into a private directory and the first rename
// wins, so no process ever reads a half-written bundle.
import { mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs"
import { readFile } from "node:fs/promises"
import { createRequire } from "node:module"
import { join } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"

const cliDir = fileURLToPath(new URL("..", import.meta.url))
const root = join(cliDir, "..", "..")
const cacheDir = join(cliDir, "node_modules", ".cache", "sluice-cli")

/** Native or optional packages stay outside the bundle, required from where they are installed. */
const EXTERNAL = new Set(["better-sqlite3", "bufferutil", "utf-8-validate", "msgpackr-extract", "playwright-core", "fsevents"])

const newest = (dir, acc) => {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    if (e.isDirectory()) newest(p, acc)
    else acc.t = Math.max(acc.t, statSync(p).mtimeMs)
  }
  return acc
}

/** Changes whenever something the bundle is made of changes. */
const stampOf = () => {
  const acc = { t: statSync(fileURLToPath(import.meta.url)).mtimeMs }
  for (const f of [join(root, "pnpm-lock.yaml"), join(root, "package.json")]) acc.t = Math.max(acc.t, statSync(f).mtimeMs)
  for (const pkg of readdirSync(join(root, "packages"))) {
    const dir = join(root, "packages", pkg)
    acc.t = Math.max(acc.t, statSync(join(dir, "package.json")).mtimeMs)
    newest(join(dir, "src"), acc)
  }
  return `${Math.floor(acc.t)}-${process.version}`
}

const build = async (outdir) => {
  const require = createRequire(join(cliDir, "package.json"))
  const esbuild = await import(pathToFileURL(require.resolve("esbuild")).href)
  await esbuild.build({
    entryPoints: [join(cliDir, "src", "bin.ts")],
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    target: "node20",
    outdir,
    logLevel: "error",
    // CommonJS packages inside an ESM bundle call `require` for node built-ins and externals.
    banner: { js: 'import { createRequire as __sluiceRequire } from "node:module"; const require = __sluiceRequire(import.meta.url);' },
    plugins: [
      {
        name: "sluice",
        setup(b) {
          // Externals are resolved from their importer (pnpm keeps them out of the CLI's own node_modules).
          b.onResolve({ filter: /^[^./]/ }, (args) => {
            const parts = args.path.split("/")
            const name = args.path.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0]
            if (!EXTERNAL.has(name)) return undefined
            try {
              return { path: createRequire(args.importer).resolve(args.path), external: true }
            } catch {
              return { path: args.path, external: true }
            }
          })
          // Our modules find files next to their source (the gateway's web page): keep their own URL.
          b.onLoad({ filter: /[\\/]packages[\\/][^\\/]+[\\/]src[\\/].*\.ts$/ }, async (args) => ({
            contents: (await readFile(args.path, "utf8")).replaceAll("import.meta.url", JSON.stringify(pathToFileURL(args.path).href)),
            loader: "ts"
          }))
        }
      }
    ]
  })
}

/** The bundle's entry file, built first if missing or stale. Throws if it cannot be built. */
export const ensureBundle = async () => {
  const stamp = stampOf()
  const dir = join(cacheDir, stamp)
  const entry = join(dir, "bin.js")
  try {
    statSync(entry)
    return entry
  } catch {}
  mkdirSync(cacheDir, { recursive: true })
  const tmp = join(cacheDir, `.tmp-${process.pid}-${Date.now()}`)
  try {
    await build(tmp)
    writeFileSync(join(tmp, "stamp"), stamp)
    try {
      renameSync(tmp, dir)
    } catch {
      // another process got there first: use its bundle
      statSync(entry)
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true })
  }
  // Bundles of older source states: drop the ones untouched for a day (a long-running gateway may
  // still load chunks from a recent one).
  for (const old of readdirSync(cacheDir)) {
    const p = join(cacheDir, old)
    if (p !== dir && Date.now() - statSync(p).mtimeMs > 86_400_000) rmSync(p, { recursive: true, force: true })
  }
  return entry
}
