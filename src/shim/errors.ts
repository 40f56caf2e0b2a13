/**
 * The sync shim's typed errors (spec.md §10.8).
 *
 * @since 0.3.0
 */
import * as Data from "effect/Data"

/**
 * Raised inside a classic app by `egi.input` reads and by `write()` (and
 * stops the iteration of its response) once the client has gone away
 * (spec.md §10.3, §10.5). The app may catch it; the stream is already gone.
 *
 * @since 0.3.0
 * @category errors
 */
export class ClientDisconnectedError extends Data.TaggedError("ClientDisconnectedError")<{
  readonly detail: string
}> {}

/**
 * Raised inside a classic app when it breaks the classic interface:
 * `start_response` twice without `excInfo`, a malformed status or header
 * list, `write()` before `start_response`, a response chunk that is not
 * bytes or a string (spec.md §10.5; `rule` names the spec.md rule:
 * `"CLASSIC-1"`, `"CLASSIC-2"` or `"CLASSIC-3"`). Uncaught, it fails the
 * request as `ClassicAppError`.
 *
 * @since 0.3.0
 * @category errors
 */
export class ClassicUsageError extends Data.TaggedError("ClassicUsageError")<{
  readonly rule: string
  readonly detail: string
}> {
  override get message(): string {
    return `${this.rule}: ${this.detail}`
  }
}

/**
 * The classic app raised (or its module could not be loaded). `error` is
 * the worker-side description with its stack; `started` says whether the
 * response headers had gone out: before, the runner answers 500; after, the
 * stream is reset (spec.md §10.8).
 *
 * @since 0.3.0
 * @category errors
 */
export class ClassicAppError extends Data.TaggedError("ClassicAppError")<{
  readonly error: string
  readonly started: boolean
}> {
  override get message(): string {
    return this.error
  }
}

/**
 * The worker thread running the request died (`process.exit`, an uncaught
 * asynchronous error, out of memory; `exitCode` is its exit code, -1 when
 * the pool closed under the request): the request fails (500 or reset) and
 * the pool starts a new worker (spec.md §10.7).
 *
 * @since 0.3.0
 * @category errors
 */
export class WorkerCrashError extends Data.TaggedError("WorkerCrashError")<{
  readonly exitCode: number
  readonly detail: string
}> {
  override get message(): string {
    return `worker exited with code ${this.exitCode}: ${this.detail}`
  }
}

/**
 * The classic app ran for `timeoutMs` ms without coming back from app code
 * (spec.md §10.7): its worker is terminated and replaced; the client gets
 * 504 if the response had not started, a reset otherwise.
 *
 * @since 0.3.0
 * @category errors
 */
export class ClassicTimeoutError extends Data.TaggedError("ClassicTimeoutError")<{
  readonly timeoutMs: number
}> {
  override get message(): string {
    return `classic app ran for ${this.timeoutMs} ms without progress; its worker was replaced`
  }
}

/**
 * `handOff` was told it consumed a number of body bytes that is not a
 * non-negative integer, or more than the request declared in its
 * content-length (spec.md §10.6, rule CLASSIC-13). The hand-off fails before
 * the classic app runs (the runner answers 500).
 *
 * @since 0.3.0
 * @category errors
 */
export class HandOffError extends Data.TaggedError("HandOffError")<{
  readonly detail: string
}> {
  override get message(): string {
    return `handOff: ${this.detail}`
  }
}
