// Safe, all-or-nothing extraction of zip archives (the ISIC archives, up to ~6 GB, zip64 included).
//
// Entries are written into a hidden sibling folder `destDir/.partial-<archive name>` and moved into
// place only after every entry was extracted and checked (sizes by yauzl, CRC-32 here: yauzl does
// not check it), so a broken or malicious archive leaves nothing in `destDir` that a later run
// would take for data.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import yauzl from 'yauzl';

export interface ExtractOptions {
  /** Called before each entry is extracted: its name in the archive, its 0-based index, the entry count. */
  onEntry?: (name: string, index: number, total: number) => void;
  /** Stops the extraction; the partial folder is removed and the promise rejects with the abort reason. */
  signal?: AbortSignal;
}

export interface ExtractResult {
  /** Regular files extracted (directories not counted). */
  files: number;
  /** Uncompressed bytes written. */
  bytes: number;
  /** The top-level names (files or folders) the archive put into `destDir`, sorted. */
  roots: string[];
}

/** Why an archive was refused: it is damaged (`corrupt`) or it holds an entry that is unsafe to write. */
export type ArchiveErrorKind = 'corrupt' | 'unsafe-entry';

export class ArchiveError extends Error {
  constructor(
    message: string,
    readonly kind: ArchiveErrorKind,
    readonly archive: string,
    readonly entry?: string,
  ) {
    super(message);
    this.name = 'ArchiveError';
  }
}

function corrupt(zipPath: string, detail: string, entry?: string): ArchiveError {
  const where = entry === undefined ? '' : ` (entry "${entry}")`;
  return new ArchiveError(
    `archive ${zipPath} is corrupt or truncated${where}: ${detail}. Delete ${zipPath} and download it again.`,
    'corrupt',
    zipPath,
    entry,
  );
}

function unsafe(zipPath: string, entry: string, why: string): ArchiveError {
  return new ArchiveError(
    `archive ${zipPath} holds an unsafe entry "${entry}" (${why}); refusing to extract it. ` +
      'The archive is not an official one or it is damaged: delete it and download it again.',
    'unsafe-entry',
    zipPath,
    entry,
  );
}

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;

/**
 * Checks an entry name and returns it split into path components, or the reason it is unsafe:
 * absolute paths (`/x`, `C:x`, `\\server`), `..` components, NUL bytes.
 */
function safeComponents(name: string): string[] | string {
  if (name.length === 0) return 'empty name';
  if (name.includes('\0')) return 'NUL byte in name';
  if (name.startsWith('/') || name.startsWith('\\')) return 'absolute path';
  if (/^[a-zA-Z]:/.test(name)) return 'absolute path with a drive letter';
  const parts = name.split(/[\\/]/).filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) return "'..' path component (zip-slip)";
  if (parts.length === 0) return 'empty name';
  return parts;
}

/** Passes bytes through, computing their CRC-32 and length. */
class CrcCheck extends Transform {
  crc = 0;
  length = 0;
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.crc = zlib.crc32(chunk, this.crc);
    this.length += chunk.length;
    cb(null, chunk);
  }
}

/** Moves `from` to `to`, merging into existing folders and replacing existing files. */
async function moveMerge(from: string, to: string): Promise<void> {
  const src = await fsp.lstat(from);
  const dst = await fsp.lstat(to).catch(() => null);
  if (src.isDirectory() && dst?.isDirectory()) {
    for (const name of await fsp.readdir(from)) await moveMerge(path.join(from, name), path.join(to, name));
    await fsp.rmdir(from);
    return;
  }
  if (dst !== null) await fsp.rm(to, { recursive: true, force: true });
  await fsp.rename(from, to);
}

/**
 * Extracts `zipPath` into `destDir` (created if missing). All or nothing: on any error the
 * partial folder is removed and `destDir` is left as it was.
 *
 * Rejects with an {@link ArchiveError} naming the archive (and entry) for a corrupt or truncated
 * archive (bad structure, inflate error, size or CRC-32 mismatch) and for unsafe entries
 * (absolute paths, `..` components, symbolic links or other special files).
 */
export async function extractZip(zipPath: string, destDir: string, o: ExtractOptions = {}): Promise<ExtractResult> {
  o.signal?.throwIfAborted();
  const archiveName = path.basename(zipPath);
  await fsp.mkdir(destDir, { recursive: true });
  const partial = path.join(destDir, `.partial-${archiveName}`);
  await fsp.rm(partial, { recursive: true, force: true });
  await fsp.mkdir(partial);

  let zip: yauzl.ZipFile | null = null;
  try {
    try {
      zip = await yauzl.openPromise(zipPath, {
        lazyEntries: true,
        autoClose: false,
        decodeStrings: false, // names are decoded and checked here, so errors can name the entry
        validateEntrySizes: true,
      });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== undefined) throw err; // ENOENT, EACCES...: not corruption
      throw corrupt(zipPath, (err as Error).message.replace(/\.+$/, ''));
    }
    const total = zip.entryCount;
    let files = 0;
    let bytes = 0;
    const roots = new Set<string>();
    let index = 0;
    const entries = zip.eachEntry();
    for (;;) {
      let next: IteratorResult<yauzl.Entry>;
      try {
        next = await entries.next();
      } catch (err) {
        throw corrupt(zipPath, (err as Error).message);
      }
      if (next.done) break;
      o.signal?.throwIfAborted();
      const entry = next.value;
      const name = yauzl.getFileNameLowLevel(entry.generalPurposeBitFlag, entry.fileNameRaw, entry.extraFields, false);
      const parts = safeComponents(name);
      if (typeof parts === 'string') throw unsafe(zipPath, name, parts);
      // The high 16 bits of the external attributes hold a Unix mode only for Unix (3) and macOS (19) hosts.
      const host = entry.versionMadeBy >>> 8;
      const mode = host === 3 || host === 19 ? (entry.externalFileAttributes >>> 16) & S_IFMT : 0;
      const isDir = name.endsWith('/') || name.endsWith('\\') || mode === S_IFDIR;
      if (mode === S_IFLNK) throw unsafe(zipPath, name, 'symbolic link');
      if (mode !== 0 && mode !== S_IFREG && mode !== S_IFDIR) throw unsafe(zipPath, name, 'special file');
      o.onEntry?.(name, index, total);
      index++;
      roots.add(parts[0]!);
      const target = path.join(partial, ...parts);
      if (isDir) {
        await fsp.mkdir(target, { recursive: true });
        continue;
      }
      if (entry.isEncrypted()) throw corrupt(zipPath, 'the entry is encrypted', name);
      await fsp.mkdir(path.dirname(target), { recursive: true });
      let stream: Readable;
      try {
        stream = await zip.openReadStreamPromise(entry);
      } catch (err) {
        throw corrupt(zipPath, (err as Error).message, name);
      }
      const check = new CrcCheck();
      const failed: { read: Error | null } = { read: null };
      stream.on('error', (err: Error) => {
        failed.read ??= err;
      });
      const out = fs.createWriteStream(target);
      try {
        await pipeline(stream, check, out, o.signal ? { signal: o.signal } : {});
      } catch (err) {
        o.signal?.throwIfAborted();
        if (failed.read !== null) throw corrupt(zipPath, failed.read.message, name);
        throw new Error(`could not write ${target} while extracting ${zipPath}: ${(err as Error).message}`, {
          cause: err,
        });
      }
      if (check.length !== entry.uncompressedSize) {
        throw corrupt(zipPath, `size ${check.length} instead of ${entry.uncompressedSize} bytes`, name);
      }
      if (check.crc >>> 0 !== entry.crc32 >>> 0) {
        throw corrupt(zipPath, `CRC-32 ${hex(check.crc)} instead of ${hex(entry.crc32)}`, name);
      }
      files++;
      bytes += check.length;
    }
    zip.close();
    zip = null;
    o.signal?.throwIfAborted();

    // Everything checked out: move the entries into place.
    const sortedRoots = [...roots].sort();
    for (const root of sortedRoots) await moveMerge(path.join(partial, root), path.join(destDir, root));
    await fsp.rm(partial, { recursive: true, force: true });
    return { files, bytes, roots: sortedRoots };
  } catch (err) {
    if (zip !== null) {
      try {
        zip.close();
      } catch {
        // already closed
      }
    }
    await fsp.rm(partial, { recursive: true, force: true }).catch(() => undefined);
    throw err;
  }
}

function hex(n: number): string {
  return (n >>> 0).toString(16).padStart(8, '0');
}
