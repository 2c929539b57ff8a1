// The studio's static files: the built Vite bundle (studio/dist), listed and read into memory once
// at start-up. A request is answered only when its URL path is a key of that listing; nothing from
// a request is ever joined into a file system path.
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where `npm run build:studio` writes the bundle. */
export const DEFAULT_BUNDLE_DIR = fileURLToPath(new URL('../../studio/dist', import.meta.url));

export class BundleMissingError extends Error {
  constructor(dir: string) {
    super(`${dir}: the studio's web bundle is missing (no index.html); run npm run build:studio`);
    this.name = 'BundleMissingError';
  }
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
};

export interface StaticFile {
  bytes: Buffer;
  type: string;
  /** Vite's hashed assets never change under their name; index.html always may. */
  immutable: boolean;
}

export class StaticBundle {
  private constructor(
    readonly dir: string,
    private readonly files: ReadonlyMap<string, StaticFile>,
  ) {}

  /** Lists and reads the bundle; throws BundleMissingError when it has not been built. */
  static async load(dir: string = DEFAULT_BUNDLE_DIR): Promise<StaticBundle> {
    if (!existsSync(path.join(dir, 'index.html'))) throw new BundleMissingError(dir);
    const files = new Map<string, StaticFile>();
    const walk = async (sub: string[]) => {
      for (const e of await readdir(path.join(dir, ...sub), { withFileTypes: true })) {
        if (e.name.startsWith('.')) continue;
        const parts = [...sub, e.name];
        if (e.isDirectory()) await walk(parts);
        else if (e.isFile()) {
          const type = TYPES[path.extname(e.name).toLowerCase()];
          if (!type) continue; // only known kinds of files are served
          files.set('/' + parts.join('/'), {
            bytes: await readFile(path.join(dir, ...parts)),
            type,
            immutable: sub[0] === 'assets',
          });
        }
      }
    };
    await walk([]);
    return new StaticBundle(dir, files);
  }

  /** The file for a URL path ('/' is index.html), or null. */
  get(urlPath: string): StaticFile | null {
    return this.files.get(urlPath === '/' ? '/index.html' : urlPath) ?? null;
  }

  get size(): number {
    return this.files.size;
  }

  /** Every file by its URL path (the static site copies them). */
  entries(): IterableIterator<[string, StaticFile]> {
    return this.files.entries();
  }
}
