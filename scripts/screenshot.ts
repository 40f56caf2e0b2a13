/**
 * The README's screenshot of the web example: serves examples/web/app.ts
 * over TLS with the CLI, drives Debian's Chromium through it as the browser
 * tests do (two tabs chatting, a download, an upload, the failures), and
 * writes docs/web-example.png.
 *
 *     node scripts/screenshot.ts [out.png]
 */
import { mkdirSync } from "node:fs"
import { dirname, resolve } from "node:path"
import { findChromium, launchChromium, serveWeb } from "../test/support/chromium.ts"

const out = resolve(process.argv[2] ?? new URL("../docs/web-example.png", import.meta.url).pathname)
const chromium = findChromium()
if (chromium === undefined) {
  process.stderr.write("screenshot: no Chromium (bash scripts/setup.sh --test-tools installs Debian's chromium)\n")
  process.exit(1)
}

const [browser, { cli, url }] = await Promise.all([launchChromium(chromium), serveWeb()])
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } })
  // `page` first: its cache is cold, so it shows the files coming from the 103.
  const [page, other] = [await context.newPage(), await context.newPage()]
  for (const tab of [page, other]) {
    await tab.goto(`${url}/`)
    await tab.waitForSelector(`#chat-status[data-state="open"]`)
  }
  const say = async (tab: typeof page, text: string) => {
    await tab.fill("#chat-input", text)
    await tab.press("#chat-input", "Enter")
    await page.locator("#chat-log", { hasText: text }).waitFor()
  }
  await say(other, "hello from the other tab")
  await say(page, "hi! this WebSocket is an extended CONNECT on the page's HTTP/2 connection")
  await say(other, "same here: one TCP connection for both tabs")

  // The download paused at 24 MiB and resumed, as the browser test does it.
  await page.evaluate(`{
    const state = document.getElementById("download-state")
    new MutationObserver((_, observer) => {
      if (Number(state.dataset.bytes) < 24 * 1024 * 1024) return
      observer.disconnect()
      document.getElementById("download-pause").click()
    }).observe(state, { attributes: true, attributeFilter: ["data-bytes"] })
  }`)
  await page.click("#download-start")
  await page.waitForSelector(`#download-state[data-state="paused"]`, { timeout: 60_000 })
  await page.click("#download-resume")
  await page.waitForSelector(`#download-state[data-state="done"]`, { timeout: 60_000 })
  await page.click("#upload-start")
  await page.waitForSelector(`#upload-state[data-state="done"]`, { timeout: 60_000 })
  await page.click("#failures-run")
  await page.locator("#failures-results li").nth(4).waitFor()
  await page.click("#correlator-run")
  await page.locator("#correlator-summary", { hasText: "12 requests" }).waitFor()
  await page.waitForTimeout(200)

  mkdirSync(dirname(out), { recursive: true })
  await page.screenshot({ path: out, fullPage: true })
  process.stdout.write(`screenshot: ${out}\n`)
} finally {
  await browser.close()
  await cli.dispose()
}
