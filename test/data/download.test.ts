// ISIC-2017 download and unpacking against a local HTTP server: the official layout, resumed
// downloads (Range), size checks, HTTP errors, corrupt and malicious archives, re-runs.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import {
  ISIC2017_BASE_URL,
  ISIC2017_FILES,
  downloadFile,
  downloadIsic2017,
  type DownloadEvent,
} from '../../src/data/download.js';
import { extractZip } from '../../src/data/unzip.js';
import { buildZip, makeZip } from '../helpers/zip_writer.js';

// ---------------------------------------------------------------------------------------------
// A small file server with Range support and scripted misbehaviour.

interface Served {
  data: Buffer;
  /** Announce this size instead of the real one (a lying Content-Length); the body stops at the real end. */
  claimLength?: number;
  /** On the first GET only: send this many bytes, then drop the connection. */
  dropFirstAfter?: number;
  /** On every GET: never send bytes past this offset; drop the connection there. */
  truncateAt?: number;
  /** Answer Range requests with 200 and the whole file. */
  ignoreRange?: boolean;
  /** Answer every request with this status. */
  status?: number;
  dropped?: boolean;
}

interface Seen {
  method: string;
  path: string;
  range: string | undefined;
}

class TestServer {
  readonly files = new Map<string, Served>();
  readonly seen: Seen[] = [];
  private server = http.createServer((req, res) => this.handle(req, res));
  base = '';

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    const { port } = this.server.address() as AddressInfo;
    this.base = `http://127.0.0.1:${port}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  url(p: string): string {
    return `${this.base}${p}`;
  }

  gets(p: string): Seen[] {
    return this.seen.filter((s) => s.method === 'GET' && s.path === p);
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const p = new URL(req.url ?? '/', 'http://x').pathname;
    this.seen.push({ method: req.method ?? '', path: p, range: req.headers.range });
    const f = this.files.get(p);
    if (f === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
      return;
    }
    if (f.status !== undefined) {
      res.writeHead(f.status, { 'content-type': 'text/plain' });
      res.end('nope');
      return;
    }
    const size = f.claimLength ?? f.data.length;
    let start = 0;
    let status = 200;
    const m = req.headers.range === undefined || f.ignoreRange ? null : /^bytes=(\d+)-$/.exec(req.headers.range);
    if (m !== null) {
      start = Number(m[1]);
      if (start >= size) {
        res.writeHead(416, { 'content-range': `bytes */${size}` });
        res.end();
        return;
      }
      status = 206;
    }
    const headers: http.OutgoingHttpHeaders = {
      'content-type': 'application/octet-stream',
      'accept-ranges': 'bytes',
      'content-length': size - start,
    };
    if (status === 206) headers['content-range'] = `bytes ${start}-${size - 1}/${size}`;
    res.writeHead(status, headers);
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    let stopAt = Infinity;
    if (f.dropFirstAfter !== undefined && !f.dropped) {
      f.dropped = true;
      stopAt = f.dropFirstAfter;
    }
    if (f.truncateAt !== undefined) stopAt = Math.min(stopAt, f.truncateAt);
    if (f.data.length < size) stopAt = Math.min(stopAt, f.data.length);
    if (stopAt === Infinity) {
      res.end(f.data.subarray(start));
      return;
    }
    // Send what we have, give the client time to read it, then cut the connection.
    res.flushHeaders();
    res.write(f.data.subarray(start, Math.max(start, stopAt)));
    setTimeout(() => res.socket?.destroy(), 100);
  }
}

// ---------------------------------------------------------------------------------------------
// Tiny archives in the ISIC-2017 layout.

function pseudoRandom(n: number, seed: number): Buffer {
  const out = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

const JPG1 = pseudoRandom(3000, 1);
const JPG2 = Buffer.from('fake jpeg '.repeat(400));
const MASK1 = Buffer.from('mask one '.repeat(300));
const MASK2 = Buffer.from('mask two '.repeat(300));
const CSV = 'image_id,melanoma,seborrheic_keratosis\nISIC_0000001,0.0,0.0\nISIC_0000002,1.0,0.0\n';

function valImagesZip(): Buffer {
  return makeZip([
    { name: 'ISIC-2017_Validation_Data/' },
    { name: 'ISIC-2017_Validation_Data/ISIC_0000001.jpg', data: JPG1 },
    { name: 'ISIC-2017_Validation_Data/ISIC_0000002.jpg', data: JPG2 },
  ]);
}

function valMasksZip(): Buffer {
  return makeZip([
    { name: 'ISIC-2017_Validation_Part1_GroundTruth/ISIC_0000001_segmentation.png', data: MASK1 },
    { name: 'ISIC-2017_Validation_Part1_GroundTruth/ISIC_0000002_segmentation.png', data: MASK2, method: 'store' },
  ]);
}

const IMAGES = 'ISIC-2017_Validation_Data.zip';
const MASKS = 'ISIC-2017_Validation_Part1_GroundTruth.zip';
const LABELS = 'ISIC-2017_Validation_Part3_GroundTruth.csv';

function serveValidation(server: TestServer, images = valImagesZip()): void {
  server.files.set(`/2017/${IMAGES}`, { data: images });
  server.files.set(`/2017/${MASKS}`, { data: valMasksZip() });
  server.files.set(`/2017/${LABELS}`, { data: Buffer.from(CSV) });
}

// ---------------------------------------------------------------------------------------------

let server: TestServer;
let tmp: string;

beforeAll(async () => {
  server = new TestServer();
  await server.start();
});
afterAll(async () => {
  await server.stop();
});
beforeEach(async () => {
  server.files.clear();
  server.seen.length = 0;
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'dermosynth-download-'));
});
afterEach(async () => {
  await fsp.rm(tmp, { recursive: true, force: true });
});

const FAST = { retries: 3, retryDelayMs: 1 };

/** Compares file contents without a slow element-wise deep equality on large buffers. */
function expectBytes(file: string, want: Buffer): void {
  const got = fs.readFileSync(file);
  expect(got.length).toBe(want.length);
  expect(got.equals(want)).toBe(true);
}

function listAll(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return (fs.readdirSync(dir, { recursive: true }) as string[]).map((p) => p.split(path.sep).join('/')).sort();
}

describe('ISIC2017_FILES', () => {
  it('lists the 9 official files', () => {
    expect(ISIC2017_BASE_URL).toBe('https://isic-challenge-data.s3.amazonaws.com/2017/');
    expect(ISIC2017_FILES).toHaveLength(9);
    expect(ISIC2017_FILES.map((f) => f.name)).toContain('ISIC-2017_Test_v2_Part1_GroundTruth.zip');
    expect(ISIC2017_FILES.find((f) => f.name === 'ISIC-2017_Training_Data.zip')).toEqual({
      name: 'ISIC-2017_Training_Data.zip',
      split: 'train',
      kind: 'images',
    });
    expect(ISIC2017_FILES.find((f) => f.name === LABELS)).toEqual({ name: LABELS, split: 'val', kind: 'labels' });
    for (const split of ['train', 'val', 'test']) {
      expect(
        ISIC2017_FILES.filter((f) => f.split === split)
          .map((f) => f.kind)
          .sort(),
      ).toEqual(['images', 'labels', 'masks']);
    }
  });
});

describe('downloadIsic2017', () => {
  it('downloads and unpacks into the official layout, then skips everything on a re-run', async () => {
    serveValidation(server);
    const out = path.join(tmp, 'isic');
    const events: DownloadEvent[] = [];
    const report = await downloadIsic2017(out, {
      baseUrl: server.url('/2017'),
      splits: ['val'],
      onProgress: (e) => events.push(e),
      ...FAST,
    });

    expectBytes(path.join(out, 'ISIC-2017_Validation_Data/ISIC_0000001.jpg'), JPG1);
    expectBytes(path.join(out, 'ISIC-2017_Validation_Data/ISIC_0000002.jpg'), JPG2);
    expectBytes(path.join(out, 'ISIC-2017_Validation_Part1_GroundTruth/ISIC_0000001_segmentation.png'), MASK1);
    expectBytes(path.join(out, 'ISIC-2017_Validation_Part1_GroundTruth/ISIC_0000002_segmentation.png'), MASK2);
    expect(fs.readFileSync(path.join(out, LABELS), 'utf8')).toBe(CSV);
    // Nothing else: no partial folders, archives deleted, one marker per file.
    expect(fs.readdirSync(out).sort()).toEqual(
      ['.downloads', 'ISIC-2017_Validation_Data', 'ISIC-2017_Validation_Part1_GroundTruth', LABELS].sort(),
    );
    expect(fs.readdirSync(path.join(out, '.downloads')).sort()).toEqual(
      [`${IMAGES}.done`, `${MASKS}.done`, `${LABELS}.done`].sort(),
    );

    expect(report.files.map((f) => [f.name, f.skipped, f.resumed])).toEqual([
      [IMAGES, false, false],
      [MASKS, false, false],
      [LABELS, false, false],
    ]);
    expect(report.files[0]!.bytes).toBe(valImagesZip().length);
    expect(report.files[0]!.extracted).toEqual({ files: 2, bytes: JPG1.length + JPG2.length });
    expect(report.files[2]!.extracted).toBeNull();

    // Events: enough for a progress bar per file.
    const imageEvents = events.filter((e) => e.file === IMAGES);
    expect(new Set(imageEvents.map((e) => e.phase))).toEqual(new Set(['download', 'extract', 'done']));
    const lastDownload = imageEvents.filter((e) => e.phase === 'download').at(-1)!;
    expect(lastDownload).toMatchObject({
      done: valImagesZip().length,
      total: valImagesZip().length,
      unit: 'bytes',
      fileIndex: 0,
      fileCount: 3,
    });
    expect(imageEvents.filter((e) => e.phase === 'extract').at(-1)).toMatchObject({
      done: 3,
      total: 3,
      unit: 'entries',
    });
    expect(events.at(-1)).toMatchObject({ phase: 'done', file: LABELS, fileIndex: 2, split: 'val', kind: 'labels' });

    // Re-run: no request at all, everything skipped.
    const requests = server.seen.length;
    const again: DownloadEvent[] = [];
    const report2 = await downloadIsic2017(out, {
      baseUrl: server.url('/2017/'),
      splits: ['val'],
      onProgress: (e) => again.push(e),
    });
    expect(server.seen.length).toBe(requests);
    expect(report2.files.every((f) => f.skipped)).toBe(true);
    expect(again.map((e) => e.phase)).toEqual(['skip', 'skip', 'skip']);
    expect(report2.files[0]!.bytes).toBe(valImagesZip().length);

    // Unpacked data deleted by hand: only that file is fetched again.
    await fsp.rm(path.join(out, 'ISIC-2017_Validation_Data'), { recursive: true });
    const report3 = await downloadIsic2017(out, { baseUrl: server.url('/2017'), splits: ['val'] });
    expect(report3.files.map((f) => f.skipped)).toEqual([false, true, true]);
    expect(server.seen.slice(requests).map((s) => s.path)).toEqual([`/2017/${IMAGES}`]);
    expectBytes(path.join(out, 'ISIC-2017_Validation_Data/ISIC_0000001.jpg'), JPG1);
  });

  it('keeps archives on request and re-extracts a downloaded archive without downloading it again', async () => {
    serveValidation(server);
    const out = path.join(tmp, 'isic');
    await downloadIsic2017(out, { baseUrl: server.url('/2017'), splits: ['val'], keepArchives: true, ...FAST });
    expectBytes(path.join(out, '.downloads', IMAGES), valImagesZip());
    // An extraction that never finished: the archive is there, the marker is not.
    await fsp.rm(path.join(out, '.downloads', `${IMAGES}.done`));
    await fsp.rm(path.join(out, 'ISIC-2017_Validation_Data'), { recursive: true });
    const before = server.seen.length;
    const report = await downloadIsic2017(out, { baseUrl: server.url('/2017'), splits: ['val'], keepArchives: true });
    expect(report.files[0]).toMatchObject({ name: IMAGES, skipped: false, reusedArchive: true });
    expect(server.seen.slice(before).map((s) => s.method)).toEqual(['HEAD']); // size check only
    expectBytes(path.join(out, 'ISIC-2017_Validation_Data/ISIC_0000002.jpg'), JPG2);
  });

  it('rejects a corrupt archive naming it, and leaves nothing in the layout', async () => {
    const built = buildZip([
      { name: 'ISIC-2017_Validation_Data/ISIC_0000001.jpg', data: JPG2 },
      { name: 'ISIC-2017_Validation_Data/ISIC_0000002.jpg', data: Buffer.from('abcdefgh'.repeat(500)) },
    ]);
    const e = built.entries[1]!;
    const bad = Buffer.from(built.bytes);
    bad[e.dataOffset + (e.compressedSize >> 1)]! ^= 0x5a;
    serveValidation(server, bad);
    const out = path.join(tmp, 'isic');
    const run = downloadIsic2017(out, { baseUrl: server.url('/2017'), splits: ['val'], ...FAST });
    await expect(run).rejects.toThrow(/ISIC-2017_Validation_Data\.zip.*corrupt.*Delete .* download it again/s);
    expect(listAll(out).filter((p) => !p.startsWith('.downloads'))).toEqual([]);
    expect(fs.existsSync(path.join(out, '.downloads', `${IMAGES}.done`))).toBe(false);
  });

  it('rejects a truncated archive naming it, and leaves nothing in the layout', async () => {
    const full = valImagesZip();
    serveValidation(server, full.subarray(0, full.length - 40));
    const out = path.join(tmp, 'isic');
    const run = downloadIsic2017(out, { baseUrl: server.url('/2017'), splits: ['val'], ...FAST });
    await expect(run).rejects.toThrow(/ISIC-2017_Validation_Data\.zip.*corrupt/s);
    expect(listAll(out).filter((p) => !p.startsWith('.downloads'))).toEqual([]);
  });
});

describe('downloadFile', () => {
  const DATA = pseudoRandom(200_000, 7);

  it('resumes with a Range request after the connection drops mid-body', async () => {
    const half = DATA.length >> 1;
    server.files.set('/f.bin', { data: DATA, dropFirstAfter: half });
    const dest = path.join(tmp, 'f.bin');
    const progress: number[] = [];
    const r = await downloadFile(server.url('/f.bin'), dest, { ...FAST, onProgress: (p) => progress.push(p.received) });
    expect(r).toEqual({ bytes: DATA.length, resumed: true, skipped: false });
    const ranges = server.gets('/f.bin').map((s) => s.range);
    expect(ranges).toHaveLength(2);
    expect(ranges[0]).toBeUndefined();
    // The client asks for the rest of what it kept (all of the first half, barring a very slow reader).
    const resumedAt = Number(/^bytes=(\d+)-$/.exec(ranges[1] ?? '')?.[1]);
    expect(resumedAt).toBeGreaterThan(0);
    expect(resumedAt).toBeLessThanOrEqual(half);
    expectBytes(dest, DATA);
    expect(fs.existsSync(`${dest}.part`)).toBe(false);
    expect(progress.at(-1)).toBe(DATA.length);
  });

  it('resumes a .part left by an earlier run', async () => {
    server.files.set('/f.bin', { data: DATA });
    const dest = path.join(tmp, 'f.bin');
    fs.writeFileSync(`${dest}.part`, DATA.subarray(0, 12345));
    const r = await downloadFile(server.url('/f.bin'), dest, FAST);
    expect(r.resumed).toBe(true);
    expect(server.gets('/f.bin').map((s) => s.range)).toEqual(['bytes=12345-']);
    expectBytes(dest, DATA);
  });

  it('starts again from zero when the server ignores the Range header', async () => {
    server.files.set('/f.bin', { data: DATA, ignoreRange: true });
    const dest = path.join(tmp, 'f.bin');
    fs.writeFileSync(`${dest}.part`, Buffer.alloc(5000, 0xee)); // wrong bytes: must not survive
    const r = await downloadFile(server.url('/f.bin'), dest, FAST);
    expect(r.resumed).toBe(false);
    expectBytes(dest, DATA);
  });

  it('finishes a .part that is already complete (416) after checking its size', async () => {
    server.files.set('/f.bin', { data: DATA });
    const dest = path.join(tmp, 'f.bin');
    fs.writeFileSync(`${dest}.part`, DATA);
    const r = await downloadFile(server.url('/f.bin'), dest, FAST);
    expect(r).toEqual({ bytes: DATA.length, resumed: true, skipped: false });
    expectBytes(dest, DATA);
  });

  it('skips a file already downloaded with the server size', async () => {
    server.files.set('/f.bin', { data: DATA });
    const dest = path.join(tmp, 'f.bin');
    fs.writeFileSync(dest, DATA);
    const r = await downloadFile(server.url('/f.bin'), dest, FAST);
    expect(r).toEqual({ bytes: DATA.length, resumed: false, skipped: true });
    expect(server.seen.map((s) => s.method)).toEqual(['HEAD']);
  });

  it('fails naming the URL and both sizes when the server lies in Content-Length', async () => {
    server.files.set('/f.bin', { data: DATA, claimLength: DATA.length + 1000 });
    const dest = path.join(tmp, 'f.bin');
    const url = server.url('/f.bin');
    const err = await downloadFile(url, dest, FAST).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toContain(url);
    expect((err as Error).message).toContain(String(DATA.length + 1000));
    expect((err as Error).message).toContain(String(DATA.length));
    expect(fs.existsSync(dest)).toBe(false);
  });

  it('fails naming the URL when the server keeps sending fewer bytes than announced', async () => {
    server.files.set('/f.bin', { data: DATA, truncateAt: 50_000 });
    const dest = path.join(tmp, 'f.bin');
    const url = server.url('/f.bin');
    const err = await downloadFile(url, dest, FAST).catch((e: Error) => e);
    expect((err as Error).message).toContain(url);
    expect((err as Error).message).toMatch(/50000 of 200000 bytes/);
    expect(fs.existsSync(dest)).toBe(false);
    expect(fs.statSync(`${dest}.part`).size).toBe(50_000); // kept for a later resume
    expect(server.gets('/f.bin')).toHaveLength(1 + FAST.retries);
  });

  it('fails on 404 naming the URL and the status, without retrying', async () => {
    const url = server.url('/missing.zip');
    await expect(downloadFile(url, path.join(tmp, 'x'), FAST)).rejects.toThrow(`HTTP 404 Not Found for ${url}`);
    expect(server.gets('/missing.zip')).toHaveLength(1);
    expect(fs.readdirSync(tmp)).toEqual([]);
  });

  it('retries 5xx answers, then fails naming the URL and the status', async () => {
    server.files.set('/busy', { data: DATA, status: 503 });
    const url = server.url('/busy');
    await expect(downloadFile(url, path.join(tmp, 'x'), FAST)).rejects.toThrow(new RegExp(`HTTP 503.*${url}`));
    expect(server.gets('/busy')).toHaveLength(1 + FAST.retries);
  });

  it('stops on abort and keeps the .part', async () => {
    server.files.set('/f.bin', { data: DATA, truncateAt: 50_000 });
    const dest = path.join(tmp, 'f.bin');
    const ac = new AbortController();
    const run = downloadFile(server.url('/f.bin'), dest, {
      retries: 100,
      retryDelayMs: 10_000,
      signal: ac.signal,
      onProgress: (p) => p.received >= 50_000 && ac.abort(new Error('stopped by the user')),
    });
    await expect(run).rejects.toThrow('stopped by the user');
    expect(fs.statSync(`${dest}.part`).size).toBe(50_000);
  });
});

describe('extractZip', () => {
  async function writeZipFile(name: string, bytes: Buffer): Promise<string> {
    const file = path.join(tmp, name);
    await fsp.writeFile(file, bytes);
    return file;
  }

  it('reports every entry and returns the counts', async () => {
    const zip = await writeZipFile('ok.zip', valImagesZip());
    const seen: [string, number, number][] = [];
    const dest = path.join(tmp, 'out');
    const r = await extractZip(zip, dest, { onEntry: (n, i, t) => seen.push([n, i, t]) });
    expect(r).toEqual({ files: 2, bytes: JPG1.length + JPG2.length, roots: ['ISIC-2017_Validation_Data'] });
    expect(seen.map(([, i, t]) => [i, t])).toEqual([
      [0, 3],
      [1, 3],
      [2, 3],
    ]);
    expect(listAll(dest)).toEqual([
      'ISIC-2017_Validation_Data',
      'ISIC-2017_Validation_Data/ISIC_0000001.jpg',
      'ISIC-2017_Validation_Data/ISIC_0000002.jpg',
    ]);
  });

  it.each([
    ['deflated text', { data: Buffer.from('ISIC lesion '.repeat(2000)) }],
    ['deflated random bytes (stored deflate blocks)', { data: pseudoRandom(20_000, 3) }],
    ['stored entry', { data: pseudoRandom(20_000, 4), method: 'store' as const }],
  ])('detects one corrupted byte in the data of a %s', async (_label, spec) => {
    const built = buildZip([
      { name: 'ISIC-2017_Validation_Data/a.jpg', data: JPG2 },
      { name: 'ISIC-2017_Validation_Data/b.jpg', ...spec },
    ]);
    const e = built.entries[1]!;
    const bad = Buffer.from(built.bytes);
    bad[e.dataOffset + (e.compressedSize >> 1)]! ^= 0x01;
    const zip = await writeZipFile('bad.zip', bad);
    const dest = path.join(tmp, 'out');
    await expect(extractZip(zip, dest)).rejects.toThrow(
      /bad\.zip is corrupt.*b\.jpg.*Delete .*bad\.zip and download it again/,
    );
    expect(listAll(dest)).toEqual([]); // not even the good first entry, nor a .partial folder
  });

  it('rejects a truncated archive', async () => {
    const full = valImagesZip();
    const zip = await writeZipFile('short.zip', full.subarray(0, full.length >> 1));
    await expect(extractZip(zip, path.join(tmp, 'out'))).rejects.toThrow(/short\.zip is corrupt or truncated/);
    expect(listAll(path.join(tmp, 'out'))).toEqual([]);
  });

  it.each([
    ['../evil.txt', {}],
    ['ISIC-2017_Validation_Data/../../evil.txt', {}],
    ['/tmp/evil.txt', {}],
    ['C:/evil.txt', {}],
    ['ISIC-2017_Validation_Data/link.jpg', { symlink: true, data: '/etc/passwd' }],
  ])('rejects the unsafe entry %s (zip-slip)', async (name, extra) => {
    const zip = await writeZipFile(
      'slip.zip',
      makeZip([
        { name: 'ISIC-2017_Validation_Data/ok.jpg', data: 'fine' },
        { name, data: 'evil', ...extra },
      ]),
    );
    const dest = path.join(tmp, 'a', 'b');
    const err = await extractZip(zip, dest).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toContain(zip);
    expect((err as Error).message).toContain(`"${name}"`);
    expect(listAll(dest)).toEqual([]);
    expect(listAll(tmp).filter((p) => p.includes('evil'))).toEqual([]);
  });
});
