/** A loopback port nothing listens on (taken, then released): for tests of an unreachable service. */
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"

export const closedPort = (): Promise<number> =>
  new Promise((resolve) => {
    const server = createServer()
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as AddressInfo).port
      server.close(() => resolve(port))
    })
  })
