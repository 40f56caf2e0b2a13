/**
 * `egi/testing`: tools to prove that an EGI app (or server) keeps the
 * protocol — the validator middleware (`validate`), the in-memory test
 * client (`request`, `testScope`), and the fast-check arbitraries. One
 * flat name per thing. Needs fast-check, an optional peer dependency of
 * egi: without it, importing `egi/testing` fails with
 * `MissingPeerDependencyError`.
 *
 * @since 0.3.0
 */
export { chunked, fieldName, fieldValue, headers, httpScope, lifespanScope, requestBody, target, websocketMessages, websocketScope } from "./arbitraries.ts"
export { request, type TestRequest, type TestResponse, testScope } from "./client.ts"
export { MissingPeerDependencyError } from "./fast-check.ts"
export { ServerViolationError, validate } from "./validate.ts"
export { serveTest, type TestResult, type TestServerHandle } from "./serve.ts"
