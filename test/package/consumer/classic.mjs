// A classic (blocking) app, run by the shim's worker threads from the built package.
export const app = (environ, startResponse) => {
  startResponse("200 OK", [["content-type", "text/plain"]])
  return [new TextEncoder().encode(`classic ${environ.REQUEST_METHOD}`)]
}
