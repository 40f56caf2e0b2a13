/**
 * The peer benchmark's chart renderer (bench/peers/chart.ts) on fixed
 * figures: no benchmark runs here.
 */
import { describe, expect, it } from "vitest"
import { colours, renderChart } from "../../bench/peers/chart.ts"
import { type Report, type Row, table } from "../../bench/peers/report.ts"

const row = (server: string, protocol: Row["protocol"], kind: Row["kind"], rps: number, ratio: number, cpu: number): Row => ({
  server,
  protocol,
  kind,
  implementation: `${server} <impl> & co`,
  rps,
  ratio,
  cpuMicrosPerRequest: cpu,
  rssIdleBytes: 70 * 1048576,
  rssPeakBytes: 105.5 * 1048576,
  rssAfterBytes: 90 * 1048576,
  rounds: { rps: [rps - 1, rps, rps + 1], cpuMicrosPerRequest: [cpu, cpu, cpu] }
})

const report: Report = {
  format: "egi-bench-peers/1",
  date: "2026-11-30T20:00:00.000Z",
  machine: { cpu: "AMD EPYC", cores: 2, os: "Linux 6.1" },
  node: "v24.21.0",
  h2load: "h2load nghttp2/1.52.0",
  rounds: 3,
  requests: 30000,
  load: { h2c: "-c 16 -m 16", h1: "--h1 -c 16" },
  rows: [
    row("node:http2 (raw)", "h2c", "raw", 92445, 1, 10.8),
    row("EGI --h2c", "h2c", "egi", 70090, 0.758, 15.9),
    row("Hypercorn (1 worker)", "h2c", "peer", 4866, 0.053, 200),
    row("node:http (raw)", "h1", "raw", 37933, 1, 25.4),
    row("EGI (auto: h2c + HTTP/1.1)", "h1", "egi", 27739, 0.731, 36.4),
    row("Fastify 5", "h1", "peer", 40028, 1.055, 23.1)
  ],
  skipped: [{ name: "uvicorn", protocol: "h1", reason: "not installed" }]
}

/** Checks XML well-formedness the simple way: balanced tags, quoted attributes, escaped text. */
const wellFormed = (xml: string): Array<string> => {
  const problems: Array<string> = []
  const stack: Array<string> = []
  const tag = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/g
  let last = 0
  for (let m = tag.exec(xml); m !== null; m = tag.exec(xml)) {
    const between = xml.slice(last, m.index)
    if (/[<>]/.test(between) || /&(?!amp;|lt;|gt;|quot;|#\d+;)/.test(between)) problems.push(`bad text before ${m[0]}: ${between}`)
    last = tag.lastIndex
    const [, close, name, , selfClose] = m
    if (close === "/") {
      if (stack.pop() !== name) problems.push(`unbalanced </${name}>`)
    } else if (selfClose !== "/") stack.push(name!)
  }
  if (xml.slice(last).trim() !== "") problems.push(`trailing text: ${xml.slice(last)}`)
  if (stack.length > 0) problems.push(`unclosed: ${stack.join(", ")}`)
  return problems
}

describe("the peer benchmark chart", () => {
  const svg = renderChart(report)

  it("is one well-formed SVG document", () => {
    expect(svg.startsWith(`<svg xmlns="http://www.w3.org/2000/svg"`)).toBe(true)
    expect(svg.trimEnd().endsWith("</svg>")).toBe(true)
    expect(wellFormed(svg)).toEqual([])
  })

  it("draws one requests/s bar and one CPU bar per server and protocol", () => {
    for (const kind of ["rps", "cpu"]) {
      const bars = [...svg.matchAll(new RegExp(`<rect class="bar ${kind}"[^>]*data-server="([^"]*)" data-protocol="(\\w+)"`, "g"))]
      expect(bars.map((b) => `${b[1]}/${b[2]}`)).toEqual(report.rows.map((r) => `${r.server}/${r.protocol}`))
    }
  })

  it("highlights EGI's rows and only those", () => {
    const egiBars = [...svg.matchAll(/<rect class="bar [a-z]+"[^>]*data-kind="egi" fill="([^"]+)"/g)]
    expect(egiBars).toHaveLength(4)
    expect(new Set(egiBars.map((b) => b[1]))).toEqual(new Set([colours.egi]))
    expect(svg.match(/<g class="row egi">/g)).toHaveLength(2)
    expect([...svg.matchAll(/data-kind="(raw|peer)" fill="([^"]+)"/g)].every((m) => m[2] !== colours.egi)).toBe(true)
  })

  it("prints the figures on the bars, the run's conditions in the title, and the skipped peers", () => {
    for (const s of ["92 445 · 1.00×", "70 090 · 0.76×", "4 866 · 0.05×", "15.9 µs", "200 µs", "70.0 / 105.5"]) expect(svg).toContain(s)
    expect(svg).toContain("median of 3 alternating rounds")
    expect(svg).toContain("Node 24.21.0")
    expect(svg).toContain("2026-11-30")
    expect(svg).toContain("skipped: uvicorn (h1): not installed")
    expect(svg).toContain("&lt;impl&gt; &amp; co")
  })

  it("lists the same rows in the text table", () => {
    const text = table(report)
    for (const r of report.rows) expect(text).toContain(r.server)
    expect(text).toContain("92 445  1.000")
  })
})
