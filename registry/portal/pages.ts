// The owner portal's pages and static assets (docs/PORTAL.md §1): plain HTML, CSS and small
// scripts from registry/portal/static/, no framework, served with a strict Content Security
// Policy (scripts and styles from the portal only, no inline code, no framing).
import { readFileSync, readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import type { ServerResponse } from "node:http";
import { RegistryError } from "../errors.js";

/** From dist/registry/portal/ (compiled) back to the sources' static folder. */
const STATIC_DIR = fileURLToPath(new URL("../../../registry/portal/static/", import.meta.url));

export const PORTAL_PREFIX = "/portal/";
const ASSETS_PREFIX = "/portal/assets/";

/** Page paths -> HTML files. */
const PAGES: Readonly<Record<string, string>> = {
  "/portal/": "index.html",
  "/portal/phones": "phones.html",
  "/portal/claim": "claim.html",
  "/portal/check": "check.html",
};

const TYPES: Readonly<Record<string, string>> = {
  html: "text/html; charset=utf-8",
  css: "text/css; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  svg: "image/svg+xml",
};

const HEADERS = {
  "content-security-policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-cache",
};

let files: Map<string, Buffer> | undefined;

/** The static files, read once: names are fixed, so no path from a request reaches the file system. */
function staticFiles(): Map<string, Buffer> {
  if (!files) {
    files = new Map();
    for (const name of readdirSync(STATIC_DIR)) if (/^[a-z-]+\.(html|css|js|svg)$/.test(name)) files.set(name, readFileSync(join(STATIC_DIR, name)));
  }
  return files;
}

/** True when `path` is a page or asset of the portal (and answers it). */
export function servePortalFile(path: string, res: ServerResponse): boolean {
  const name = PAGES[path] ?? (path.startsWith(ASSETS_PREFIX) ? path.slice(ASSETS_PREFIX.length) : undefined);
  if (name === undefined) return false;
  const body = staticFiles().get(name);
  if (!body || (path.startsWith(ASSETS_PREFIX) && name.endsWith(".html"))) throw new RegistryError("E_NOT_FOUND", `no portal file ${path}`);
  res.writeHead(200, { ...HEADERS, "content-type": TYPES[name.split(".").pop()!]!, "content-length": body.byteLength });
  res.end(body);
  return true;
}
