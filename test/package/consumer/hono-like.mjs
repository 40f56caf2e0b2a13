// A fetch handler as Hono apps are: an object with a fetch method (egi serve --interface auto serves it through fromFetch).
export default {
  fetch: async (request) => new Response(`fetched ${request.method} ${new URL(request.url).pathname}`)
}
