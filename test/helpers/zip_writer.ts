// Writes small zip archives for tests (deflate or stored entries, directories, symlinks), and
// reports where each entry's data lies so tests can damage it on purpose.
import zlib from 'node:zlib';

export interface ZipEntrySpec {
  /** Name as stored in the archive (not checked: tests use it to build malicious archives). */
  name: string;
  data?: Uint8Array | string;
  /** Default 'deflate' (directories are always stored). */
  method?: 'deflate' | 'store';
  /** Store the entry as a Unix symbolic link whose target is `data`. */
  symlink?: boolean;
}

export interface ZipLayoutEntry {
  name: string;
  /** Offset of the entry's (compressed) data in the archive. */
  dataOffset: number;
  compressedSize: number;
}

export interface BuiltZip {
  bytes: Buffer;
  entries: ZipLayoutEntry[];
}

const DOS_TIME = (12 << 11) | (0 << 5); // 12:00:00
const DOS_DATE = ((2017 - 1980) << 9) | (1 << 5) | 1; // 2017-01-01

export function buildZip(specs: ZipEntrySpec[]): BuiltZip {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  const layout: ZipLayoutEntry[] = [];
  let offset = 0;
  for (const spec of specs) {
    const name = Buffer.from(spec.name, 'utf8');
    const isDir = spec.name.endsWith('/');
    const raw = spec.data === undefined ? Buffer.alloc(0) : Buffer.from(spec.data);
    const store = isDir || spec.symlink === true || spec.method === 'store';
    const data = store ? raw : zlib.deflateRawSync(raw);
    const method = store ? 0 : 8;
    const crc = zlib.crc32(raw) >>> 0;
    const mode = spec.symlink ? 0o120777 : isDir ? 0o040755 : 0o100644;
    const external = ((mode << 16) | (isDir ? 0x10 : 0)) >>> 0;

    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4); // version needed
    local.writeUInt16LE(0x0800, 6); // UTF-8 names
    local.writeUInt16LE(method, 8);
    local.writeUInt16LE(DOS_TIME, 10);
    local.writeUInt16LE(DOS_DATE, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(raw.length, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);

    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE((3 << 8) | 20, 4); // made by Unix, zip 2.0
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt16LE(method, 10);
    central.writeUInt16LE(DOS_TIME, 12);
    central.writeUInt16LE(DOS_DATE, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(raw.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt16LE(0, 30); // extra
    central.writeUInt16LE(0, 32); // comment
    central.writeUInt16LE(0, 34); // disk
    central.writeUInt16LE(0, 36); // internal attributes
    central.writeUInt32LE(external, 38);
    central.writeUInt32LE(offset, 42);

    layout.push({ name: spec.name, dataOffset: offset + 30 + name.length, compressedSize: data.length });
    locals.push(local, name, data);
    centrals.push(central, name);
    offset += 30 + name.length + data.length;
  }
  const cd = Buffer.concat(centrals);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(0, 4);
  eocd.writeUInt16LE(0, 6);
  eocd.writeUInt16LE(specs.length, 8);
  eocd.writeUInt16LE(specs.length, 10);
  eocd.writeUInt32LE(cd.length, 12);
  eocd.writeUInt32LE(offset, 16);
  eocd.writeUInt16LE(0, 20);
  return { bytes: Buffer.concat([...locals, cd, eocd]), entries: layout };
}

/** The archive's bytes only. */
export function makeZip(specs: ZipEntrySpec[]): Buffer {
  return buildZip(specs).bytes;
}
