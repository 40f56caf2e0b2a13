/**
 * The `link: rel=preload` field that stands in for a push that cannot be
 * promised (spec.md §7.1): the target, `as` — without which browsers ignore
 * a preload (HTML's "preload" link type, Fetch's request destinations) — and
 * any further link-params (RFC 8288 §3). Pure: no I/O.
 *
 * @since 0.4.0
 */

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/
/** One link-param: `name`, `name=token` or `name="quoted"` (RFC 8288 §3, RFC 9110 §5.6.4 without escapes). */
const LINK_PARAM = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+(?:=(?:[!#$%&'*+.^_`|~0-9A-Za-z-]+|"[^"\\\x00-\x1f\x7f]*"))?$/

/** Path suffixes whose preload destination is known, and whether the fetch is a CORS one (fonts always are). */
const DESTINATIONS: ReadonlyArray<readonly [RegExp, string]> = [
  [/\.css$/i, "style"],
  [/\.m?js$/i, "script"],
  [/\.(?:woff2?|ttf|otf|eot)$/i, "font"],
  [/\.(?:png|jpe?g|gif|webp|avif|svg|ico)$/i, "image"],
  [/\.(?:mp4|webm)$/i, "video"],
  [/\.(?:mp3|ogg|wav)$/i, "audio"],
  [/\.json$/i, "fetch"]
]

/**
 * The preload destination (`as`) implied by a path's suffix, ignoring the
 * query: `style` (.css), `script` (.js, .mjs), `font` (.woff, .woff2, .ttf,
 * .otf, .eot), `image`, `video`, `audio`, `fetch` (.json); `undefined` for
 * any other path.
 *
 * @since 0.4.0
 * @category preload
 */
export const destinationOf = (path: string): string | undefined => {
  const q = path.search(/[?#]/)
  const bare = q < 0 ? path : path.slice(0, q)
  for (const [suffix, as] of DESTINATIONS) if (suffix.test(bare)) return as
  return undefined
}

/**
 * Checks a push's `as` (a token) and `linkParams` (each one link-param:
 * `name`, `name=token` or `name="quoted string"`); returns a description of
 * the first bad one, or `undefined` when both are acceptable (rule HTTP-20).
 *
 * @since 0.4.0
 * @category preload
 */
export const checkPreload = (as: unknown, linkParams: unknown): string | undefined => {
  if (as !== undefined && (typeof as !== "string" || !TOKEN.test(as))) return `push as ${JSON.stringify(as)} is not a token`
  if (linkParams === undefined) return undefined
  if (!Array.isArray(linkParams)) return "push linkParams is not a list of link-params"
  for (const p of linkParams) {
    if (typeof p !== "string" || !LINK_PARAM.test(p)) return `push link-param ${JSON.stringify(p)} is not name, name=token or name="quoted"`
    if (/^(?:rel|as)(?:=|$)/i.test(p)) return `push link-param ${JSON.stringify(p)}: rel and as are set by the server`
  }
  return undefined
}

/**
 * The `link` field value for a push of `path` that could not be promised:
 * `<path>; rel=preload`, then `as=<as>` (the given one, else the one the
 * path's suffix implies, else none), then `linkParams` in order. A `font`
 * preload without a `crossorigin` param gets one: browsers fetch fonts in
 * CORS mode and would not use the preload otherwise.
 *
 * @since 0.4.0
 * @category preload
 */
export const preloadLink = (path: string, as?: string, linkParams?: ReadonlyArray<string>): string => {
  const destination = as ?? destinationOf(path)
  let link = `<${path}>; rel=preload`
  if (destination !== undefined) link += `; as=${destination}`
  if (linkParams !== undefined) for (const p of linkParams) link += `; ${p}`
  if (destination === "font" && !(linkParams ?? []).some((p) => /^crossorigin(?:=|$)/i.test(p))) link += "; crossorigin"
  return link
}
