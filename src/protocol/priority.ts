/**
 * The `priority` request field of RFC 9218 (Extensible Prioritization Scheme
 * for HTTP): an RFC 8941 Structured Fields Dictionary whose `u` (urgency)
 * and `i` (incremental) members say how a response should be scheduled.
 * Pure; no node: imports.
 *
 * @since 0.1.0
 */

/**
 * A response's priority (RFC 9218 §4): `urgency` an integer 0 (highest) to 7
 * (lowest), default 3 (§4.1); `incremental` whether the response can be
 * used as it arrives and so may share bandwidth with others of its urgency,
 * default false (§4.2).
 *
 * @since 0.1.0
 * @category models
 */
export interface Priority {
  readonly urgency: number
  readonly incremental: boolean
}

// Every possible Priority, frozen: parsing never allocates a result.
const TABLE: ReadonlyArray<Priority> = Array.from({ length: 16 }, (_, n) => Object.freeze({ urgency: n >> 1, incremental: (n & 1) === 1 }))

/**
 * The priority of a request that says nothing: `{ urgency: 3, incremental:
 * false }` (RFC 9218 §4.1, §4.2), frozen.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultPriority: Priority = TABLE[3 * 2]!

/** Internal: a parse failure. */
const FAIL: unique symbol = Symbol("fail")

/** What the parser keeps of a member value: an integer, a boolean, or anything else. */
type Bare = number | boolean | "other"

/** A hand-written RFC 8941 §4.2 parser for just what RFC 9218 needs. */
class Parser {
  pos = 0
  readonly s: string
  constructor(s: string) {
    this.s = s
  }

  /** §4.2.3.3 key = ( lcalpha / "*" ) *( lcalpha / DIGIT / "_" / "-" / "." / "*" ) */
  key(): string | typeof FAIL {
    const s = this.s, start = this.pos
    const c = s.charCodeAt(start)
    if (!((c >= 97 && c <= 122) || c === 42)) return FAIL
    let i = start + 1
    for (; i < s.length; i++) {
      const d = s.charCodeAt(i)
      if (!((d >= 97 && d <= 122) || (d >= 48 && d <= 57) || d === 95 || d === 45 || d === 46 || d === 42)) break
    }
    this.pos = i
    return s.slice(start, i)
  }

  /** §4.2.3.2 parameters: `;` SP* key [ "=" bare-item ], values discarded. */
  parameters(): true | typeof FAIL {
    const s = this.s
    while (s[this.pos] === ";") {
      this.pos++
      while (s[this.pos] === " ") this.pos++
      if (this.key() === FAIL) return FAIL
      if (s[this.pos] === "=") {
        this.pos++
        if (this.bareItem() === FAIL) return FAIL
      }
    }
    return true
  }

  /** §4.2.3.1 bare item; RFC 9651 dates and display strings are accepted too. */
  bareItem(): Bare | typeof FAIL {
    const s = this.s
    const c = s[this.pos]
    if (c === undefined) return FAIL
    if (c === "-" || (c >= "0" && c <= "9")) return this.number()
    if (c === "\"") return this.string()
    if (c === "?") {
      const b = s[this.pos + 1]
      if (b !== "0" && b !== "1") return FAIL
      this.pos += 2
      return b === "1"
    }
    if (c === ":") {
      // §4.2.7 byte sequence: ":" base64 ":"
      const end = s.indexOf(":", this.pos + 1)
      if (end < 0 || !/^[A-Za-z0-9+/=]*$/.test(s.slice(this.pos + 1, end))) return FAIL
      this.pos = end + 1
      return "other"
    }
    if (c === "@") {
      // RFC 9651 §4.2.9 date: "@" integer
      this.pos++
      return this.number() === FAIL ? FAIL : "other"
    }
    if (c === "%") return this.displayString()
    if (c === "*" || (c >= "A" && c <= "Z") || (c >= "a" && c <= "z")) {
      // §4.2.6 token: ( ALPHA / "*" ) *( tchar / ":" / "/" )
      const m = /^[!#$%&'*+\-.^_`|~0-9A-Za-z:/]*/.exec(s.slice(this.pos + 1))!
      this.pos += 1 + m[0].length
      return "other"
    }
    return FAIL
  }

  /** §4.2.4 integer or decimal; a decimal is "other" (not an Integer). */
  number(): Bare | typeof FAIL {
    const m = /^(-?)(\d+)(?:\.(\d*))?/.exec(this.s.slice(this.pos))
    if (m === null) return FAIL
    const int = m[2]!, frac = m[3]
    if (frac === undefined) {
      if (int.length > 15) return FAIL
      this.pos += m[0].length
      return Number(int) * (m[1] === "-" ? -1 : 1) + 0
    }
    if (int.length > 12 || frac.length < 1 || frac.length > 3) return FAIL
    this.pos += m[0].length
    return "other"
  }

  /** §4.2.5 string: DQUOTE *( unescaped / "\" ( DQUOTE / "\" ) ) DQUOTE, chars 0x20–0x7E. */
  string(): Bare | typeof FAIL {
    const s = this.s
    for (let i = this.pos + 1; i < s.length; i++) {
      const c = s.charCodeAt(i)
      if (c === 0x5c) {
        const n = s[++i]
        if (n !== "\"" && n !== "\\") return FAIL
      } else if (c === 0x22) {
        this.pos = i + 1
        return "other"
      } else if (c < 0x20 || c > 0x7e) return FAIL
    }
    return FAIL
  }

  /** RFC 9651 §4.2.10 display string: "%" DQUOTE *( unescaped / "%" 2lc-hex ) DQUOTE. */
  displayString(): Bare | typeof FAIL {
    const s = this.s
    if (s[this.pos + 1] !== "\"") return FAIL
    for (let i = this.pos + 2; i < s.length; i++) {
      const c = s.charCodeAt(i)
      if (c === 0x25) {
        if (!/^[0-9a-f]{2}$/.test(s.slice(i + 1, i + 3))) return FAIL
        i += 2
      } else if (c === 0x22) {
        this.pos = i + 1
        return "other"
      } else if (c < 0x20 || c > 0x7e) return FAIL
    }
    return FAIL
  }

  /** §4.2.1.2 inner list: "(" *SP [ item *( 1*SP item ) *SP ] ")" parameters. */
  innerList(): Bare | typeof FAIL {
    const s = this.s
    this.pos++
    for (;;) {
      while (s[this.pos] === " ") this.pos++
      if (s[this.pos] === ")") {
        this.pos++
        return this.parameters() === FAIL ? FAIL : "other"
      }
      if (this.bareItem() === FAIL || this.parameters() === FAIL) return FAIL
      const c = s[this.pos]
      if (c !== " " && c !== ")") return FAIL
    }
  }

  /** §4.2.2 dictionary; calls `member` for each key and value in order. */
  dictionary(member: (key: string, value: Bare) => void): true | typeof FAIL {
    const s = this.s
    while (s[this.pos] === " ") this.pos++
    if (this.pos === s.length) return true
    for (;;) {
      const key = this.key()
      if (key === FAIL) return FAIL
      let value: Bare | typeof FAIL = true
      if (s[this.pos] === "=") {
        this.pos++
        if (s[this.pos] === "(") value = this.innerList()
        else {
          value = this.bareItem()
          if (value !== FAIL && this.parameters() === FAIL) return FAIL
        }
      } else if (this.parameters() === FAIL) return FAIL
      if (value === FAIL) return FAIL
      member(key, value)
      while (s[this.pos] === " " || s[this.pos] === "\t") this.pos++
      if (this.pos === s.length) return true
      if (s[this.pos] !== ",") return FAIL
      this.pos++
      while (s[this.pos] === " " || s[this.pos] === "\t") this.pos++
      if (this.pos === s.length) return FAIL // trailing comma
    }
  }
}

/**
 * Parses a `priority` field value (RFC 9218 §5): several fields are joined
 * by the caller with ", " first (RFC 9110 §5.3). The value is an RFC 8941
 * Dictionary (§4.2.2: a later member of the same key replaces an earlier
 * one). `u` counts when it is an Integer 0–7, `i` when it is a Boolean (a
 * bare `i` is true); a member of the wrong type or out of range, and any
 * unknown member, is ignored (RFC 9218 §4), leaving the default. A value that
 * does not parse as a Dictionary is ignored whole (RFC 8941 §4.2):
 * `defaultPriority`. Returns a frozen, shared object; `defaultPriority`
 * itself when `value` is undefined or empty.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parsePriority = (value: string | undefined): Priority => {
  if (value === undefined || value === "") return defaultPriority
  let u: Bare = 3
  let i: Bare = false
  const parser = new Parser(value)
  const ok = parser.dictionary((key, v) => {
    if (key === "u") u = v
    else if (key === "i") i = v
  })
  if (ok === FAIL) return defaultPriority
  // Trailing SP is allowed (§4.2); dictionary() stopped only at the end.
  const urgency = typeof u === "number" && u >= 0 && u <= 7 ? u : 3
  const incremental = typeof i === "boolean" ? i : false
  return TABLE[urgency * 2 + (incremental ? 1 : 0)]!
}
