/**
 * `egi/effect-http`: Effect's HTTP server interface on EGI (spec.md §12.1)
 * — `EgiHttpServer`, effect's `HttpServer` service on EGI's runner (a
 * drop-in for `NodeHttpServer.layer`), and `fromHttpApp`, an Effect
 * `HttpApp` as an EGI app.
 *
 * @since 0.5.0
 */
export * as EgiHttp from "./egi-http.ts"
export { fromHttpApp } from "./from-http-app.ts"
export { acceptSocket } from "./socket.ts"
export * as EgiHttpServer from "./server.ts"
