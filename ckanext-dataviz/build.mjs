// Bundles every assets/src/*.js entry (and the CSS it imports) into
// ckanext/dataviz/assets/build/, minified, one IIFE per entry; no CDN at run time.
import { build } from "esbuild";
import { readdirSync } from "node:fs";

const entries = readdirSync("assets/src")
  .filter((name) => name.endsWith(".js") && !name.startsWith("_"))
  .map((name) => `assets/src/${name}`);

await build({
  entryPoints: entries,
  bundle: true,
  minify: true,
  format: "iife",
  target: ["es2019"],
  outdir: "ckanext/dataviz/assets/build",
  loader: { ".png": "file", ".svg": "file" },
  logLevel: "warning",
});
