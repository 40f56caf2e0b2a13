/**
 * `http.priority` (spec.md §7.7, RFC 9218): the request's priority, and the
 * priority in force as PRIORITY_UPDATE frames (RFC 9218 §7.1) change it
 * (rule HTTP-33). The Node runner cannot see those frames (node:http2 drops
 * them; spec.md §7.7, docs/node-priority-update.md), so its views are fixed:
 * the default one is shared by every stream that says nothing. A server that
 * sees the frames makes a live view per stream (`priorityOf(headers, true)`)
 * and feeds it with `updatePriority`.
 */
import * as Effect from "effect/Effect"
import { EXTENSION_VERSION, type PriorityExtension } from "../protocol/extensions.ts"
import type { Headers } from "../protocol/headers.ts"
import { defaultPriority, parsePriority, type Priority } from "../protocol/priority.ts"

const same = (a: Priority, b: Priority): boolean => a.urgency === b.urgency && a.incremental === b.incremental

/** Set by PriorityView's static block: `updatePriority` without a public method an app could call. */
let apply: (view: PriorityView, fieldValue: string) => boolean

/**
 * The `http.priority` value. `urgency` and `incremental` are the request
 * head's `priority` field (HTTP-27) and never change; `current` and
 * `changed` follow PRIORITY_UPDATE frames when the view is live. The state
 * is in private fields: an app reads it only through the Effects (CORE-8).
 */
export class PriorityView implements PriorityExtension {
  readonly version = EXTENSION_VERSION
  readonly urgency: number
  readonly incremental: boolean
  /** The priority in force: the head's, or the last update's (frozen, shared objects of parsePriority). */
  #current: Priority
  readonly #live: boolean
  /** Resumers of pending `changed`, created by the first one that waits. */
  #waiters: Set<(p: Priority) => void> | undefined = undefined

  constructor(head: Priority, live: boolean) {
    this.urgency = head.urgency
    this.incremental = head.incremental
    this.#current = head
    this.#live = live
  }

  get current(): Effect.Effect<Priority> {
    return Effect.sync(() => this.#current)
  }

  changed(from: Priority): Effect.Effect<Priority> {
    return Effect.suspend(() => {
      if (!same(this.#current, from)) return Effect.succeed(this.#current)
      if (!this.#live) return Effect.never
      return Effect.callback<Priority>((resume) => {
        const wake = (p: Priority): void => resume(Effect.succeed(p))
        const waiters = (this.#waiters ??= new Set())
        waiters.add(wake)
        return Effect.sync(() => void waiters.delete(wake))
      })
    })
  }

  static {
    apply = (view, fieldValue) => {
      if (!view.#live) return false
      const next = parsePriority(fieldValue)
      if (same(next, view.#current)) return true
      view.#current = next
      const waiters = view.#waiters
      view.#waiters = undefined
      if (waiters !== undefined) for (const wake of waiters) wake(next)
      return true
    }
  }
}

/**
 * A PRIORITY_UPDATE frame (RFC 9218 §7.1) arrived for the stream of `view`
 * with `fieldValue` (its Priority Field Value, ASCII): the value, parsed as
 * a `priority` field (spec.md §7.7, HTTP-27; absent members take their
 * defaults), replaces the priority in force, and every pending `changed`
 * whose `from` differs from it completes with it (rule HTTP-33). A frame
 * that arrived before the stream's HEADERS is applied the same way, before
 * the app is called. False when the view is not live (a fixed view, such
 * as the Node runner's) and nothing changed.
 */
export const updatePriority = (view: PriorityView, fieldValue: string): boolean => apply(view, fieldValue)

const fixedDefault = new PriorityView(defaultPriority, false)

/**
 * `http.priority` from the request's `priority` fields (RFC 9218 §5; several
 * are joined with ", "). A fixed view unless `live`; the fixed default view
 * is shared.
 */
export const priorityOf = (headers: Headers, live = false): PriorityView => {
  let value: string | undefined
  for (let i = 0; i < headers.length; i++) {
    const h = headers[i]!
    if (h[0] === "priority") value = value === undefined ? h[1] : `${value}, ${h[1]}`
  }
  const head = value === undefined ? defaultPriority : parsePriority(value)
  return live ? new PriorityView(head, true) : head === defaultPriority ? fixedDefault : new PriorityView(head, false)
}
