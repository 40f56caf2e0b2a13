/**
 * Behind a proxy (spec.md §8.12): the scope's `client`, `scheme` and
 * `authority` from the `Forwarded` field (RFC 7239) or the
 * `X-Forwarded-For` / `-Proto` / `-Host` fields, only when the connection
 * comes from a trusted proxy.
 */
import { BlockList, isIP } from "node:net"
import type { Headers } from "../protocol/headers.ts"

/**
 * Which peers may speak for their clients: `trusts(address)` for an IPv4 or
 * IPv6 address (an IPv4-mapped IPv6 address counts as its IPv4 one).
 */
export interface ForwardedTrust {
  readonly trusts: (address: string) => boolean
  /** Whether a peer on a Unix domain socket (no address: a local proxy such as nginx) is trusted. */
  readonly trustsUnix: boolean
}

/** `::ffff:192.0.2.1` → `192.0.2.1`; other addresses as they are. */
const unmapped = (address: string): string => address.startsWith("::ffff:") && isIP(address.slice(7)) === 4 ? address.slice(7) : address

/**
 * The trust of `allow`: `"*"` trusts every peer; `"unix"` a peer on a Unix
 * domain socket; otherwise each entry is an IPv4 or IPv6 address or a CIDR
 * block (`10.0.0.0/8`, `fd00::/8`). Returns an error message naming the
 * first entry that is none of these.
 */
export const forwardedTrust = (allow: ReadonlyArray<string>): ForwardedTrust | string => {
  if (allow.includes("*")) return { trusts: () => true, trustsUnix: true }
  const list = new BlockList()
  let trustsUnix = false
  for (const entry of allow) {
    if (entry.trim() === "unix") {
      trustsUnix = true
      continue
    }
    const [address, bits, extra] = entry.trim().split("/")
    const family = isIP(address ?? "")
    const prefix = bits === undefined ? undefined : Number(bits)
    if (family === 0 || extra !== undefined || (prefix !== undefined && !(Number.isInteger(prefix) && prefix >= 0 && prefix <= (family === 4 ? 32 : 128)))) {
      return `${JSON.stringify(entry)} is no IP address or CIDR block`
    }
    const type = family === 4 ? "ipv4" : "ipv6"
    if (prefix === undefined) list.addAddress(address!, type)
    else list.addSubnet(address!, prefix, type)
  }
  return {
    trustsUnix,
    trusts: (address) => {
      const a = unmapped(address)
      const family = isIP(a)
      return family !== 0 && list.check(a, family === 4 ? "ipv4" : "ipv6")
    }
  }
}

/** What the proxy fields say about the client's request; absent parts leave the scope's own. */
export interface ForwardedView {
  /** The client: an address and port (0 when not given), or null when the proxy says `unknown` or gives no address. */
  readonly client?: readonly [string, number] | null
  readonly scheme?: "http" | "https"
  readonly authority?: string
}

/** The values of every field named `name`, comma-separated lists flattened, trimmed, empty ones dropped. */
const listOf = (headers: Headers, name: string): Array<string> => {
  const out: Array<string> = []
  for (const [n, v] of headers) {
    if (n !== name) continue
    for (const part of v.split(",")) {
      const p = part.trim()
      if (p !== "") out.push(p)
    }
  }
  return out
}

/** One `Forwarded` element's parameters (RFC 7239 §4): `for`, `proto`, `host`, lower-cased names, quotes removed. */
const forwardedElements = (headers: Headers): Array<Map<string, string>> => {
  const elements: Array<Map<string, string>> = []
  for (const [n, v] of headers) {
    if (n !== "forwarded") continue
    // Quoted strings may hold commas and semicolons (an IPv6 node with a port does not, but be exact).
    for (const element of splitOutsideQuotes(v, ",")) {
      const params = new Map<string, string>()
      for (const pair of splitOutsideQuotes(element, ";")) {
        const eq = pair.indexOf("=")
        if (eq <= 0) continue
        let value = pair.slice(eq + 1).trim()
        if (value.startsWith("\"") && value.endsWith("\"") && value.length >= 2) value = value.slice(1, -1).replace(/\\(.)/g, "$1")
        params.set(pair.slice(0, eq).trim().toLowerCase(), value)
      }
      if (params.size > 0) elements.push(params)
    }
  }
  return elements
}

const splitOutsideQuotes = (text: string, separator: string): Array<string> => {
  const parts: Array<string> = []
  let quoted = false
  let start = 0
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (c === "\\" && quoted) i++
    else if (c === "\"") quoted = !quoted
    else if (c === separator && !quoted) {
      parts.push(text.slice(start, i))
      start = i + 1
    }
  }
  parts.push(text.slice(start))
  return parts.map((p) => p.trim()).filter((p) => p !== "")
}

/**
 * A node (RFC 7239 §6) or an X-Forwarded-For entry as an address and
 * port: `192.0.2.1`, `192.0.2.1:80`, `[2001:db8::1]`, `[2001:db8::1]:80`,
 * `2001:db8::1`. Undefined for `unknown`, an obfuscated node, or anything
 * that is no IP address.
 */
export const nodeAddress = (node: string): readonly [string, number] | undefined => {
  let host = node
  let port = 0
  const bracket = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(node)
  if (bracket !== null) {
    host = bracket[1]!
    port = bracket[2] === undefined ? 0 : Number(bracket[2])
  } else if (isIP(node) === 0) {
    const v4 = /^([\d.]+):(\d{1,5})$/.exec(node)
    if (v4 === null) return undefined
    host = v4[1]!
    port = Number(v4[2])
  }
  return isIP(host) !== 0 && port <= 65535 ? [unmapped(host), port] : undefined
}

const schemeOf = (proto: string | undefined): "http" | "https" | undefined => {
  const p = proto?.toLowerCase()
  return p === "http" || p === "https" ? p : undefined
}

/** A host as an authority may be: `host` or `host:port`, no userinfo, parseable. */
const authorityOf = (host: string | undefined): string | undefined =>
  host !== undefined && host !== "" && !host.includes("@") && !host.includes("/") && URL.canParse(`http://${host}/`) ? host : undefined

/**
 * The index of the hop that is the client, walking from the nearest proxy:
 * the first whose address the server does not trust; the first hop when it
 * trusts them all.
 */
const clientHop = (addresses: ReadonlyArray<readonly [string, number] | undefined>, trust: ForwardedTrust): number => {
  for (let i = addresses.length - 1; i >= 0; i--) {
    const a = addresses[i]
    if (a === undefined || !trust.trusts(a[0])) return i
  }
  return 0
}

/**
 * What a request's proxy fields say (spec.md §8.12), when `peer` — the
 * connection's remote address, null on a Unix domain socket — is trusted; undefined when it is not, or
 * when the request has no such field. `Forwarded` (RFC 7239) wins over the
 * `X-Forwarded-*` fields when both are present. Hops are read from the
 * nearest proxy back: the client is the first hop the server does not
 * trust (the first hop when all are trusted); its `proto` and `host` (or,
 * with `X-Forwarded-*`, the entry of `X-Forwarded-Proto` / `-Host` at the
 * same position, or the last one when the lists differ in length) give the
 * scheme and authority. A client that is `unknown`, obfuscated or no IP
 * address is null; a proto other than http/https and a host that is no
 * authority are ignored.
 */
export const forwardedView = (headers: Headers, peer: string | null, trust: ForwardedTrust): ForwardedView | undefined => {
  if (peer === null ? !trust.trustsUnix : !trust.trusts(peer)) return undefined
  const elements = forwardedElements(headers)
  if (elements.length > 0) {
    const addresses = elements.map((e) => (e.has("for") ? nodeAddress(e.get("for")!) : undefined))
    const i = clientHop(addresses, trust)
    const hop = elements[i]!
    const scheme = schemeOf(hop.get("proto"))
    const authority = authorityOf(hop.get("host"))
    return {
      ...(hop.has("for") ? { client: addresses[i] ?? null } : {}),
      ...(scheme === undefined ? {} : { scheme }),
      ...(authority === undefined ? {} : { authority })
    }
  }
  const forwardedFor = listOf(headers, "x-forwarded-for")
  const protos = listOf(headers, "x-forwarded-proto")
  const hosts = listOf(headers, "x-forwarded-host")
  if (forwardedFor.length === 0 && protos.length === 0 && hosts.length === 0) return undefined
  const addresses = forwardedFor.map(nodeAddress)
  const i = forwardedFor.length === 0 ? 0 : clientHop(addresses, trust)
  const at = (list: ReadonlyArray<string>): string | undefined => list.length === forwardedFor.length ? list[i] : list[list.length - 1]
  const scheme = schemeOf(at(protos))
  const authority = authorityOf(at(hosts))
  return {
    ...(forwardedFor.length === 0 ? {} : { client: addresses[i] ?? null }),
    ...(scheme === undefined ? {} : { scheme }),
    ...(authority === undefined ? {} : { authority })
  }
}
