// A plain static file server for the static studio's test and bench:serve (what any static host
// does, nothing of dermosynth's): GET of files under one folder, the MIME type by extension
// (application/wasm among them), no special headers (no COOP/COEP, no CSP header); the folder is
// published under `prefix` (a site need not be at a server's root). Every request is recorded with
// its status and type.
import { existsSync, readFileSync, statSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

export const SITE_MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.png': 'image/png',
  '.wasm': 'application/wasm',
  '.onnx': 'application/octet-stream',
  '.txt': 'text/plain; charset=utf-8',
};

export interface SiteServer {
  /** The server's origin (the site is at `${url}${prefix}`). */
  url: string;
  served: { path: string; status: number; type: string }[];
  close(): Promise<void>;
}

export async function startSiteServer(dir: string, prefix = '/'): Promise<SiteServer> {
  const served: SiteServer['served'] = [];
  const root = path.resolve(dir);
  const server = http.createServer((req, res) => {
    const p = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const rel = p.startsWith(prefix) ? p.slice(prefix.length - 1) : '/..'; // outside the prefix: refused below
    const file = path.join(root, rel.endsWith('/') ? `${rel}index.html` : rel);
    const type = SITE_MIME[path.extname(file)];
    if (
      req.method !== 'GET' ||
      !file.startsWith(root + path.sep) ||
      !type ||
      !existsSync(file) ||
      !statSync(file).isFile()
    ) {
      served.push({ path: p, status: 404, type: '' });
      res.writeHead(404).end();
      return;
    }
    served.push({ path: p, status: 200, type });
    res.writeHead(200, { 'Content-Type': type }).end(readFileSync(file));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    served,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
