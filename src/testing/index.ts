/**
 * `egi/testing`: tools to prove that an EGI app (or server) keeps the
 * protocol — the validator middleware, the in-memory test client, and the
 * fast-check arbitraries.
 */
export { chunked, fieldName, fieldValue, headers, httpScope, lifespanScope, requestBody, target, websocketMessages, websocketScope } from "./arbitraries.ts"
export { request, type TestRequest, type TestResponse, testScope } from "./client.ts"
export { MissingPeerDependencyError } from "./fast-check.ts"
export { ServerViolationError, validate } from "./validate.ts"
