// A strict CSV reader (RFC 4180: quotes, escaped quotes, CRLF) that keeps line numbers for errors.

export interface CsvTable {
  file: string;
  header: string[];
  /** Data rows, each with the 1-based line number it starts on. */
  rows: { line: number; cells: string[] }[];
}

export class CsvError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    message: string,
  ) {
    super(`${file}:${line}: ${message}`);
    this.name = 'CsvError';
  }
}

/** Parses CSV text. Blank lines are skipped; a row with the wrong number of cells is an error. */
export function parseCsv(text: string, file: string): CsvTable {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1); // byte-order mark
  const records: { line: number; cells: string[] }[] = [];
  let cells: string[] = [];
  let cell = '';
  let quoted = false;
  let line = 1;
  let recordLine = 1;
  let cellStarted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          cell += '"';
          i++;
        } else quoted = false;
      } else {
        if (c === '\n') line++;
        cell += c;
      }
      continue;
    }
    if (c === '"') {
      if (cell.length > 0) throw new CsvError(file, line, 'a quote inside an unquoted cell; quote the whole cell');
      quoted = true;
      cellStarted = true;
    } else if (c === ',') {
      cells.push(cell);
      cell = '';
      cellStarted = true;
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      if (cellStarted || cell.length > 0 || cells.length > 0) {
        cells.push(cell);
        records.push({ line: recordLine, cells });
      }
      cells = [];
      cell = '';
      cellStarted = false;
      line++;
      recordLine = line;
    } else {
      cell += c;
      cellStarted = true;
    }
  }
  if (quoted) throw new CsvError(file, recordLine, 'a quoted cell is never closed');
  if (cellStarted || cell.length > 0 || cells.length > 0) {
    cells.push(cell);
    records.push({ line: recordLine, cells });
  }
  if (records.length === 0) throw new CsvError(file, 1, 'the file is empty; expected a header row');
  const header = records[0]!.cells.map((h) => h.trim());
  for (const r of records.slice(1)) {
    if (r.cells.length !== header.length) {
      throw new CsvError(
        file,
        r.line,
        `expected ${header.length} cells (${header.join(',')}), found ${r.cells.length}`,
      );
    }
  }
  return { file, header, rows: records.slice(1) };
}

/** The index of a required column, or an error naming the file and the columns it has. */
export function requireColumn(t: CsvTable, name: string): number {
  const i = t.header.indexOf(name);
  if (i < 0) throw new CsvError(t.file, 1, `missing column '${name}' (the header is: ${t.header.join(',')})`);
  return i;
}
