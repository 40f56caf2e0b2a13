/**
 * File bodies and descriptor lifetimes (spec.md §7.9, HTTP-29): `send` of a
 * file body completes only when the runner no longer reads the descriptor,
 * so an app that closes its descriptor right after `send` and opens another
 * file (which gets the recycled descriptor number) never has the second
 * file's bytes sent in the first one's response. Also: a reset and a
 * disconnect mid-file, and pathsend of a file replaced or truncated on disk
 * mid-send. HTTP/2 through the node:http2 client, HTTP/1.1 through raw
 * sockets, on real connections to an in-process runner.
 */
import { Effect } from "effect"
import * as fs from "node:fs"
import type * as http2 from "node:http2"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { sleep, within } from "../support/async.ts"
import { until } from "../support/clients.ts"
import { collect } from "../support/h2client.ts"
import { httpApp, outcome, type Outcome } from "../support/outcome.ts"
import { useServer, useSession } from "../support/server.ts"

const KiB = 1024
const MiB = 1024 * KiB

const base = fs.mkdtempSync(path.join(os.tmpdir(), "egi-fd-"))
/** Two files of each size with different bytes: what must go out, and what must never. */
const files = {
  small: { first: Buffer.from("first-file"), second: Buffer.from("SECOND!!!!") },
  big: { first: Buffer.alloc(5 * MiB, 0x61), second: Buffer.alloc(5 * MiB, 0x42) }
} as const
type Size = keyof typeof files
const pathOf = (size: Size, which: "first" | "second"): string => path.join(base, `${size}-${which}.bin`)
for (const size of ["small", "big"] as const) {
  fs.writeFileSync(pathOf(size, "first"), files[size].first)
  fs.writeFileSync(pathOf(size, "second"), files[size].second)
}
afterAll(() => fs.rmSync(base, { recursive: true, force: true }))

/** Descriptors the app opened and must close at the end of the run. */
const held: Array<number> = []
/** What each request's app saw: whether the recycled number came back, and send's outcome. */
const seen = new Map<string, { recycled: boolean; outcome: Outcome | "interrupted" }>()

/**
 * `/swap/<size>/<tag>`: zerocopysend of the first file, then at once close
 * it and open the second file (usually on the same descriptor number), kept
 * open until the test ends. `/path/<name>/<tag>`: pathsend of `base/<name>`.
 */
const app = httpApp((scope, _receive, send) =>
  Effect.gen(function*() {
    const [, kind, name, tag] = scope.path.split("/")
    if (kind === "path") {
      yield* send({ type: "http.response.start", status: 200 })
      const o = yield* outcome(send({ type: "http.response.pathsend", path: path.join(base, name!) }))
      seen.set(tag!, { recycled: false, outcome: o })
      return
    }
    const size = name as Size
    const fd = fs.openSync(pathOf(size, "first"), "r")
    let o: Outcome | "interrupted" = "interrupted"
    // The descriptor is closed, and its number taken by another file, as
    // soon as send completed — or as soon as the app was interrupted
    // (HTTP-15), whichever comes first.
    const swap = Effect.sync(() => {
      fs.closeSync(fd)
      const next = fs.openSync(pathOf(size, "second"), "r")
      held.push(next)
      seen.set(tag!, { recycled: next === fd, outcome: o })
    })
    yield* Effect.gen(function*() {
      yield* send({ type: "http.response.start", status: 200, headers: [["content-type", "application/octet-stream"]] })
      o = yield* outcome(send({ type: "http.response.zerocopysend", file: fd }))
    }).pipe(Effect.ensuring(swap))
  })
)

afterAll(() => {
  for (const fd of held) fs.close(fd, () => {})
})
const server = useServer(app, { drainTimeout: 500 })
const session = useSession(server)

/** An HTTP/2 GET whose client reads nothing for `pauseMs` (so a big file outlasts the window). */
const h2get = async (p: string, pauseMs = 0) => {
  const stream = session().request({ ":path": p }, { endStream: true })
  if (pauseMs > 0) {
    stream.pause()
    setTimeout(() => stream.resume(), pauseMs)
  }
  return within(collect(stream), 10_000, `h2 GET ${p}`)
}

/** An HTTP/1.1 GET on a raw socket, read to the close; `pauseMs` as for h2get. Returns the body bytes after the head. */
const h1get = (p: string, pauseMs = 0): Promise<{ head: string; body: Buffer }> =>
  within(
    new Promise((resolve, reject) => {
      const socket = net.connect(server().port, "127.0.0.1")
      const chunks: Array<Buffer> = []
      socket.on("data", (c: Buffer) => chunks.push(c))
      socket.on("error", reject)
      socket.on("close", () => {
        const all = Buffer.concat(chunks)
        const end = all.indexOf("\r\n\r\n")
        resolve({ head: all.subarray(0, end).toString("latin1"), body: all.subarray(end + 4) })
      })
      socket.write(`GET ${p} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n`)
      if (pauseMs > 0) {
        socket.pause()
        setTimeout(() => socket.resume(), pauseMs)
      }
    }),
    10_000,
    `h1 GET ${p}`
  )

describe("HTTP-29: the app may close its descriptor once send completed", () => {
  for (const size of ["small", "big"] as const) {
    const pause = size === "big" ? 300 : 0
    it(`HTTP-29: HTTP/2, ${size} file: the response is the first file byte for byte, though the app closed it after send and reopened its number`, async () => {
      const tag = `h2-${size}`
      const r = await h2get(`/swap/${size}/${tag}`, pause)
      expect(r.status).toBe(200)
      expect(r.rstCode).toBe(0)
      expect(r.body.length).toBe(files[size].first.length)
      expect(r.body.equals(files[size].first)).toBe(true)
      await until(() => seen.has(tag), "the app's outcome")
      expect(seen.get(tag)!.outcome).toEqual({ ok: true })
      // The test means something only when the number was recycled.
      expect(seen.get(tag)!.recycled).toBe(true)
    })

    it(`HTTP-29: HTTP/1.1, ${size} file: the response is the first file byte for byte, though the app closed it after send and reopened its number`, async () => {
      const tag = `h1-${size}`
      const r = await h1get(`/swap/${size}/${tag}`, pause)
      expect(r.head).toMatch(/^HTTP\/1\.1 200 /)
      expect(r.head.toLowerCase()).toContain(`content-length: ${files[size].first.length}`)
      expect(r.body.length).toBe(files[size].first.length)
      expect(r.body.equals(files[size].first)).toBe(true)
      await until(() => seen.has(tag), "the app's outcome")
      expect(seen.get(tag)!.outcome).toEqual({ ok: true })
      expect(seen.get(tag)!.recycled).toBe(true)
    })
  }

  /** A peer that goes away interrupts the app (HTTP-15) or fails its send (HTTP-9). */
  const gone = (o: Outcome | "interrupted"): boolean => o === "interrupted" || ("tag" in o && o.tag === "StreamClosedError")

  it("HTTP-29 HTTP-15: HTTP/2: a reset mid-file interrupts the app only once no read is under way; what arrived is a prefix of the first file", async () => {
    const tag = "h2-reset"
    const stream = session().request({ ":path": `/swap/big/${tag}` }, { endStream: true })
    const chunks: Array<Buffer> = []
    stream.on("data", (c: Buffer) => {
      chunks.push(c)
      if (chunks.length === 1) stream.close(8)
    })
    await within(new Promise((resolve) => stream.once("close", resolve)), 5000, "the reset stream's close")
    const body = Buffer.concat(chunks)
    expect(body.length).toBeLessThan(files.big.first.length)
    expect(body.equals(files.big.first.subarray(0, body.length))).toBe(true)
    await until(() => seen.has(tag), "the app's outcome")
    expect(gone(seen.get(tag)!.outcome)).toBe(true)
    // The connection and the server carry on.
    const r = await h2get("/swap/small/after-reset")
    expect(r.body.equals(files.small.first)).toBe(true)
  })

  it("HTTP-29 HTTP-15: HTTP/1.1: a disconnect mid-file interrupts the app only once no read is under way; what arrived is a prefix of the first file", async () => {
    const tag = "h1-disconnect"
    const body = await within(
      new Promise<Buffer>((resolve, reject) => {
        const socket = net.connect(server().port, "127.0.0.1")
        const chunks: Array<Buffer> = []
        socket.on("data", (c: Buffer) => {
          chunks.push(c)
          if (Buffer.concat(chunks).length > 100 * KiB) socket.destroy()
        })
        socket.on("error", reject)
        socket.on("close", () => resolve(Buffer.concat(chunks)))
        socket.write(`GET /swap/big/${tag} HTTP/1.1\r\nhost: x\r\n\r\n`)
      }),
      5000,
      "h1 disconnect"
    )
    const payload = body.subarray(body.indexOf("\r\n\r\n") + 4)
    expect(payload.equals(files.big.first.subarray(0, payload.length))).toBe(true)
    await until(() => seen.has(tag), "the app's outcome")
    expect(gone(seen.get(tag)!.outcome)).toBe(true)
  })
})

describe("HTTP-29: pathsend reads the file it opened, start to end", () => {
  const name = "replaced.bin"
  const target = path.join(base, name)

  for (const proto of ["h2", "h1"] as const) {
    it(`HTTP-29: ${proto}: a file replaced on disk (rename over it) mid-send: the response is the old file, whole`, async () => {
      fs.writeFileSync(target, files.big.first)
      const tag = `${proto}-replaced`
      const p = `/path/${name}/${tag}`
      const pending = proto === "h2" ? h2get(p, 300).then((r) => r.body) : h1get(p, 300).then((r) => r.body)
      await sleep(100)
      const tmp = path.join(base, `${name}.new`)
      fs.writeFileSync(tmp, files.big.second)
      fs.renameSync(tmp, target)
      const body = await pending
      expect(body.length).toBe(files.big.first.length)
      expect(body.equals(files.big.first)).toBe(true)
    })

    it(`HTTP-29: ${proto}: a file truncated on disk mid-send: the stream is reset, never completed short, and send fails with FileSendError`, async () => {
      fs.writeFileSync(target, files.big.first)
      const tag = `${proto}-truncated`
      const p = `/path/${name}/${tag}`
      if (proto === "h2") {
        const pending = h2get(p, 300)
        await sleep(100)
        fs.truncateSync(target, 1000)
        const r = await pending
        expect(r.status).toBe(200)
        expect(r.rstCode).not.toBe(0)
        expect(r.body.length).toBeLessThan(files.big.first.length)
      } else {
        const pending = h1get(p, 300)
        await sleep(100)
        fs.truncateSync(target, 1000)
        const r = await pending
        expect(r.head).toMatch(/^HTTP\/1\.1 200 /)
        // The connection closed before content-length bytes: the client knows it is incomplete.
        expect(r.body.length).toBeLessThan(files.big.first.length)
      }
      await until(() => seen.has(tag), "the app's outcome")
      expect(seen.get(tag)!.outcome).toMatchObject({ tag: "FileSendError" })
    })
  }
})
