// The cells of an .xlsx workbook's first sheet as text: for the small tables that datasets ship as
// spreadsheets (PH2_dataset.xlsx). The zip is read with yauzl, in memory (each part at most 16 MiB,
// so a zip bomb is refused), and only the SpreadsheetML parts a table needs: the workbook (its first
// sheet), the workbook's relationships, the shared strings and that sheet. A cell's text is its
// shared or inline string, or its value as written (numbers, booleans, formulas' cached results);
// styles, number formats and merged-cell spans are ignored (a merged cell's text is in its first cell).
import path from 'node:path';
import yauzl from 'yauzl';
import { DataError } from './problems.js';

/** One row of a sheet: its 1-based row number and its cells by column (A = 0), '' where empty. */
export interface SheetRow {
  row: number;
  cells: string[];
}

const MAX_PART_BYTES = 16 << 20;

export async function readFirstSheet(file: string): Promise<SheetRow[]> {
  const parts = await readXmlParts(file);
  const part = (name: string) => {
    const text = parts.get(name);
    if (text === undefined)
      throw new DataError(
        `${file}: not an .xlsx workbook (no ${name} in it); save the table again as an Excel workbook`,
      );
    return text;
  };
  const sheetTag = elements(part('xl/workbook.xml'), 'sheet')[0];
  const relId = sheetTag && [...attributes(sheetTag.attrs)].find(([k]) => k.endsWith(':id'))?.[1];
  if (!relId) throw new DataError(`${file}: the workbook has no sheet`);
  const rels = elements(part('xl/_rels/workbook.xml.rels'), 'Relationship').map((e) => attributes(e.attrs));
  const target = rels.find((r) => r.get('Id') === relId)?.get('Target');
  if (!target)
    throw new DataError(
      `${file}: the workbook names sheet ${relId} but does not say where it is; save the table again as an Excel workbook`,
    );
  const strings = sharedStrings(parts.get('xl/sharedStrings.xml') ?? '');
  return sheetRows(
    part(target.startsWith('/') ? target.slice(1) : path.posix.normalize(`xl/${target}`)),
    strings,
    file,
  );
}

/** The .xml and .rels parts of the zip, by name. */
async function readXmlParts(file: string): Promise<Map<string, string>> {
  let zip: yauzl.ZipFile;
  try {
    zip = await yauzl.openPromise(file, { lazyEntries: true, autoClose: false, validateEntrySizes: true });
  } catch (e) {
    throw new DataError(
      `${file}: not a readable .xlsx workbook (${(e as Error).message}); save the table again as an Excel workbook`,
    );
  }
  const parts = new Map<string, string>();
  try {
    for await (const entry of zip.eachEntry()) {
      if (!/\.(xml|rels)$/.test(entry.fileName)) continue;
      if (entry.uncompressedSize > MAX_PART_BYTES)
        throw new Error(`${entry.fileName} is ${entry.uncompressedSize} bytes, more than a table needs`);
      const chunks: Buffer[] = [];
      for await (const chunk of await zip.openReadStreamPromise(entry)) chunks.push(chunk as Buffer);
      parts.set(entry.fileName, Buffer.concat(chunks).toString('utf8'));
    }
  } catch (e) {
    throw new DataError(
      `${file}: not a readable .xlsx workbook (${(e as Error).message}); save the table again as an Excel workbook`,
    );
  } finally {
    zip.close();
  }
  return parts;
}

/** Every `<name ...>content</name>` or `<name .../>` (any namespace prefix): its attributes and content. */
function elements(xml: string, name: string): { attrs: string; content: string }[] {
  const re = new RegExp(`<(?:\\w+:)?${name}(?=[\\s/>])([^>]*?)(?:/>|>([\\s\\S]*?)</(?:\\w+:)?${name}>)`, 'g');
  return [...xml.matchAll(re)].map((m) => ({ attrs: m[1]!, content: m[2] ?? '' }));
}

function attributes(attrs: string): Map<string, string> {
  return new Map(
    [...attrs.matchAll(/([\w:.-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g)].map((m) => [m[1]!, unescapeXml(m[2] ?? m[3]!)]),
  );
}

/** The text of an `<si>` or `<is>`: its `<t>` runs, without phonetic guides (`<rPh>`). */
function textOf(content: string): string {
  const plain = content.replace(/<(?:\w+:)?rPh\b[\s\S]*?<\/(?:\w+:)?rPh>/g, '');
  return elements(plain, 't')
    .map((t) => unescapeXml(t.content))
    .join('');
}

function sharedStrings(xml: string): string[] {
  return elements(xml, 'si').map((si) => textOf(si.content));
}

function sheetRows(xml: string, strings: string[], file: string): SheetRow[] {
  const rows: SheetRow[] = [];
  let rowNumber = 0;
  for (const r of elements(xml, 'row')) {
    rowNumber = Number(attributes(r.attrs).get('r') ?? rowNumber + 1);
    const cells: string[] = [];
    for (const c of elements(r.content, 'c')) {
      const a = attributes(c.attrs);
      const ref = a.get('r');
      const col = ref ? columnIndex(ref) : cells.length;
      const v = elements(c.content, 'v')[0]?.content;
      const type = a.get('t');
      const shared = type === 's' && v !== undefined ? strings[Number(v)] : undefined;
      if (type === 's' && v !== undefined && shared === undefined) {
        throw new DataError(
          `${file}: cell ${ref ?? `${col + 1} of row ${rowNumber}`} names shared string ${v}, which the workbook lacks; save the table again as an Excel workbook`,
        );
      }
      const text =
        shared ?? (type === 'inlineStr' ? textOf(elements(c.content, 'is')[0]?.content ?? '') : unescapeXml(v ?? ''));
      while (cells.length < col) cells.push('');
      cells[col] = text;
    }
    rows.push({ row: rowNumber, cells });
  }
  return rows;
}

/** "AB12" -> 27 (A = 0). */
function columnIndex(ref: string): number {
  let n = 0;
  for (const ch of /^[A-Z]+/.exec(ref.toUpperCase())?.[0] ?? 'A') n = n * 26 + (ch.charCodeAt(0) - 64);
  return n - 1;
}

/** XML entities and character references, and SpreadsheetML's _xHHHH_ escapes. */
function unescapeXml(s: string): string {
  return s
    .replace(/&(lt|gt|amp|quot|apos|#\d+|#x[0-9a-fA-F]+);/g, (_, e: string) =>
      e[0] === '#'
        ? String.fromCodePoint(e[1] === 'x' ? parseInt(e.slice(2), 16) : Number(e.slice(1)))
        : ({ lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" } as Record<string, string>)[e]!,
    )
    .replace(/_x([0-9a-fA-F]{4})_/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
}
