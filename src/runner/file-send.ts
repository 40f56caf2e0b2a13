/**
 * Sending a file body's bytes (spec.md §7.9, HTTP-29): the pump that reads
 * an open file one positioned read at a time and writes it to the stream
 * under the stream's bound, so that the runner always knows whether a read
 * on the descriptor is under way — `send` completes only when none is.
 */
import * as Effect from "effect/Effect"
import { FileSendError, type SendError, type StreamClosedError } from "../protocol/errors.ts"
import type { OpenedFile } from "./file-open.ts"
import { readAt } from "./file-read.ts"

/** Bytes of a file body read at a time: node's own stream chunk. */
const FILE_CHUNK = 64 * 1024

/** The response side of a stream as the pump writes a file body to it. */
export interface FileSink {
  /** Writes a chunk; false when the stream's queue is over its bound and the pump must wait for `drained`. */
  readonly write: (chunk: Uint8Array) => boolean
  /** Writes the last chunk and ends the stream. */
  readonly end: (chunk: Uint8Array) => void
  /** Completes when the stream can take more, or fails when it closed. */
  readonly drained: () => Effect.Effect<void, StreamClosedError>
  /** The stream closed before the response was complete. */
  readonly gone: () => boolean
  readonly closedError: () => StreamClosedError
  /** Resets the stream after a failure mid-file. */
  readonly reset: () => void
}

/**
 * Sends bytes `start` to `end` of an open file as the body whose head is on
 * the wire: read a chunk, write it, wait while the stream's queue is over
 * its bound (HTTP-10), until the last chunk ends the stream. Only one read
 * is under way at a time, and the Effect completes only when none is
 * (HTTP-29). A file that ends early (`EOF`: it shrank while being sent) or
 * cannot be read resets the stream and fails with `FileSendError`; a stream
 * that closed fails with `StreamClosedError`.
 */
export const pumpFile = (sink: FileSink, file: OpenedFile, start: number, end: number): Effect.Effect<void, SendError> => {
  const name = file.name
  /** A file that cannot be completed after its head went out: reset, and fail (or StreamClosedError when the stream had closed anyway). */
  const fail = (error: FileSendError): Effect.Effect<never, SendError> => {
    if (sink.gone()) return Effect.fail(sink.closedError())
    sink.reset()
    return Effect.fail(error)
  }
  const step = (at: number): Effect.Effect<void, SendError> =>
    Effect.flatMap(
      Effect.catch(readAt(file.fd, name, at, Math.min(FILE_CHUNK, end - at)), fail),
      (chunk): Effect.Effect<void, SendError> => {
        if (sink.gone()) return Effect.fail(sink.closedError())
        if (chunk.length === 0) {
          const detail = `the file ended after ${at - start} of ${end - start} bytes: it shrank while being sent`
          return fail(new FileSendError({ file: name, code: "EOF", detail }))
        }
        const next = at + chunk.length
        if (next >= end) {
          sink.end(chunk)
          return Effect.void
        }
        if (sink.write(chunk)) return step(next)
        return Effect.flatMap(sink.drained(), () => step(next))
      }
    )
  return step(start)
}
