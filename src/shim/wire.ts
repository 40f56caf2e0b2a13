/**
 * The thread protocol between the shim (main thread) and its worker threads
 * (spec.md §10.4). Pure data shapes and the layout of the shared control
 * block.
 *
 * Each worker has one control block (an `Int32Array` over a
 * `SharedArrayBuffer`) and one request-body ring (ring.ts). The main thread
 * writes body frames into the ring, advances `written` and bumps `signal`;
 * a worker that needs bytes reads frames up to `written`, advances `read`,
 * and, when there is nothing for it, sleeps in `Atomics.wait` on `signal`.
 * Response chunks and a worker's other messages go the other way through
 * its output ring (output-ring.ts); the main thread counts each chunk it
 * has taken in `acked`, which a worker with too many bytes in flight waits
 * for. Runs go to a worker as messages on its port.
 */

/** Indices into a worker's control block. */
export const Slot = {
  /** Bumped (and notified) by the main thread whenever a worker may have something new to read. */
  signal: 0,
  /** `chunk` messages the main thread has finished with, since the worker started (wraps at 2^32). */
  acked: 1,
  /** Bumped by the worker each time it comes back from waiting (the watchdog's heartbeat). */
  progress: 2,
  /** 1 while the worker boots, imports a module or waits on the main thread (for input or acks); 0 while app code runs. */
  waiting: 3,
  /** When the worker started its latest run: ms since the pool's epoch (`WorkerBoot.epoch`), wrapping at 2^32 (rule CLASSIC-18). */
  runStarted: 4,
  /** Ring bytes the main thread has written (a counter, wraps at 2^32). */
  written: 5,
  /** Ring bytes the worker has read (a counter, wraps at 2^32). */
  read: 6,
  /** Output-ring bytes the worker has written (a counter, wraps at 2^32). */
  outWritten: 7,
  /** Output-ring bytes the main thread has taken (a counter, wraps at 2^32). */
  outRead: 8,
  /** 1 while the worker waits for room in its output ring (the main thread then bumps `signal` after taking frames). */
  outWaiting: 9,
  /** 1 while the main thread has taken every frame and waits for a wake message (output-ring.ts). */
  outArmed: 10
} as const

/** The largest `pipeline`: requests one worker may hold at once. */
export const MAX_PIPELINE = 64

/** The first of {@link MAX_PIPELINE} claim slots. */
const CLAIMS = Slot.outArmed + 1

/** The first of {@link MAX_PIPELINE} cancellation slots, one per claim slot. */
const CANCELS = CLAIMS + MAX_PIPELINE

/** Number of `Int32` slots in a control block. */
export const SLOTS = CANCELS + MAX_PIPELINE

/**
 * Claims (rule CLASSIC-18): a run posted to a worker is offered in a claim
 * slot, which holds the offer's number (never 0, one per assignment of a
 * job to a worker). The worker claims the run before it starts it, and the
 * main thread may revoke it while it waits; both swap the number for 0, so
 * exactly one of them wins. A worker skips a run it cannot claim: one
 * revoked, even if its job was later offered to it again (another number).
 * A slot is offered again only once the pool no longer holds its run.
 */
export const offerRun = (control: Int32Array, claim: number, offer: number): void => {
  Atomics.store(control, CLAIMS + claim, offer)
}

/**
 * Takes the run offered as `offer` in slot `claim`, for either side: the
 * worker claiming it to start it, or the main thread revoking it. True for
 * the one that won.
 */
export const takeRun = (control: Int32Array, claim: number, offer: number): boolean =>
  Atomics.compareExchange(control, CLAIMS + claim, offer, 0) === offer

/**
 * Cancellations (rule CLASSIC-8), one per claim slot: the main thread
 * writes the offer's number into the slot's cancellation slot when the
 * run's client went away; the run's reads and writes then fail, and a run
 * not started yet is not run. A worker holds at most {@link MAX_PIPELINE}
 * runs, each in its own slot, so no cancellation is ever overwritten
 * while its run is held; a number left from a run that is over matches no
 * later offer.
 */
export const cancelRun = (control: Int32Array, claim: number, offer: number): void => {
  Atomics.store(control, CANCELS + claim, offer)
}

/** The worker's side: the run offered as `offer` in slot `claim` was cancelled. */
export const isCancelled = (control: Int32Array, claim: number, offer: number): boolean =>
  Atomics.load(control, CANCELS + claim) === offer

/**
 * Where a worker finds its classic app (or where an escape finds its async
 * app, spec.md §10.6): functions do not cross threads, so an app is named
 * by its module and export, and each worker imports it (spec.md §10.4).
 * `{ module: import.meta.url, export: "legacy" }` names this module's
 * `legacy` export.
 *
 * @since 0.3.0
 * @category classic
 */
export interface ModuleRef {
  /** A module specifier a worker can `import()`: a `file:` URL or an absolute path. */
  readonly module: string
  /** The export's name. */
  readonly export: string
}

/** What a worker thread is started with (`workerData`). */
export interface WorkerBoot {
  readonly control: SharedArrayBuffer
  /** The request-body ring (its size a power of two). */
  readonly ring: SharedArrayBuffer
  /** The output ring (its size a power of two, output-ring.ts). */
  readonly output: SharedArrayBuffer
  /** Bytes of response body a worker may have in flight before `write` blocks. */
  readonly outputBuffer: number
  /** Ring bytes read after which the worker reports credit. */
  readonly creditEvery: number
  /** `egi.multiprocess`: more than one worker runs the app. */
  readonly multiprocess: boolean
  /** The pool's epoch (`Date.now()`, ms): `Slot.runStarted` counts from it. */
  readonly epoch: number
}

/** The CGI and `egi.*` data of an environ that can cross threads (spec.md §10.2). */
export type EnvironData = Readonly<Record<string, string | number | boolean | ReadonlyArray<number> | Correlation>>

/** `egi.correlator`. */
export interface Correlation {
  readonly connectionId: number
  readonly streamId: number
}

/**
 * The parts of an `http` scope a worker builds the environ from, flat (a
 * tuple clones several times faster than an object across threads).
 */
export type RequestData = readonly [
  method: string,
  scheme: string,
  httpVersion: string,
  authority: string | null,
  path: string,
  rawPath: string,
  queryString: string,
  rootPath: string,
  /** `[name, value, name, value, …]` */
  headers: ReadonlyArray<string>,
  clientHost: string | null,
  clientPort: number,
  serverHost: string | null,
  serverPort: number,
  connectionId: number,
  streamId: number
]

/**
 * Run request `seq` with the app at `module`/`export` (a tuple: this is the
 * hot path), if the worker can claim `offer` in slot `claim` (rule CLASSIC-18).
 */
export type RunMessage = readonly [seq: number, module: string, exportName: string, request: RequestData, claim: number, offer: number]

/**
 * Main thread → worker, on the worker's own port: the runs assigned to it in
 * one turn of the main thread's event loop, in order, or a module to load.
 */
export type ToWorker = ReadonlyArray<RunMessage> | { readonly t: "load"; readonly app: ModuleRef }

/** Worker → main thread. */
export type FromWorker =
  /** The app read input for the first time: start streaming the body in. */
  | { readonly t: "want"; readonly seq: number }
  /** The worker freed ring space; `bytes` more body bytes of this request taken. */
  | { readonly t: "credit"; readonly seq: number; readonly bytes: number }
  /** The app raised; `started` says whether headers had been sent. */
  | { readonly t: "fail"; readonly seq: number; readonly error: string; readonly started: boolean }
  /**
   * The app returned an unaltered upgrade response: run `app` on the stream.
   * `taken` counts body bytes taken out of the ring, `unread` is what of
   * them the classic app did not read.
   */
  | {
    readonly t: "escape"
    readonly seq: number
    readonly app: ModuleRef
    readonly taken: number
    readonly unread: Uint8Array
  }
  /** One line for the pool's logger about request `seq` (an upgrade response that went out altered, §10.6). */
  | { readonly t: "note"; readonly seq: number; readonly line: string }
  /** Answer to `load`. */
  | { readonly t: "loaded"; readonly error?: string }

/**
 * Response output, worker → main thread (a tuple: this is the hot path).
 * `status`/`headers` come with the first chunk that carries body or ends the
 * response (PEP 3333: the head goes with the first non-empty body chunk);
 * `end` closes the response and the request.
 */
export type ChunkMessage = readonly [
  seq: number,
  end: boolean,
  body: Uint8Array | undefined,
  status: number | undefined,
  headers: ReadonlyArray<readonly [string, string]> | undefined
]

/** Anything a worker posts. */
export type WorkerMessage = FromWorker | ChunkMessage

/** The message is response output. */
export const isChunk = (m: object): m is ChunkMessage => Array.isArray(m)
