/**
 * Effect's `HttpPlatform` for EGI (spec.md §12.1): Node's, except that a
 * file response (`HttpServerResponse.file`, `HttpStaticServer`) is marked
 * so that the adapter sends it as a file body (spec.md §7.9) where the
 * stream lists one, and streams it otherwise.
 *
 * @since 0.5.0
 */
import * as NodeHttpPlatform from "@effect/platform-node/NodeHttpPlatform"
import * as ByteSize from "effect/ByteSize"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as HttpPlatform from "effect/http/HttpPlatform"
import * as path from "node:path"

/**
 * The file a response body stands for: `path` (absolute), and the byte
 * range asked for — `offset` (bytes from the start, `undefined` for 0) and
 * `bytesToRead` (`undefined` for to the end); the planned length is the
 * response's `content-length`.
 *
 * @since 0.5.0
 * @category models
 */
export interface FileBody {
  readonly path: string
  readonly offset: number | undefined
  readonly bytesToRead: number | undefined
}

const fileBodies = new WeakMap<object, FileBody>()

/**
 * The file a `Raw` response body was made for by this platform's
 * `fileResponse`, or `undefined` (any other body, including a file body a
 * middleware replaced, e.g. by compressing it).
 *
 * @since 0.5.0
 * @category accessors
 */
export const fileBodyOf = (body: unknown): FileBody | undefined =>
  typeof body === "object" && body !== null ? fileBodies.get(body) : undefined

const bytes = (input: ByteSize.Input | undefined): number | undefined => {
  if (input === undefined) return undefined
  const size = ByteSize.fromInput(input)
  return Option.isSome(size) ? Number(size.value) : undefined
}

/**
 * The `HttpPlatform` service of EGI: Node's (`NodeHttpPlatform`: stat,
 * `etag`, `last-modified`, `content-type`, `content-length`, compression),
 * whose `fileResponse` also records the file (`fileBodyOf`), so that the
 * adapter sends `http.response.pathsend` for a whole file and
 * `http.response.zerocopysend` for a range (spec.md §7.9) on streams that
 * list them, and reads the file through Node's stream on others. Requires
 * what Node's does: `FileSystem` and `Etag.Generator`.
 *
 * @since 0.5.0
 * @category layers
 */
export const layer: Layer.Layer<HttpPlatform.HttpPlatform, never, never> = Layer.effect(HttpPlatform.HttpPlatform)(
  Effect.gen(function*() {
    const node = yield* HttpPlatform.HttpPlatform
    return HttpPlatform.HttpPlatform.of({
      ...node,
      fileResponse: (file, options) =>
        Effect.map(node.fileResponse(file, options), (response) => {
          if (response.body._tag === "Raw" && typeof response.body.body === "object" && response.body.body !== null) {
            fileBodies.set(response.body.body, {
              path: path.resolve(file),
              offset: bytes(options?.offset),
              bytesToRead: bytes(options?.bytesToRead)
            })
          }
          return response
        })
    })
  })
).pipe(Layer.provide(NodeHttpPlatform.layer))
