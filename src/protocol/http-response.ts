/**
 * The send side of an `http` stream without I/O (spec.md §4.5–§4.7, §7):
 * every rule an event the app sends must keep — its order (table 1, via
 * `State.nextResponseState`), the correlator (CORE-3), the extension it
 * needs (CORE-7), its fields, status and codes (`fields.ts`), and the
 * body's length against the declared `content-length` (HTTP-17) — checked
 * in one order. The Node runner, `validate(app)` and the in-memory client
 * each hold one `ResponseSide` per stream and ask it before doing anything,
 * so they cannot disagree.
 *
 * `check(event)` says whether the event may be sent now and moves nothing;
 * `accept(event)` moves the state once the server took it.
 *
 * @since 0.4.0
 */
import { LocalProtocolError } from "./errors.ts"
import type { OutboundEvent } from "./events.ts"
import { checkErrorCode, checkFields, checkHead, checkLinks, checkNames, checkPushPath, checkStatus } from "./fields.ts"
import { checkPreload } from "./preload.ts"
import { checkCorrelator, type HttpScope } from "./scope.ts"
import { nextResponseState, type ResponseInput, type ResponseState } from "./state.ts"

/** A final status whose response carries no content (RFC 9110 §6.4.1). */
const noContent = (status: number): boolean => status === 204 || status === 304

const TRAILERS = "http.response.trailers"

/**
 * The send-side state of one `http` stream, and the checks of what the app
 * sends on it.
 *
 * @since 0.4.0
 * @category models
 */
export class ResponseSide {
  /** Table 1's state (spec.md §4.7). */
  state: ResponseState = "start"
  /** The start announced trailers (`trailers: true`, §7.3). */
  announced = false
  /** The `content-length` the start declared, in bytes; -1 when none. */
  declared = -1
  /** The response carries no content (HEAD, 204, 304): its body events are accepted and not sent (RFC 9110 §6.4.1). */
  bodyless = false
  /** Body bytes the app sent since the start. */
  sent = 0
  /** `declared` of the start last checked, for `accept`. */
  private checkedDeclared = -1
  private readonly scope: HttpScope

  constructor(scope: HttpScope) {
    this.scope = scope
  }

  /** CORE-7: `type`'s extension is not in the scope. */
  private unlisted(type: string): LocalProtocolError | undefined {
    return (this.scope.extensions as Readonly<Record<string, unknown>>)[type] === undefined
      ? new LocalProtocolError({ rule: "CORE-7", detail: `${type} sent but the scope does not list the ${type} extension` })
      : undefined
  }

  private next(input: ResponseInput): LocalProtocolError | undefined {
    const next = nextResponseState(this.state, input, this.announced)
    return typeof next === "string" ? undefined : next
  }

  /**
   * The error `event` is in the current state — the first rule it breaks,
   * in the order spec.md §4.6 gives (HTTP-34) — or `undefined` when a server may take
   * it. Moves nothing.
   */
  check(event: OutboundEvent): LocalProtocolError | undefined {
    const foreign = checkCorrelator(event, this.scope)
    if (foreign !== undefined) return foreign
    switch (event.type) {
      case "http.response.start": {
        const bad = this.next("start") ?? checkStatus(event.status)
        if (bad !== undefined) return bad
        const declared = checkHead(event.headers)
        if (typeof declared !== "number") return declared
        if (declared >= 0 && event.status === 204) {
          return new LocalProtocolError({ rule: "HTTP-17", detail: "content-length on a 204 response (RFC 9110 §8.6 forbids it)" })
        }
        this.checkedDeclared = declared
        return (event.trailers === true ? this.unlisted(TRAILERS) : undefined) ?? checkNames(event.neverIndex)
      }
      case "http.response.body": {
        const more = event.moreBody === true
        const bad = this.next(more ? "more" : "last")
        if (bad !== undefined) return bad
        // HEAD, 204 and 304 declare a length and send no body.
        if (this.declared >= 0 && !this.bodyless) {
          const total = this.sent + (event.body?.length ?? 0)
          if (total > this.declared || (!more && total !== this.declared)) {
            return new LocalProtocolError({ rule: "HTTP-17", detail: `body of ${more ? "at least " : ""}${total} bytes, content-length ${this.declared}` })
          }
        }
        return undefined
      }
      case "http.response.trailers":
        return this.unlisted(event.type) ?? this.next("trailers") ?? checkFields(event.headers, "trailers") ?? checkNames(event.neverIndex)
      case "http.response.push":
        return this.unlisted(event.type) ?? this.next("push") ?? checkPushPath(event.path) ?? preloadError(event.as, event.linkParams) ??
          checkFields(event.headers, "push headers")
      case "http.response.early_hint":
        return this.unlisted(event.type) ?? this.next("hint") ?? checkLinks(event.links)
      case "http.response.reset":
        return this.unlisted(event.type) ?? this.next("reset") ?? checkErrorCode(event.errorCode)
      case "http.goaway":
        return this.unlisted(event.type) ?? this.next("goaway")
      case "http.response.pathsend":
      case "http.response.zerocopysend": {
        const bad = this.unlisted(event.type) ?? this.next("file")
        if (bad !== undefined) return bad
        if (event.type === "http.response.pathsend" && (typeof event.path !== "string" || !event.path.startsWith("/"))) {
          return new LocalProtocolError({ rule: "HTTP-21", detail: `pathsend path ${JSON.stringify(event.path)} is not absolute` })
        }
        return undefined
      }
      default:
        return new LocalProtocolError({ rule: "CORE-6", detail: `event type ${String((event as { type: unknown }).type)} is not valid in an http scope` })
    }
  }

  /**
   * Moves the state for `event`, which `check` accepted and the server
   * took: the next state of table 1, and for a start what it declared.
   */
  accept(event: OutboundEvent): void {
    switch (event.type) {
      case "http.response.start":
        this.state = "head"
        this.announced = event.trailers === true
        this.declared = this.checkedDeclared
        this.bodyless = noContent(event.status) || this.scope.method === "HEAD"
        this.sent = 0
        return
      case "http.response.body":
        this.sent += event.body?.length ?? 0
        this.move(event.moreBody === true ? "more" : "last")
        return
      case "http.response.trailers":
        return this.move("trailers")
      case "http.response.push":
        return this.move("push")
      case "http.response.early_hint":
        return this.move("hint")
      case "http.response.reset":
        return this.move("reset")
      case "http.response.pathsend":
      case "http.response.zerocopysend":
        return this.move("file")
      default:
        // http.goaway changes no state.
        return
    }
  }

  private move(input: ResponseInput): void {
    const next = nextResponseState(this.state, input, this.announced)
    if (typeof next === "string") this.state = next
  }
}

const preloadError = (as: unknown, linkParams: unknown): LocalProtocolError | undefined => {
  const bad = checkPreload(as, linkParams)
  return bad === undefined ? undefined : new LocalProtocolError({ rule: "HTTP-20", detail: bad })
}

