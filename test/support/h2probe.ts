/**
 * Test support: runs test/support/h2probe.py (a frame-level HTTP/2 client on
 * python-h2) and returns the events it saw. See the script's docstring for
 * the spec format.
 */
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"

const SCRIPT = fileURLToPath(new URL("./h2probe.py", import.meta.url))
/** Always the system python: the python3 on PATH may lack the `h2` package. */
const PYTHON = "/usr/bin/python3"

/**
 * What to wait for before the next request; see h2probe.py. "close": the stream and every stream
 * it promised (PUSH_PROMISE) ended or reset; "all": every stream, pushed ones included.
 */
export type Wait = "close" | "response" | "data" | "goaway" | "all" | "none" | number

/** A header field list, in wire order. */
export type HeaderList = Array<[string, string]>

export interface ProbeRequest {
  readonly method?: string
  readonly path?: string
  readonly authority?: string
  readonly scheme?: string
  readonly headers?: ReadonlyArray<readonly [string, string]>
  /** A number: that many "x" bytes; a string: its latin-1 bytes. */
  readonly data?: number | string
  readonly chunk?: number
  readonly endStream?: boolean
  /**
   * After the data: a trailing HEADERS frame with these fields, always with END_STREAM (the DATA
   * frames then carry none, and `endStream` is ignored). `[]` sends an empty header block.
   */
  readonly trailers?: ReadonlyArray<readonly [string, string]>
  /** Pause between HEADERS and the first DATA frame (lets the server start the app first). */
  readonly headersDelayMs?: number
  /** Pause between DATA frames, and between the last DATA frame and the trailers. */
  readonly dataDelayMs?: number
  readonly rstDelayMs?: number
  /** RST_STREAM code to send after the data. */
  readonly rst?: number
  /** Points where the probe waits for `release()`: before the first DATA frame, the trailers, the RST_STREAM. */
  readonly hold?: ReadonlyArray<"data" | "trailers" | "rst">
  /** After a GOAWAY: send the HEADERS anyway (raw frame). */
  readonly force?: boolean
  readonly wait?: Wait
}

export interface ProbeSpec {
  readonly port: number
  readonly host?: string
  readonly tls?: boolean
  /** Overall deadline in seconds (default 5). */
  readonly timeout?: number
  /** The client's SETTINGS_ENABLE_PUSH (default false). When true, pushed streams are read like any other. */
  readonly enablePush?: boolean
  /** The client's SETTINGS_INITIAL_WINDOW_SIZE (default python-h2's, 65535); the connection window stays 65535. */
  readonly initialWindow?: number
  readonly requests: ReadonlyArray<ProbeRequest>
  /** After the last request (default "all": every stream closed, or the socket). */
  readonly linger?: Wait
}

export type ProbeEvent =
  | {
    readonly type: "Sent"
    readonly what: "headers" | "data" | "trailers" | "rst"
    readonly stream: number
    readonly length?: number
    readonly code?: number
    readonly raw?: boolean
    readonly t: number
  }
  | { readonly type: "SendFailed"; readonly stream: number | null; readonly error: string; readonly t: number }
  | {
    readonly type: "ResponseReceived"
    readonly stream: number
    readonly status: number
    /** Without the pseudo-headers. */
    readonly headers: HeaderList
    /** Names of the fields sent as HPACK "never indexed" literals (RFC 7541 §6.2.3), once each. */
    readonly neverIndexed: Array<string>
    readonly t: number
  }
  | {
    /** A 1xx response head (e.g. 103 Early Hints). */
    readonly type: "Informational"
    readonly stream: number
    readonly status: number
    /** Without the pseudo-headers. */
    readonly headers: HeaderList
    readonly neverIndexed: Array<string>
    readonly t: number
  }
  | {
    /** A PUSH_PROMISE on `stream`; the pushed response then arrives on stream `promised`. */
    readonly type: "PushPromise"
    readonly stream: number
    readonly promised: number
    /** The promised request's fields, pseudo-headers included. */
    readonly headers: HeaderList
    readonly neverIndexed: Array<string>
    readonly t: number
  }
  | {
    /** Response trailers (always right after a TrailersReceived event for the same stream). */
    readonly type: "Trailers"
    readonly stream: number
    readonly headers: HeaderList
    readonly neverIndexed: Array<string>
    readonly t: number
  }
  | { readonly type: "DataReceived"; readonly stream: number; readonly length: number; readonly data: string; readonly t: number }
  | { readonly type: "StreamEnded"; readonly stream: number; readonly t: number }
  | { readonly type: "StreamReset"; readonly stream: number; readonly error_code: number; readonly remote: boolean; readonly t: number }
  | { readonly type: "ConnectionTerminated"; readonly error_code: number; readonly last_stream_id: number; readonly t: number }
  | { readonly type: "TrailersReceived"; readonly stream: number; readonly t: number }
  | { readonly type: "ProtocolError"; readonly error: string; readonly t: number }
  | { readonly type: "SocketClosed"; readonly t: number }
  | { readonly type: "Timeout"; readonly phase: string; readonly stream?: number; readonly t: number }
  | { readonly type: "Held"; readonly point: "data" | "trailers" | "rst"; readonly stream: number; readonly t: number }

export interface ProbeResult {
  readonly events: ReadonlyArray<ProbeEvent>
  /** The events without the probe's own `Sent` markers. */
  readonly received: ReadonlyArray<ProbeEvent>
  /** The status of `stream`'s (final) response, if one arrived. */
  readonly status: (stream: number) => number | undefined
  /** The trailers of `stream`'s response, if any arrived. */
  readonly trailers: (stream: number) => HeaderList | undefined
  /** The stream ids promised (PUSH_PROMISE) on `stream`, in order. */
  readonly promised: (stream: number) => Array<number>
  /** The response body bytes of `stream`, as a latin-1 string (first 256 bytes of each frame). */
  readonly body: (stream: number) => string
  /** Total response body length of `stream`. */
  readonly bodyLength: (stream: number) => number
  /** The RST_STREAM code `stream` was reset with by the server, if any. */
  readonly resetCode: (stream: number) => number | undefined
  readonly ended: (stream: number) => boolean
  readonly goaway: { readonly error_code: number; readonly last_stream_id: number } | undefined
  /** The server closed the TCP connection. */
  readonly socketClosed: boolean
  /** The probe gave up waiting somewhere (see the Timeout event's phase). */
  readonly timedOut: boolean
  /** Event types in order, for failure messages. */
  readonly summary: string
}

type Of<T extends ProbeEvent["type"]> = Extract<ProbeEvent, { type: T }>

/**
 * Runs the probe. `onEvent` is called live (from the script's stderr lines) as
 * each event is seen, e.g. to signal a server mid-stream. Rejects only if the
 * script itself failed to run or print JSON, or overran its deadline.
 */
export const h2probe = (spec: ProbeSpec, onEvent?: (event: ProbeEvent) => void): Promise<ProbeResult> =>
  startProbe(spec, onEvent).result

export interface RunningProbe {
  readonly result: Promise<ProbeResult>
  /** Lets the probe past its next `hold` point. */
  readonly release: () => void
}

/** Starts the probe; `release()` lets it past each `hold` point in turn. */
export const startProbe = (spec: ProbeSpec, onEvent?: (event: ProbeEvent) => void): RunningProbe => {
  const child = spawn(PYTHON, [SCRIPT, JSON.stringify(spec)], { stdio: ["pipe", "pipe", "pipe"] })
  child.stdin.on("error", () => {})
  const release = (): void => {
    if (child.stdin.writable) child.stdin.write("go\n")
  }
  const result = new Promise<ProbeResult>((resolve, reject) => {
    let stdout = ""
    let stderr = ""
    let pending = ""
    const killer = setTimeout(() => child.kill("SIGKILL"), ((spec.timeout ?? 5) + 5) * 1000)
    child.stdout.setEncoding("utf8").on("data", (d: string) => void (stdout += d))
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      stderr += d
      pending += d
      let nl: number
      while ((nl = pending.indexOf("\n")) >= 0) {
        const line = pending.slice(0, nl)
        pending = pending.slice(nl + 1)
        if (onEvent === undefined || !line.startsWith("{")) continue
        try {
          onEvent(JSON.parse(line) as ProbeEvent)
        } catch {
          // not an event line (a traceback): reported below
        }
      }
    })
    child.on("error", (err) => {
      clearTimeout(killer)
      reject(err)
    })
    child.on("close", (code, signal) => {
      clearTimeout(killer)
      child.stdin.destroy()
      let parsed: { events: Array<ProbeEvent>; error: string | null }
      try {
        parsed = JSON.parse(stdout)
      } catch {
        reject(new Error(`h2probe failed (exit ${code ?? signal}): no JSON\nstdout: ${stdout}\nstderr: ${stderr}`))
        return
      }
      if (parsed.error !== null) {
        reject(new Error(`h2probe error: ${parsed.error}\nevents: ${JSON.stringify(parsed.events)}`))
        return
      }
      resolve(toResult(parsed.events))
    })
  })
  return { result, release }
}

const toResult = (events: ReadonlyArray<ProbeEvent>): ProbeResult => {
  const received = events.filter((e) => e.type !== "Sent" && e.type !== "Held")
  const ofType = <T extends ProbeEvent["type"]>(type: T): Array<Of<T>> => events.filter((e): e is Of<T> => e.type === type)
  const goaway = ofType("ConnectionTerminated")[0]
  return {
    events,
    received,
    status: (stream) => ofType("ResponseReceived").find((e) => e.stream === stream)?.status,
    trailers: (stream) => ofType("Trailers").find((e) => e.stream === stream)?.headers,
    promised: (stream) => ofType("PushPromise").filter((e) => e.stream === stream).map((e) => e.promised),
    body: (stream) => ofType("DataReceived").filter((e) => e.stream === stream).map((e) => e.data).join(""),
    bodyLength: (stream) => ofType("DataReceived").filter((e) => e.stream === stream).reduce((n, e) => n + e.length, 0),
    resetCode: (stream) => ofType("StreamReset").find((e) => e.stream === stream && e.remote)?.error_code,
    ended: (stream) => ofType("StreamEnded").some((e) => e.stream === stream),
    goaway: goaway === undefined ? undefined : { error_code: goaway.error_code, last_stream_id: goaway.last_stream_id },
    socketClosed: events.some((e) => e.type === "SocketClosed"),
    timedOut: events.some((e) => e.type === "Timeout"),
    summary: JSON.stringify(
      events.map((e) => {
        const { t: _t, ...rest } = e as ProbeEvent & { headers?: unknown; data?: unknown }
        delete (rest as { headers?: unknown }).headers
        delete (rest as { data?: unknown }).data
        delete (rest as { neverIndexed?: unknown }).neverIndexed
        return rest
      })
    )
  }
}
