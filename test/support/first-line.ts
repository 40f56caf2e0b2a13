/**
 * Test support: one HTTP/1.1 exchange on a raw socket (node:net), for
 * answers a client library would not show as sent (a 101, a refusal).
 */
import * as net from "node:net"

/** Sends `request` to 127.0.0.1:`port` and resolves with the first line of the answer (its status line); the socket is then destroyed. */
export const firstLine = (port: number, request: string): Promise<string> =>
  new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1", () => socket.write(request))
    let text = ""
    socket.on("data", (chunk) => {
      text += chunk.toString("latin1")
      const end = text.indexOf("\r\n")
      if (end >= 0) {
        resolve(text.slice(0, end))
        socket.destroy()
      }
    })
    socket.on("error", reject)
  })
