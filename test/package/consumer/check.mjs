// Imports every entry point of the installed package and checks a few names.
import * as egi from "egi"
import * as effectHttp from "egi/effect-http"
import * as fetchAdapters from "egi/fetch"
import * as testing from "egi/testing"

const want = {
  egi: [egi, ["serve", "start", "layer", "layerConfig", "unsupportedScope", "LocalProtocolError", "fromClassic"]],
  "egi/effect-http": [effectHttp, ["fromHttpApp", "EgiHttpServer"]],
  "egi/fetch": [fetchAdapters, ["fromFetch", "toFetch"]],
  "egi/testing": [testing, ["validate", "request", "httpScope", "chunked"]]
}
const missing = Object.entries(want).flatMap(([entry, [mod, names]]) => names.filter((n) => typeof mod[n] === "undefined").map((n) => `${entry}.${n}`))
if (missing.length > 0) {
  console.error(`missing exports: ${missing.join(", ")}`)
  process.exit(1)
}
console.log(`ok ${process.version}`)
