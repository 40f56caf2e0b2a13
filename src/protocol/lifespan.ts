/**
 * The send side of the `lifespan` scope without I/O (spec.md §6): a reply
 * must carry the scope's correlator (CORE-3), be a lifespan reply (CORE-6)
 * and be due (table 3, LIFE-2). The Node runner's lifespan and
 * `validate(app)` both ask it. The state starts at `startup` (the server
 * delivers `lifespan.startup` first) and moves to `shutdown` when the
 * server delivers `lifespan.shutdown`.
 *
 * @since 0.4.0
 */
import { LocalProtocolError } from "./errors.ts"
import type { OutboundEvent } from "./events.ts"
import { checkCorrelator, type LifespanScope } from "./scope.ts"
import { lifespanInputs, type LifespanState, nextLifespanState } from "./state.ts"

const replies: ReadonlySet<string> = new Set(lifespanInputs)

/**
 * The state of one `lifespan` scope, and the checks of the app's replies.
 *
 * @since 0.4.0
 * @category models
 */
export class LifespanSide {
  /** Table 3's state (spec.md §6.5). */
  state: LifespanState = "startup"
  private readonly scope: LifespanScope

  constructor(scope: LifespanScope) {
    this.scope = scope
  }

  /** The error `event` is now — CORE-3, CORE-6 or LIFE-2 — or `undefined` when it is the reply due. Moves nothing. */
  check(event: OutboundEvent): LocalProtocolError | undefined {
    const foreign = checkCorrelator(event, this.scope)
    if (foreign !== undefined) return foreign
    if (!replies.has(event.type)) {
      return new LocalProtocolError({ rule: "CORE-6", detail: `event type ${String(event.type)} is not valid in a lifespan scope` })
    }
    const next = nextLifespanState(this.state, event.type)
    return typeof next === "string" ? undefined : next
  }

  /** Moves the state for a reply `check` accepted. */
  accept(event: OutboundEvent): void {
    const next = nextLifespanState(this.state, event.type)
    if (typeof next === "string") this.state = next
  }

  /** The server delivers `lifespan.shutdown` (to a running app): a shutdown reply is due. */
  shutdown(): void {
    if (this.state === "running") this.state = "shutdown"
  }
}
