// Imports both entry points of the installed package and checks a few names.
import * as egi from "egi"
import * as testing from "egi/testing"

const want = { egi: ["serve", "start", "unsupportedScope", "LocalProtocolError", "fromClassic"], testing: ["validate", "request", "httpScope", "chunked"] }
const missing = [
  ...want.egi.filter((n) => typeof egi[n] === "undefined").map((n) => `egi.${n}`),
  ...want.testing.filter((n) => typeof testing[n] === "undefined").map((n) => `egi/testing.${n}`)
]
if (missing.length > 0) {
  console.error(`missing exports: ${missing.join(", ")}`)
  process.exit(1)
}
console.log(`ok ${process.version}`)
