/**
 * A throwaway database on the machine's PostgreSQL, for the tests that need a real one (the
 * cluster's store and runners). `SLUICE_TEST_DATABASE_URL` names the server and a database to
 * connect to for creating others (default postgres://postgres@127.0.0.1:5432/test, trust auth).
 * Where none answers, `pgUnavailable` says why, and the tests that need it say so and skip.
 */
import pg from "pg"

export const adminUrl = process.env.SLUICE_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test"

const probe = async (): Promise<string | undefined> => {
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 2000 })
  try {
    await client.connect()
    await client.query("SELECT 1")
    return undefined
  } catch (e) {
    return e instanceof Error ? e.message : String(e)
  } finally {
    await client.end().catch(() => {})
  }
}
/** Why PostgreSQL is not usable here, or undefined when it is. */
export const pgUnavailable = await probe()
if (pgUnavailable !== undefined) {
  console.warn(`cluster tests SKIPPED: no PostgreSQL at ${adminUrl} (${pgUnavailable}); start one or set SLUICE_TEST_DATABASE_URL`)
}

/** A database of its own for one test, dropped (connections ended) when disposed. */
export const database = async () => {
  const name = `sluice_test_${process.pid}_${Math.random().toString(36).slice(2, 8)}`
  const admin = new pg.Client({ connectionString: adminUrl })
  await admin.connect()
  await admin.query(`CREATE DATABASE ${name}`)
  await admin.end()
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  return {
    url: url.toString(),
    [Symbol.asyncDispose]: async () => {
      const c = new pg.Client({ connectionString: adminUrl })
      await c.connect()
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
      await c.end()
    }
  }
}

