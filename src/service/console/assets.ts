/**
 * The console's static files, imported as text so that `bun build --compile` embeds them in the
 * executable: nothing is read from disk or built at run time. uPlot (the chart) comes from its npm
 * package as published (minified IIFE + CSS).
 */
import appCss from "./app.css" with { type: "text" };
import appJs from "./console-app.js" with { type: "text" };
import indexHtml from "./index.html" with { type: "text" };
import uplotJs from "uplot/dist/uPlot.iife.min.js" with { type: "text" };
import uplotCss from "uplot/dist/uPlot.min.css" with { type: "text" };

export interface Asset {
  readonly body: string;
  readonly type: string;
}

const JS = "text/javascript; charset=utf-8";
const CSS = "text/css; charset=utf-8";

/** Path under /console → file. The page itself is served at /console and /console/. */
export const ASSETS: ReadonlyMap<string, Asset> = new Map([
  ["", { body: indexHtml as unknown as string, type: "text/html; charset=utf-8" }],
  ["/app.js", { body: appJs, type: JS }],
  ["/app.css", { body: appCss, type: CSS }],
  ["/uplot.js", { body: uplotJs, type: JS }],
  ["/uplot.css", { body: uplotCss, type: CSS }],
]);
