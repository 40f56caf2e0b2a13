// The web example's page: one function per section of index.html.
"use strict"
const $ = (id) => document.getElementById(id)
const MiB = 1024 * 1024
const mib = (n) => `${(n / MiB).toFixed(1)} MiB`
const hex = (buffer) => Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, "0")).join("")
const sha256 = async (chunks) => {
  const all = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0))
  let at = 0
  for (const c of chunks) all.set(c, (at += c.length) - c.length)
  return hex(await crypto.subtle.digest("SHA-256", all))
}
const setState = (el, state, text) => {
  el.dataset.state = state
  el.textContent = text
}
const item = (list, cls, text) => {
  const li = document.createElement("li")
  li.className = cls
  li.textContent = text
  list.append(li)
  return li
}

/** The protocol the page came over, and which files the 103 Early Hints fetched (Resource Timing's initiator). */
function protocol() {
  const [nav] = performance.getEntriesByType("navigation")
  $("protocol").textContent = nav?.nextHopProtocol ?? "?"
  const hinted = performance.getEntriesByType("resource").filter((e) => e.initiatorType === "early-hints")
  $("hinted").textContent = hinted.length === 0
    ? "not fetched from the 103 this time: cached already, or a browser without Early Hints"
    : `${hinted.map((e) => new URL(e.name).pathname).join(" and ")} fetched from the 103, before the page`
}

/** The chat: examples/chat.ts's room at wss://…/chat. */
function chat() {
  const status = $("chat-status")
  const log = $("chat-log")
  const ws = new WebSocket(`wss://${location.host}/chat`)
  ws.onopen = () => setState(status, "open", "open")
  ws.onmessage = (e) => {
    item(log, e.data.startsWith("* ") ? "system" : "", e.data)
    log.scrollTop = log.scrollHeight
  }
  ws.onclose = (e) => {
    setState(status, "closed", `closed ${e.code}${e.reason ? ` (${e.reason})` : ""}`)
    status.dataset.code = String(e.code)
  }
  $("chat-form").onsubmit = (e) => {
    e.preventDefault()
    const input = $("chat-input")
    if (input.value !== "" && ws.readyState === WebSocket.OPEN) ws.send(input.value)
    input.value = ""
  }
}

/** A dozen requests at once: their connection and stream IDs. */
async function correlator() {
  const rows = $("correlator-rows")
  const started = performance.now()
  const answers = await Promise.all(Array.from({ length: 12 }, async (_, i) => {
    const t = performance.now()
    const res = await fetch(`/api/whoami?wait=150&i=${i}`, { cache: "no-store" })
    return { ...(await res.json()), ms: performance.now() - t }
  }))
  rows.replaceChildren(...answers.map((a, i) => {
    const tr = document.createElement("tr")
    const priority = a.priority === null ? "" : `u=${a.priority.urgency}${a.priority.incremental ? ", i" : ""}`
    for (const v of [i + 1, a.connectionId, a.streamId, a.httpVersion, priority, a.openStreams.length, a.ms.toFixed(0)]) {
      tr.insertCell().textContent = String(v)
    }
    return tr
  }))
  const connections = new Set(answers.map((a) => a.connectionId))
  $("correlator-summary").textContent =
    `${answers.length} requests, ${connections.size} connection${connections.size === 1 ? "" : "s"}, ${(performance.now() - started).toFixed(0)} ms in all; ` +
    `"open": the streams of the connection running when each was answered`
  return answers
}

/** The download: fetch with a reader; Pause aborts, Resume asks for the rest with Range and If-Range. */
function download() {
  const state = $("download-state")
  const progress = $("download-progress")
  const requests = $("download-requests")
  const [start, pause, resume] = [$("download-start"), $("download-pause"), $("download-resume")]
  let d
  const run = async () => {
    d.controller = new AbortController()
    ;[start.disabled, pause.disabled, resume.disabled] = [true, false, true]
    const headers = d.bytes > 0 ? { range: `bytes=${d.bytes}-`, "if-range": d.etag } : {}
    const line = item(requests, "", d.bytes > 0 ? `GET range: bytes=${d.bytes}- …` : "GET …")
    try {
      const res = await fetch("/download/sample.bin", { headers, signal: d.controller.signal, cache: "no-store" })
      line.textContent = `${line.textContent.slice(0, -1)}${res.status} ${res.headers.get("content-range") ?? mib(Number(res.headers.get("content-length")))}`
      if (res.status !== 206) {
        Object.assign(d, { chunks: [], bytes: 0, etag: res.headers.get("etag"), sha256: res.headers.get("x-sha256") })
        d.size = Number(res.headers.get("content-length"))
        progress.max = d.size
      }
      const reader = res.body.getReader()
      let shown = 0
      while (true) {
        const { done, value } = await reader.read()
        if (done) break
        d.chunks.push(value)
        d.bytes += value.length
        state.dataset.bytes = String(d.bytes)
        if (performance.now() - shown < 100) continue // the text and the bar ten times a second
        shown = performance.now()
        progress.value = d.bytes
        setState(state, "running", `${mib(d.bytes)} of ${mib(d.size)}`)
      }
      progress.value = d.bytes
      const got = await sha256(d.chunks)
      const ok = got === d.sha256 && d.bytes === d.size
      const seconds = ((performance.now() - d.started) / 1000).toFixed(1)
      setState(state, ok ? "done" : "failed",
        `${mib(d.bytes)} in ${requests.children.length} request(s), ${seconds} s: sha256 ${ok ? "matches" : "DIFFERS"} (${got.slice(0, 16)}…)`)
      state.dataset.sha256 = got
      ;[start.disabled, pause.disabled, resume.disabled] = [false, true, true]
    } catch (e) {
      if (e.name !== "AbortError") throw e
      line.textContent += " aborted"
      setState(state, "paused", `paused at ${mib(d.bytes)} of ${mib(d.size)}`)
      ;[start.disabled, pause.disabled, resume.disabled] = [false, true, false]
    }
  }
  start.onclick = () => {
    d = { chunks: [], bytes: 0, size: 0, etag: null, sha256: null, controller: null, started: performance.now() }
    requests.replaceChildren()
    run().catch((e) => setState(state, "failed", String(e)))
  }
  pause.onclick = () => d.controller.abort()
  resume.onclick = () => run().catch((e) => setState(state, "failed", String(e)))
}

/** The upload: a ReadableStream of random bytes as the body, its progress as the network pulls it. */
function upload() {
  const state = $("upload-state")
  const progress = $("upload-progress")
  $("upload-start").onclick = async () => {
    const total = Math.max(1, Number($("upload-mib").value)) * MiB
    const chunks = []
    let sent = 0
    progress.max = total
    const started = performance.now()
    const body = new ReadableStream({
      pull(controller) {
        if (sent >= total) return controller.close()
        // getRandomValues fills at most 64 KiB at a time; the stream hands out 1 MiB chunks.
        const chunk = new Uint8Array(Math.min(MiB, total - sent))
        for (let at = 0; at < chunk.length; at += 65536) crypto.getRandomValues(chunk.subarray(at, at + 65536))
        chunks.push(chunk)
        sent += chunk.length
        progress.value = sent
        setState(state, "running", `${mib(sent)} of ${mib(total)} sent`)
        controller.enqueue(chunk)
      }
    })
    try {
      const res = await fetch("/api/upload", { method: "POST", body, duplex: "half", headers: { "content-type": "application/octet-stream" } })
      const answer = await res.json()
      const local = await sha256(chunks)
      const ok = answer.bytes === total && answer.sha256 === local
      setState(state, ok ? "done" : "failed",
        `${mib(answer.bytes)} arrived in ${answer.chunks} chunks on stream ${answer.streamId}, ${((performance.now() - started) / 1000).toFixed(1)} s: sha256 ${ok ? "matches" : "DIFFERS"} (${local.slice(0, 16)}…)`)
      Object.assign(state.dataset, { bytes: String(answer.bytes), sha256: answer.sha256, local })
    } catch (e) {
      setState(state, "failed", String(e))
    }
  }
}

/** Five requests at once: a reset stream and an app failure fail alone. */
async function failures() {
  const list = $("failures-results")
  const urls = ["/api/whoami?i=1", "/api/fail?how=reset", "/api/whoami?i=2", "/api/fail?how=fail", "/api/whoami?i=3"]
  const results = await Promise.all(urls.map(async (url) => {
    try {
      const res = await fetch(url, { cache: "no-store" })
      const answer = await res.json()
      return { url, ok: true, text: `${res.status}, stream ${answer.streamId}` }
    } catch (e) {
      return { url, ok: false, text: `network error: ${e.message}` }
    }
  }))
  list.replaceChildren()
  for (const r of results) item(list, r.ok ? "ok" : "error", `${r.url} → ${r.text}`).dataset.ok = String(r.ok)
  return results
}

addEventListener("load", () => protocol())
chat()
download()
upload()
$("correlator-run").onclick = () => correlator()
$("failures-run").onclick = () => failures()
correlator()
