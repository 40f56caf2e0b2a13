/**
 * The worker-thread side of the shim (spec.md §10.4): loads classic apps
 * (once per module and thread), runs one request at a time, reads the body
 * through the blocking input port and streams the response back under the
 * output bound.
 */
import { isAbsolute } from "node:path"
import { pathToFileURL } from "node:url"
import { type MessagePort, parentPort, receiveMessageOnPort, workerData } from "node:worker_threads"
import type { ClassicApp, Environ, ErrorStream } from "./classic.ts"
import { ClientDisconnectedError } from "./errors.ts"
import { fileWrapper } from "./file-wrapper.ts"
import { type ChunkSource, Input } from "./input.ts"
import { ClassicResponse, type Head, type ResponseSink, type UpgradeToken } from "./respond.ts"
import { makeUpgrade } from "./upgrade.ts"
import { type FromWorker, type InputMessage, type ModuleRef, Slot, type ToWorker, type WorkerBoot } from "./wire.ts"

const boot = workerData as WorkerBoot
const control = new Int32Array(boot.control)
const port = parentPort!
const inputPort: MessagePort = boot.input

const post = (message: FromWorker, transfer?: ReadonlyArray<ArrayBuffer>): void =>
  port.postMessage(message, transfer as Array<ArrayBuffer> | undefined)

/** Sleeps until the main thread bumps `signal` past `seen` (at most 1 s, then the caller looks again). */
const waitForMain = (seen: number): void => {
  Atomics.store(control, Slot.waiting, 1)
  Atomics.wait(control, Slot.signal, seen, 1000)
  Atomics.store(control, Slot.waiting, 0)
  Atomics.add(control, Slot.progress, 1)
}

const disconnected = (seq: number): ClientDisconnectedError =>
  new ClientDisconnectedError({ detail: `the client of request ${seq} went away` })

/**
 * A copy of `bytes` that can be posted without the rest of its buffer
 * (structured clone copies a view's whole backing buffer), and the list to
 * transfer it with.
 */
const postable = (bytes: Uint8Array): [Uint8Array, Array<ArrayBuffer>] => {
  if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength) return [bytes, []]
  const copy = new Uint8Array(bytes) // a copy even of a Buffer (whose slice() is a view)
  return [copy, [copy.buffer]]
}

// ---- response output, bounded by acks (shared by all requests of this worker)

/** Sizes of posted chunk messages not yet acked, oldest first. */
const unacked: Array<number> = []
let unackedHead = 0
let unackedBytes = 0
let ackedSeen = 0

const settleAcks = (): void => {
  const acked = Atomics.load(control, Slot.acked)
  while (ackedSeen !== acked && unackedHead < unacked.length) {
    unackedBytes -= unacked[unackedHead++]!
    ackedSeen = (ackedSeen + 1) | 0
  }
  if (unackedHead > 1024 && unackedHead * 2 > unacked.length) {
    unacked.splice(0, unackedHead)
    unackedHead = 0
  }
}

const sinkFor = (seq: number): ResponseSink => ({
  emit(head: Head | undefined, body: Uint8Array | undefined, end: boolean) {
    const size = body?.length ?? 0
    while (true) {
      const seen = Atomics.load(control, Slot.signal)
      settleAcks()
      if (Atomics.load(control, Slot.cancelled) === seq) throw disconnected(seq)
      if (unackedBytes === 0 || unackedBytes + size <= boot.outputBuffer) break
      waitForMain(seen)
    }
    const [bytes, transfer] = body === undefined ? [undefined, []] : postable(body)
    post({ t: "chunk", seq, status: head?.status, headers: head?.headers, body: bytes, end }, transfer)
    unacked.push(size)
    unackedBytes += size
  }
})

// ---- request input

/** The body of request `seq`, from the input port; `taken` counts bytes taken off the port. */
class PortSource implements ChunkSource {
  taken = 0
  private uncredited = 0
  private wanted = false
  private done = false
  private readonly seq: number

  constructor(seq: number) {
    this.seq = seq
  }

  private credit(): void {
    if (this.uncredited === 0) return
    post({ t: "credit", seq: this.seq, bytes: this.uncredited })
    this.uncredited = 0
  }

  next(): Uint8Array | null {
    if (this.done) return null
    if (!this.wanted) {
      this.wanted = true
      post({ t: "want", seq: this.seq })
    }
    while (true) {
      const seen = Atomics.load(control, Slot.signal)
      const received = receiveMessageOnPort(inputPort)
      if (received !== undefined) {
        const m = received.message as InputMessage
        if (m.seq !== this.seq) continue // left over from an earlier request
        if (m.disconnected === true) {
          this.done = true
          throw disconnected(this.seq)
        }
        const body = m.body!
        this.taken += body.length
        this.uncredited += body.length
        if (this.uncredited >= boot.creditEvery) this.credit()
        if (!m.more) this.done = true
        if (body.length > 0) return body
        if (this.done) return null
        continue
      }
      if (Atomics.load(control, Slot.cancelled) === this.seq) throw disconnected(this.seq)
      this.credit()
      waitForMain(seen)
    }
  }
}

/** Drops what is left on the input port for `seq` (the app did not read it all). */
const dropInput = (): void => {
  while (receiveMessageOnPort(inputPort) !== undefined) {
    // discard
  }
}

// ---- apps

const apps = new Map<string, ClassicApp>()

const keyOf = (ref: ModuleRef): string => `${ref.module}\0${ref.export}`

const specifier = (module: string): string => (isAbsolute(module) ? pathToFileURL(module).href : module)

const load = async (ref: ModuleRef): Promise<ClassicApp> => {
  const key = keyOf(ref)
  const cached = apps.get(key)
  if (cached !== undefined) return cached
  // An import is not app code stuck in a loop: the watchdog leaves it alone.
  Atomics.store(control, Slot.waiting, 1)
  const mod = (await import(specifier(ref.module)).finally(() => Atomics.store(control, Slot.waiting, 0))) as Record<
    string,
    unknown
  >
  const app = mod[ref.export]
  if (typeof app !== "function") throw new TypeError(`${ref.module} has no function export ${JSON.stringify(ref.export)}`)
  apps.set(key, app as ClassicApp)
  return app as ClassicApp
}

const describe = (error: unknown): string => {
  if (!(error instanceof Error)) return `thrown: ${String(error)}`
  const frames = (error.stack ?? "").split("\n").filter((l) => l.trimStart().startsWith("at "))
  return [`${error.name}: ${error.message}`, ...frames].join("\n")
}

const errors: ErrorStream = {
  write: (text) => void process.stderr.write(text),
  writelines: (lines) => {
    for (const line of lines) process.stderr.write(line)
  },
  flush: () => {}
}

const run = (app: ClassicApp, message: Extract<ToWorker, { t: "run" }>): void => {
  const { seq } = message
  const source = new PortSource(seq)
  const input = new Input(source)
  const tokens: Array<UpgradeToken> = []
  const environ = {
    ...message.environ,
    "egi.input": input,
    "egi.errors": errors,
    "egi.file_wrapper": fileWrapper,
    "egi.upgrade": makeUpgrade(tokens)
  } as unknown as Environ
  const response = new ClassicResponse(sinkFor(seq))
  try {
    const escape = response.run(app, environ, tokens)
    if (escape !== undefined) {
      const [unread, transfer] = postable(input.unread())
      post({ t: "escape", seq, app: escape, taken: source.taken, unread }, transfer)
    }
  } catch (error) {
    post({ t: "fail", seq, error: describe(error), started: response.started })
  }
  dropInput()
}

/** Messages wait here while one is being handled asynchronously (a module loading). */
let queue: Promise<void> | undefined
let queued = 0

const handle = async (message: ToWorker): Promise<void> => {
  Atomics.add(control, Slot.progress, 1)
  if (message.t === "load") {
    try {
      await load(message.app)
      post({ t: "loaded" })
    } catch (error) {
      post({ t: "loaded", error: describe(error) })
    }
    return
  }
  let app: ClassicApp
  try {
    app = await load(message.app)
  } catch (error) {
    post({ t: "fail", seq: message.seq, error: `cannot load the classic app: ${describe(error)}`, started: false })
    return
  }
  run(app, message)
}

port.on("message", (message: ToWorker) => {
  // The common case, a run for a loaded app with nothing queued, runs at once.
  const ready = queued === 0 && message.t === "run" ? apps.get(keyOf(message.app)) : undefined
  if (ready !== undefined && message.t === "run") {
    Atomics.add(control, Slot.progress, 1)
    return run(ready, message)
  }
  queued++
  queue = (queue ?? Promise.resolve()).then(() => handle(message)).finally(() => void queued--)
})
