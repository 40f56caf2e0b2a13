/**
 * The peer benchmark's chart: a hand-written SVG of grouped horizontal bars,
 * one row per server and protocol — requests/s in one panel, server CPU per
 * request in the other, RSS as text — with EGI's rows highlighted.
 */
import { micros, mib, protocolLabel, type Report, type Row, thousands } from "./report.ts"

/** Bar colours by kind: EGI stands out, the raw Node reference is grey, the peers blue. */
export const colours = { egi: "#e4572e", raw: "#8c8c8c", peer: "#4c78a8" } as const

const width = 1100
const labelX = 16
const rpsX = 350
const rpsWidth = 330
const cpuX = 720
const cpuWidth = 240
const rssX = 1084
const rowHeight = 32
const barHeight = 16

const escape = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;")

/** `<text>` at (x, y) with attributes. */
const text = (x: number, y: number, content: string, attrs = ""): string =>
  `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}"${attrs === "" ? "" : ` ${attrs}`}>${escape(content)}</text>`

const dateOf = (iso: string): string => iso.slice(0, 10)

/**
 * The SVG (a complete document, about 1100 px wide) for `report`. Bars are
 * scaled to the largest value of their panel over both protocols (leaving
 * room for the printed value), so rows compare across protocols too.
 */
export const renderChart = (report: Report): string => {
  const maxRps = Math.max(1, ...report.rows.map((r) => r.rps))
  const maxCpu = Math.max(1, ...report.rows.map((r) => r.cpuMicrosPerRequest))
  const rpsScale = (rpsWidth * 0.78) / maxRps
  const cpuScale = (cpuWidth * 0.72) / maxCpu
  const body: Array<string> = []
  let y = 96
  body.push(
    text(rpsX, y, "requests/s", `class="head"`),
    text(rpsX, y + 14, "more is better; ratio to the raw Node server", `class="note"`),
    text(cpuX, y, "server CPU per request", `class="head"`),
    text(cpuX, y + 14, "µs, from /proc; less is better", `class="note"`),
    text(rssX, y, "RSS", `class="head" text-anchor="end"`),
    text(rssX, y + 14, "idle / peak, MiB", `class="note" text-anchor="end"`)
  )
  y += 24
  for (const protocol of ["h2c", "h1"] as const) {
    const rows = report.rows.filter((r) => r.protocol === protocol)
    if (rows.length === 0) continue
    y += 22
    body.push(text(labelX, y, `${protocolLabel[protocol]} — h2load ${report.load[protocol] ?? ""}`, `class="group"`))
    body.push(`<line x1="${labelX}" y1="${y + 6}" x2="${rssX}" y2="${y + 6}" class="rule"/>`)
    y += 10
    for (const row of rows) {
      body.push(rowSvg(row, y, rpsScale, cpuScale))
      y += rowHeight
    }
  }
  y += 18
  let legendX = labelX
  for (const [kind, label] of [["egi", "EGI"], ["raw", "raw Node server (the reference)"], ["peer", "peer"]] as const) {
    body.push(`<rect x="${legendX}" y="${y - 10}" width="12" height="12" fill="${colours[kind]}"/>`, text(legendX + 18, y, label, `class="note"`))
    legendX += 18 + label.length * 6 + 24
  }
  y += 20
  body.push(
    text(
      labelX,
      y,
      `GET / → 200 "Hello, world!" from every server, one process each; server CPU from /proc (process and children); regenerate: npm run bench:peers`,
      `class="note"`
    )
  )
  for (const s of report.skipped) {
    y += 16
    body.push(text(labelX, y, `skipped: ${s.name} (${s.protocol}): ${s.reason}`, `class="note"`))
  }
  const height = y + 16
  const title = "EGI and its peers: hello over h2c and HTTP/1.1"
  const subtitle =
    `${report.machine.cores} × ${report.machine.cpu}, ${report.machine.os}, Node ${report.node.replace(/^v/, "")}, ${report.h2load}, ${dateOf(report.date)} — ` +
    `same run, median of ${report.rounds} alternating round${report.rounds === 1 ? "" : "s"} of ${thousands(report.requests)} requests`
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif">`,
    `<title>${escape(title)}</title>`,
    `<style>`,
    `text { font-size: 12px; fill: #222; }`,
    `.title { font-size: 18px; font-weight: 700; }`,
    `.subtitle, .impl, .note { fill: #666; }`,
    `.subtitle { font-size: 12px; }`,
    `.impl { font-size: 9.5px; }`,
    `.note { font-size: 11px; }`,
    `.head { font-size: 12px; font-weight: 600; fill: #444; }`,
    `.group { font-size: 14px; font-weight: 700; }`,
    `.rule { stroke: #ccc; stroke-width: 1; }`,
    `.egi-label { font-weight: 700; fill: ${colours.egi}; }`,
    `.value { font-size: 11.5px; font-variant-numeric: tabular-nums; }`,
    `.egi-value { font-weight: 700; }`,
    `</style>`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    text(labelX, 32, title, `class="title"`),
    text(labelX, 54, subtitle, `class="subtitle"`),
    ...body,
    `</svg>`,
    ""
  ].join("\n")
}

const rowSvg = (row: Row, y: number, rpsScale: number, cpuScale: number): string => {
  const egi = row.kind === "egi"
  const fill = colours[row.kind]
  const barY = y + 6
  const textY = barY + barHeight / 2 + 4
  const rpsW = Math.max(1, row.rps * rpsScale)
  const cpuW = Math.max(1, row.cpuMicrosPerRequest * cpuScale)
  const valueClass = egi ? `class="value egi-value"` : `class="value"`
  const attrs = `data-server="${escape(row.server)}" data-protocol="${row.protocol}" data-kind="${row.kind}" fill="${fill}"`
  return [
    `<g class="row${egi ? " egi" : ""}">`,
    text(labelX, y + 13, row.server, egi ? `class="egi-label"` : ""),
    text(labelX, y + 26, row.implementation, `class="impl"`),
    `<rect class="bar rps" x="${rpsX}" y="${barY}" width="${rpsW.toFixed(1)}" height="${barHeight}" ${attrs}/>`,
    text(rpsX + rpsW + 6, textY, `${thousands(row.rps)} · ${row.ratio.toFixed(2)}×`, valueClass),
    `<rect class="bar cpu" x="${cpuX}" y="${barY}" width="${cpuW.toFixed(1)}" height="${barHeight}" ${attrs}/>`,
    text(cpuX + cpuW + 6, textY, `${micros(row.cpuMicrosPerRequest)} µs`, valueClass),
    text(rssX, textY, `${mib(row.rssIdleBytes)} / ${mib(row.rssPeakBytes)}`, `${valueClass} text-anchor="end"`),
    `</g>`
  ].join("")
}
