/**
 * The preload link that stands in for a push (spec.md §7.1, HTTP-20):
 * `as` from the app or the path's suffix, link-params in order, fonts
 * always CORS; the checks on `as` and `linkParams`.
 */
import { describe, expect, it } from "vitest"
import { checkPreload, destinationOf, preloadLink } from "../../src/protocol/preload.ts"

describe("preload links for pushes that cannot be promised (spec.md §7.1)", () => {
  it("HTTP-20: as comes from the app, else the suffix (query ignored), else is left out", () => {
    expect(preloadLink("/a.css")).toBe("</a.css>; rel=preload; as=style")
    expect(preloadLink("/a.CSS?x=.js")).toBe("</a.CSS?x=.js>; rel=preload; as=style")
    expect(preloadLink("/a.mjs")).toBe("</a.mjs>; rel=preload; as=script")
    expect(preloadLink("/logo.svg")).toBe("</logo.svg>; rel=preload; as=image")
    expect(preloadLink("/api/items")).toBe("</api/items>; rel=preload")
    expect(preloadLink("/api/items", "fetch", ["crossorigin"])).toBe("</api/items>; rel=preload; as=fetch; crossorigin")
    expect(destinationOf("/x.woff")).toBe("font")
    expect(destinationOf("/x")).toBeUndefined()
  })

  it("HTTP-20: a font preload is always CORS; an app's own crossorigin is kept as given", () => {
    expect(preloadLink("/f.woff2")).toBe("</f.woff2>; rel=preload; as=font; crossorigin")
    expect(preloadLink("/f.woff2", undefined, ["crossorigin=use-credentials"])).toBe(
      "</f.woff2>; rel=preload; as=font; crossorigin=use-credentials"
    )
  })

  it("HTTP-20: as must be a token; each link-param name, name=token or name=\"quoted\", and not rel or as", () => {
    expect(checkPreload(undefined, undefined)).toBeUndefined()
    expect(checkPreload("style", ["crossorigin", 'type="text/css"', "media=print"])).toBeUndefined()
    for (const as of ["", "a b", "a,b", 1, null]) expect(checkPreload(as, undefined)).toBeDefined()
    for (const params of [["a;b"], ["a=b c"], ['a="b"c'], ["rel=preload"], ["AS=style"], "crossorigin", [1]]) {
      expect(checkPreload(undefined, params)).toBeDefined()
    }
  })
})
