/**
 * The worker-thread side of the shim (spec.md §10.4): loads classic apps
 * (once per module and thread), runs one request at a time, reads the body
 * out of the ring (blocking) and streams the response back under the output
 * bound.
 */
import { parentPort, workerData } from "node:worker_threads"
import type { ClassicApp, Environ, ErrorStream } from "./classic.ts"
import { ClientDisconnectedError } from "./errors.ts"
import { fileWrapper } from "./file-wrapper.ts"
import { type ChunkSource, Input } from "./input.ts"
import { ClassicResponse, type Head, type ResponseSink } from "./respond.ts"
import { makeUpgrade, type UpgradeToken } from "./upgrade.ts"
import { DISCONNECTED, HEADER, MORE, Ring } from "./ring.ts"
import { environData } from "./environ.ts"
import { importFunction } from "./load.ts"
import { OutputWriter } from "./output-ring.ts"
import { type FromWorker, isCancelled, type ModuleRef, type RunMessage, Slot, takeRun, type ToWorker, type WorkerBoot } from "./wire.ts"

const boot = workerData as WorkerBoot
const control = new Int32Array(boot.control)
const port = parentPort!
const ring = new Ring(boot.ring)

/** Sleeps until the main thread bumps `signal` past `seen` (at most 1 s, then the caller looks again). */
const waitForMain = (seen: number): void => {
  Atomics.store(control, Slot.waiting, 1)
  Atomics.wait(control, Slot.signal, seen, 1000)
  Atomics.store(control, Slot.waiting, 0)
  Atomics.add(control, Slot.progress, 1)
}

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

/** What this worker sends the main thread goes through its output ring, large bodies by port (rule CLASSIC-17). */
const output = new OutputWriter(boot.output, control, waitForMain, (message) => {
  if (message === 0) return port.postMessage(0)
  const [body, transfer] = postable(message.body)
  port.postMessage({ id: message.id, body }, transfer)
})

const post = (message: FromWorker): void => output.message(message)

const disconnected = (seq: number): ClientDisconnectedError =>
  new ClientDisconnectedError({ detail: `the client of request ${seq} went away` })

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

const sinkFor = (seq: number, claim: number, offer: number): ResponseSink => ({
  emit(head: Head | undefined, body: Uint8Array | undefined, end: boolean) {
    const size = body?.length ?? 0
    while (true) {
      const seen = Atomics.load(control, Slot.signal)
      settleAcks()
      if (isCancelled(control, claim, offer)) throw disconnected(seq)
      if (unackedBytes === 0 || unackedBytes + size <= boot.outputBuffer) break
      waitForMain(seen)
    }
    output.chunk(seq, head === undefined ? undefined : [head.status, head.headers], body, end)
    unacked.push(size)
    unackedBytes += size
  },
  note(line: string) {
    post({ t: "note", seq, line })
  }
})

// ---- request input, out of the ring (one reader per worker)

/** The ring's read counter (this thread is its only writer). */
let readPos = 0
/** The frame being read: its request, flags and payload bytes left. */
let frameSeq = 0
let frameFlags = 0
let frameLeft = 0

const available = (): number => (Atomics.load(control, Slot.written) - readPos) | 0

const advance = (n: number): void => {
  readPos = (readPos + n) | 0
  Atomics.store(control, Slot.read, readPos)
}

/** Skips what is in the ring now (frames of requests that are over). */
const skipRing = (): void => {
  while (true) {
    if (frameLeft > 0) {
      advance(frameLeft)
      frameLeft = 0
    }
    if (available() < HEADER) return
    const h = ring.getHeader(readPos)
    advance(HEADER)
    frameSeq = h.seq
    frameFlags = h.flags
    frameLeft = h.length
  }
}

/** The body of request `seq`, out of the ring; `taken` counts its bytes taken. */
class RingSource implements ChunkSource {
  taken = 0
  private uncredited = 0
  private moved = false
  private wanted = false
  private done = false
  private disconnectedAhead = false
  private readonly seq: number
  private readonly claim: number
  private readonly offer: number

  constructor(seq: number, claim: number, offer: number) {
    this.seq = seq
    this.claim = claim
    this.offer = offer
  }

  private credit(): void {
    if (!this.moved) return
    post({ t: "credit", seq: this.seq, bytes: this.uncredited })
    this.uncredited = 0
    this.moved = false
  }

  next(max: number): Uint8Array | null {
    if (this.done) return null
    if (this.disconnectedAhead) {
      this.done = true
      throw disconnected(this.seq)
    }
    if (!this.wanted) {
      this.wanted = true
      post({ t: "want", seq: this.seq })
    }
    while (true) {
      const seen = Atomics.load(control, Slot.signal)
      const out = this.take(max)
      if (out !== undefined) return out
      if (isCancelled(control, this.claim, this.offer)) throw disconnected(this.seq)
      this.credit()
      waitForMain(seen)
    }
  }

  /** Reads what the ring has for this request, up to `max` bytes; `undefined` when nothing yet. */
  private take(max: number): Uint8Array | null | undefined {
    let out: Uint8Array | undefined
    let filled = 0
    while (true) {
      if (frameLeft > 0 && frameSeq !== this.seq) {
        // The rest of a frame of a request that is over.
        advance(frameLeft)
        frameLeft = 0
        this.moved = true
      }
      if (frameLeft === 0) {
        if (available() < HEADER) break
        const h = ring.getHeader(readPos)
        advance(HEADER)
        this.moved = true
        frameSeq = h.seq
        frameFlags = h.flags
        frameLeft = h.length
        if (frameSeq !== this.seq) {
          // A frame of a request that is over: its payload is whole in the ring.
          advance(frameLeft)
          frameLeft = 0
          continue
        }
        if ((frameFlags & DISCONNECTED) !== 0) {
          if (filled > 0) {
            this.disconnectedAhead = true
            break
          }
          this.done = true
          throw disconnected(this.seq)
        }
        if (frameLeft === 0) {
          if ((frameFlags & MORE) === 0) {
            this.done = true
            break
          }
          continue
        }
      }
      // A frame's payload is written before its header is published: it is all there.
      out ??= new Uint8Array(Math.min(max, available()))
      const n = Math.min(frameLeft, out.length - filled)
      ring.get(readPos, out, filled, n)
      advance(n)
      frameLeft -= n
      filled += n
      this.taken += n
      this.uncredited += n
      this.moved = true
      if (frameLeft === 0 && (frameFlags & MORE) === 0) {
        this.done = true
        break
      }
      if (filled === out.length) break
    }
    if (this.uncredited >= boot.creditEvery) this.credit()
    if (filled > 0) return out!.subarray(0, filled)
    return this.done ? null : undefined
  }
}

// ---- apps

const apps = new Map<string, ClassicApp>()

const keyOf = (module: string, exportName: string): string => `${module}\0${exportName}`

const load = async (ref: ModuleRef): Promise<ClassicApp> => {
  const key = keyOf(ref.module, ref.export)
  const cached = apps.get(key)
  if (cached !== undefined) return cached
  // An import is not app code stuck in a loop: the watchdog leaves it alone.
  Atomics.store(control, Slot.waiting, 1)
  const app = (await importFunction(ref).finally(() => Atomics.store(control, Slot.waiting, 0))) as ClassicApp
  apps.set(key, app)
  return app
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

const run = (app: ClassicApp, message: RunMessage): void => {
  const [seq, , , request, claim, offer] = message
  // Taken back by the main thread while it waited here: another worker runs it.
  if (!takeRun(control, claim, offer)) return
  Atomics.store(control, Slot.runStarted, (Date.now() - boot.epoch) | 0)
  Atomics.store(control, Slot.waiting, 0)
  if (isCancelled(control, claim, offer)) {
    // Queued behind another request, and its client left before it started.
    return post({ t: "fail", seq, error: "the client went away before the request started", started: false })
  }
  const source = new RingSource(seq, claim, offer)
  const input = new Input(source)
  const tokens: Array<UpgradeToken> = []
  const environ = {
    ...environData(request, boot.multiprocess),
    "egi.input": input,
    "egi.errors": errors,
    "egi.file_wrapper": fileWrapper,
    "egi.upgrade": makeUpgrade(tokens)
  } as unknown as Environ
  const response = new ClassicResponse(sinkFor(seq, claim, offer))
  try {
    const escape = response.run(app, environ, tokens)
    if (escape !== undefined) {
      post({ t: "escape", seq, app: escape, taken: source.taken, unread: input.unread() })
    }
  } catch (error) {
    post({ t: "fail", seq, error: describe(error), started: response.started })
  }
  skipRing()
}

/** Messages wait here while one is being handled asynchronously (a module loading). */
let queue: Promise<void> | undefined
let queued = 0

type Task = RunMessage | Exclude<ToWorker, ReadonlyArray<RunMessage>>

const isRun = (task: Task): task is RunMessage => Array.isArray(task)

const handle = async (message: Task): Promise<void> => {
  Atomics.add(control, Slot.progress, 1)
  if (!isRun(message)) {
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
    app = await load({ module: message[1], export: message[2] })
  } catch (error) {
    post({ t: "fail", seq: message[0], error: `cannot load the classic app: ${describe(error)}`, started: false })
    return
  }
  run(app, message)
}

const accept = (task: Task): void => {
  // The common case, a run for a loaded app with nothing queued, runs at once.
  const ready = queued === 0 && isRun(task) ? apps.get(keyOf(task[1], task[2])) : undefined
  if (ready !== undefined && isRun(task)) {
    Atomics.add(control, Slot.progress, 1)
    return run(ready, task)
  }
  queued++
  queue = (queue ?? Promise.resolve()).then(() => handle(task)).finally(() => void queued--)
}

port.on("message", (message: ToWorker) => {
  if (!Array.isArray(message)) return accept(message as Task)
  for (const task of message as ReadonlyArray<RunMessage>) accept(task)
})
