/**
 * Test support for the fetch adapters: one request over HTTP/2 (h2c) or
 * HTTP/1.1 (node:http, so raw header fields stay visible), and upload
 * bodies with their SHA-256.
 */
import { createHash } from "node:crypto"
import { once } from "node:events"
import * as http from "node:http"
import type * as http2 from "node:http2"
import { request as h2request } from "../../support/h2client.ts"

export type Protocol = "h2c" | "http/1.1"

export interface Reply {
  readonly status: number | undefined
  /** The response head as received, `[name, value]` pairs (lower-case names). */
  readonly fields: ReadonlyArray<readonly [string, string]>
  readonly body: Buffer
}

const pairs = (raw: ReadonlyArray<string>): Array<[string, string]> => {
  const out: Array<[string, string]> = []
  for (let i = 0; i + 1 < raw.length; i += 2) if (!raw[i]!.startsWith(":")) out.push([raw[i]!.toLowerCase(), raw[i + 1]!])
  return out
}

/** The values of field `name` in `reply`, in order. */
export const fieldValues = (reply: Reply, name: string): Array<string> => reply.fields.filter(([n]) => n === name).map(([, v]) => v)

/** One request: over `session` (h2c) or a fresh HTTP/1.1 connection to `port`; `body` written chunk by chunk with backpressure. */
export const send = async (
  protocol: Protocol,
  target: { readonly port: number; readonly session: () => http2.ClientHttp2Session },
  method: string,
  path: string,
  body?: ReadonlyArray<Uint8Array>,
  headers: Record<string, string> = {}
): Promise<Reply> => {
  if (protocol === "h2c") {
    const r = await h2request(target.session(), { ":method": method, ":path": path, ...headers }, body)
    return { status: r.status, fields: pairs(r.rawHeaders), body: r.body }
  }
  return new Promise<Reply>((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port: target.port, method, path, headers, agent: false }, (res) => {
      const chunks: Array<Buffer> = []
      res.on("data", (c: Buffer) => chunks.push(c))
      res.on("end", () => resolve({ status: res.statusCode, fields: pairs(res.rawHeaders), body: Buffer.concat(chunks) }))
      res.on("error", reject)
    })
    req.on("error", reject)
    void (async () => {
      for (const chunk of body ?? []) if (!req.write(chunk)) await once(req, "drain")
      req.end()
    })()
  })
}

/** `total` bytes of a position-dependent pattern in `piece`-byte chunks, and their SHA-256. */
export const uploadChunks = (total: number, piece = 64 * 1024): { chunks: Array<Buffer>; sha256: string } => {
  const chunks: Array<Buffer> = []
  const hash = createHash("sha256")
  for (let at = 0; at < total; at += piece) {
    const c = Buffer.alloc(Math.min(piece, total - at))
    for (let i = 0; i + 4 <= c.length; i += 4) c.writeUInt32LE((at + i) >>> 0, i)
    chunks.push(c)
    hash.update(c)
  }
  return { chunks, sha256: hash.digest("hex") }
}

export const sha256 = (bytes: Uint8Array): string => createHash("sha256").update(bytes).digest("hex")
