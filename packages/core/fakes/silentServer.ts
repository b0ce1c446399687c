/**
 * A loopback server that accepts every TCP connection and never writes a byte (a hung proxy, a
 * host that takes the connection and drops everything after): for tests of a connect timeout.
 */
import { createServer, type Socket } from "node:net"

export interface SilentServer {
  readonly url: string
  /** Connections accepted so far. */
  readonly connections: () => number
  /** Destroys the open connections and stops listening. */
  readonly close: () => void
}

export const silentServer = (): Promise<SilentServer> =>
  new Promise((resolve) => {
    const sockets = new Set<Socket>()
    let connections = 0
    const server = createServer((s) => {
      connections++
      sockets.add(s)
      s.on("close", () => sockets.delete(s))
    })
    server.listen(0, "127.0.0.1", () =>
      resolve({
        url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
        connections: () => connections,
        close: () => {
          for (const s of sockets) s.destroy()
          server.close()
        }
      })
    )
  })
