/**
 * `egi serve --interface auto|egi|fetch|effect` (spec.md §8.5, §12): what
 * kind of app a module's export is — an EGI app, a fetch handler, an Effect
 * `HttpApp`, or a Layer of HttpRouter routes (an HttpRouter or HttpApi app) —
 * told by its shape without calling it, as uvicorn's `--interface` does.
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

/** The `--interface` values. */
export type Interface = "auto" | "egi" | "fetch" | "effect"

/** What an export is: how the CLI serves it. */
export type Shape =
  | { readonly kind: "egi" }
  | { readonly kind: "fetch" }
  | { readonly kind: "http-app" }
  | { readonly kind: "router-layer" }

/** An export the CLI cannot serve as asked: `reason` completes "export "x" of mod.ts …". */
export interface Refusal {
  readonly refused: string
}

const APP_SHAPE = "an EGI app is a function (scope, receive, send) returning an Effect (spec.md §3.3)"

/** "a number", "an object", "null" … */
export const kindOf = (value: unknown): string =>
  value === null ? "null" : /^[aeiou]/.test(typeof value) ? `an ${typeof value}` : `a ${typeof value}`

const hasFetch = (value: unknown): boolean =>
  typeof value === "object" && value !== null && typeof (value as { fetch?: unknown }).fetch === "function"

const functionKind = (value: Function): string | undefined => (value as { constructor?: { name?: string } }).constructor?.name

/** How a function's shape reads: an EGI app's three parameters, a fetch handler's one, async (a Promise). */
const functionShape = (candidate: Function): "egi" | "fetch" | "generator" | "ambiguous" => {
  const kind = functionKind(candidate)
  if (kind === "AsyncFunction" || kind === "AsyncGeneratorFunction") return "fetch"
  if (kind === "GeneratorFunction") return "generator"
  if (candidate.length === 3) return "egi"
  if (candidate.length === 1) return "fetch"
  return "ambiguous"
}

/**
 * The shape `candidate` has under `--interface wanted`, or why it cannot be
 * served so (rule RUN-11: told without calling it). With `auto`: a Layer is
 * HttpRouter routes, an Effect an `HttpApp`, an object with a `fetch`
 * method or an async or one-parameter function a fetch handler, a
 * three-parameter function an EGI app; a function of another arity is
 * ambiguous and refused, naming the flag.
 */
export const shapeOf = (candidate: unknown, wanted: Interface): Shape | Refusal => {
  switch (wanted) {
    case "effect":
      if (Layer.isLayer(candidate)) return { kind: "router-layer" }
      if (Effect.isEffect(candidate)) return { kind: "http-app" }
      return { refused: `is ${kindOf(candidate)}, not an Effect HttpApp or a Layer of HttpRouter routes (--interface effect)` }
    case "fetch":
      if (hasFetch(candidate) || typeof candidate === "function") return { kind: "fetch" }
      return { refused: `is ${kindOf(candidate)}, not a fetch handler: a function (request) => Response or an object with a fetch method (--interface fetch)` }
    case "egi":
      return egiRefusal(candidate) ?? { kind: "egi" }
    case "auto": {
      if (Layer.isLayer(candidate)) return { kind: "router-layer" }
      if (Effect.isEffect(candidate)) return { kind: "http-app" }
      if (hasFetch(candidate)) return { kind: "fetch" }
      if (typeof candidate !== "function") return { refused: `is ${kindOf(candidate)}, not an app (${APP_SHAPE}; see --interface)` }
      const shape = functionShape(candidate)
      if (shape === "generator") return egiRefusal(candidate)!
      if (shape === "ambiguous") {
        return {
          refused: `takes ${candidate.length} parameters: neither an EGI app's (scope, receive, send) nor a fetch handler's (request); say which with --interface egi or --interface fetch${candidate.length === 0 ? ", or --factory if it returns the app" : ""}`
        }
      }
      return { kind: shape }
    }
  }
}

/** Why `candidate` cannot be an EGI app, when that shows without calling it (RUN-11); undefined otherwise. */
const egiRefusal = (candidate: unknown): Refusal | undefined => {
  if (typeof candidate !== "function") {
    return hasFetch(candidate)
      ? { refused: `is an object with a fetch method, not an EGI app (serve it with --interface fetch; ${APP_SHAPE})` }
      : { refused: `is ${kindOf(candidate)}, not an app (${APP_SHAPE})` }
  }
  const kind = functionKind(candidate)
  if (kind === "AsyncFunction" || kind === "AsyncGeneratorFunction") {
    return { refused: `is an async function: it returns a Promise, not an Effect (a fetch handler? --interface fetch; ${APP_SHAPE})` }
  }
  if (kind === "GeneratorFunction") {
    return { refused: `is a generator function: it returns an iterator, not an Effect (wrap it in Effect.fn; ${APP_SHAPE})` }
  }
  if (candidate.length === 1) {
    return { refused: `takes 1 parameter, like a fetch handler's (request) (--interface fetch): ${APP_SHAPE}` }
  }
  return undefined
}

/** How the start-up line names a shape. */
export const describeShape: Record<Shape["kind"], string> = {
  egi: "an EGI app",
  fetch: "a fetch handler",
  "http-app": "an Effect HttpApp",
  "router-layer": "HttpRouter routes (a Layer)"
}
