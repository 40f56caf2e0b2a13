/**
 * Test support for hostile clients (test/hostile/): many raw TCP
 * connections to 127.0.0.1 that each send what they are told, on a
 * schedule, and record when the server closed them; latency percentiles.
 */
import * as net from "node:net"

/**
 * One hostile connection: when it opened; when the server answered it (its
 * first byte, e.g. a 408) or closed it, in ms since it opened (undefined
 * while neither); what it read.
 */
export interface Hostile {
  readonly socket: net.Socket
  readonly openedAt: number
  closedAfter: number | undefined
  text: string
}

/**
 * Opens `count` connections to `port` (in batches, so the listen backlog is
 * not overrun); each writes `first` at once, then `trickle` (if any) every
 * `everyMs` while it is open. Resolves once all are connected.
 */
export const openHostile = async (
  port: number,
  count: number,
  options: { readonly first?: Uint8Array | string; readonly trickle?: Uint8Array | string; readonly everyMs?: number } = {}
): Promise<ReadonlyArray<Hostile>> => {
  const all: Array<Hostile> = []
  for (let i = 0; i < count; i += 50) {
    const batch = Array.from({ length: Math.min(50, count - i) }, () =>
      new Promise<Hostile>((resolve, reject) => {
        const socket = net.connect(port, "127.0.0.1")
        const h: Hostile = { socket, openedAt: 0, closedAfter: undefined, text: "" }
        let timer: NodeJS.Timeout | undefined
        socket.on("error", () => {})
        socket.on("data", (d: Buffer) => {
          h.closedAfter ??= Date.now() - h.openedAt
          h.text += d.toString("latin1")
        })
        socket.on("end", () => void (h.closedAfter ??= Date.now() - h.openedAt))
        socket.on("close", () => {
          if (timer !== undefined) clearInterval(timer)
          h.closedAfter ??= Date.now() - h.openedAt
          reject(new Error("closed before connecting"))
        })
        socket.on("connect", () => {
          ;(h as { openedAt: number }).openedAt = Date.now()
          if (options.first !== undefined) socket.write(options.first)
          if (options.trickle !== undefined) {
            timer = setInterval(() => {
              if (!socket.destroyed) socket.write(options.trickle!)
            }, options.everyMs ?? 1000)
          }
          resolve(h)
        })
      })
    )
    all.push(...await Promise.all(batch))
  }
  return all
}

/** Destroys every connection. */
export const destroyAll = (hs: ReadonlyArray<Hostile>): void => {
  for (const h of hs) h.socket.destroy()
}

/** The p-th percentile (0–100) of `xs`, nearest rank. */
export const percentile = (xs: ReadonlyArray<number>, p: number): number => {
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!
}
