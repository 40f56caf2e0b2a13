/**
 * The peer benchmark's figures (docs/bench-peers.json: the chart is redrawn
 * from them) and their text table.
 */
import type { Kind, Protocol, Skipped } from "./servers.ts"

/** One server on one protocol: medians over the rounds, and every round's figures. */
export interface Row {
  readonly server: string
  readonly protocol: Protocol
  readonly kind: Kind
  readonly implementation: string
  /** Median requests per second. */
  readonly rps: number
  /** `rps` divided by the raw Node server's `rps` on the same protocol. */
  readonly ratio: number
  /** Median server CPU time (user + system, the process and its children) per request, in µs. */
  readonly cpuMicrosPerRequest: number
  /** VmRSS in bytes once started, before any request. */
  readonly rssIdleBytes: number
  /** VmHWM (peak resident memory) in bytes after the last round. */
  readonly rssPeakBytes: number
  /** VmRSS in bytes after the last round. */
  readonly rssAfterBytes: number
  /** Each round's requests/s and CPU µs per request, in round order. */
  readonly rounds: { readonly rps: ReadonlyArray<number>; readonly cpuMicrosPerRequest: ReadonlyArray<number> }
}

/** A whole run: where and how it was measured, one row per server and protocol, and what was skipped. */
export interface Report {
  readonly format: "egi-bench-peers/1"
  /** ISO 8601 time the run ended. */
  readonly date: string
  readonly machine: { readonly cpu: string; readonly cores: number; readonly os: string }
  readonly node: string
  readonly h2load: string
  readonly rounds: number
  /** Requests per h2load run (each server, each round). */
  readonly requests: number
  /** The h2load options per protocol, e.g. `-c 16 -m 16`. */
  readonly load: Readonly<Partial<Record<Protocol, string>>>
  readonly rows: ReadonlyArray<Row>
  readonly skipped: ReadonlyArray<Skipped>
}

/** Protocol labels for people. */
export const protocolLabel: Record<Protocol, string> = { h2c: "h2c (HTTP/2, cleartext)", h1: "HTTP/1.1 (keep-alive)" }

/** An integer with spaces between thousands: 92445 → `92 445`. */
export const thousands = (x: number): string => Math.round(x).toString().replace(/\B(?=(\d{3})+(?!\d))/g, " ")

/** µs with a precision that suits the size: 9.87, 15.9, 226. */
export const micros = (x: number): string => (x < 10 ? x.toFixed(2) : x < 100 ? x.toFixed(1) : x.toFixed(0))

/** Bytes as MiB, one decimal. */
export const mib = (bytes: number): string => (bytes / 1048576).toFixed(1)

/** The report as a plain-text table, one line per row, grouped by protocol. */
export const table = (report: Report): string => {
  const lines = [`same run, median of ${report.rounds} alternating rounds, ${report.requests} requests each; ${report.node}, ${report.h2load}`]
  for (const protocol of ["h2c", "h1"] as const) {
    const rows = report.rows.filter((r) => r.protocol === protocol)
    if (rows.length === 0) continue
    lines.push("", `${protocolLabel[protocol]}, h2load ${report.load[protocol] ?? ""}`)
    lines.push(`  ${"server".padEnd(36)} ${"req/s".padStart(8)}  ratio  CPU µs/req  RSS idle/peak MiB  rounds (req/s)`)
    for (const r of rows) {
      lines.push(
        `  ${r.server.padEnd(36)} ${thousands(r.rps).padStart(8)}  ${r.ratio.toFixed(3)}  ${micros(r.cpuMicrosPerRequest).padStart(10)}  ` +
          `${`${mib(r.rssIdleBytes)} / ${mib(r.rssPeakBytes)}`.padStart(17)}  [${r.rounds.rps.map((x) => x.toFixed(0)).join(", ")}]`
      )
    }
  }
  for (const s of report.skipped) lines.push(`skipped: ${s.name} (${s.protocol}): ${s.reason}`)
  return lines.join("\n") + "\n"
}
