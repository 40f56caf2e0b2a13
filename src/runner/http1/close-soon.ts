/**
 * Closing an HTTP/1.1 connection after its last response.
 *
 * @since 0.7.0
 */
import type * as net from "node:net"

/**
 * Ends the connection after what is written, then closes it without
 * waiting for the peer's FIN, as node:http does: the connection's slot
 * (maxConnections, RUN-23) is free as soon as its last response is out.
 */
export const closeSoon = (socket: net.Socket): void => {
  if (socket.destroyed) return
  socket.end(() => socket.destroy())
}
