// Writes small .xlsx workbooks for tests, laid out as Excel writes them: shared strings (a string
// given as { rich: [...] } becomes runs of rich text), numbers as values, styled empty cells,
// merged cells, namespaces, and XML entities.
import { makeZip } from './zip_writer.js';

export type XlsxCell = string | number | null | { rich: string[] } | { inline: string };

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const colName = (i: number): string =>
  (i >= 26 ? colName(Math.floor(i / 26) - 1) : '') + String.fromCharCode(65 + (i % 26));

/** A workbook whose first sheet holds `rows` (row 1 first; null cells are styled but empty). */
export function xlsxBytes(rows: XlsxCell[][], o: { merged?: string[]; sheetName?: string } = {}): Buffer {
  const strings: string[] = [];
  const stringIndex = (xml: string) => {
    const at = strings.indexOf(xml);
    return at >= 0 ? at : strings.push(xml) - 1;
  };
  const rowXml = rows.map((cells, r) => {
    const cs = cells.map((c, k) => {
      const ref = `${colName(k)}${r + 1}`;
      if (c === null) return `<c r="${ref}" s="1"/>`;
      if (typeof c === 'number') return `<c r="${ref}" s="2"><v>${c}</v></c>`;
      if (typeof c === 'object' && 'inline' in c)
        return `<c r="${ref}" t="inlineStr"><is><t>${esc(c.inline)}</t></is></c>`;
      const si =
        typeof c === 'string'
          ? `<t xml:space="preserve">${esc(c)}</t>`
          : c.rich.map((t) => `<r><rPr><b/><sz val="11"/></rPr><t xml:space="preserve">${esc(t)}</t></r>`).join('');
      return `<c r="${ref}" s="3" t="s"><v>${stringIndex(si)}</v></c>`;
    });
    return `<row r="${r + 1}" spans="1:${Math.max(1, cells.length)}">${cs.join('')}</row>`;
  });
  const NS =
    'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"';
  const merged = o.merged?.length
    ? `<mergeCells count="${o.merged.length}">${o.merged.map((m) => `<mergeCell ref="${m}"/>`).join('')}</mergeCells>`
    : '';
  const head = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n';
  return makeZip([
    {
      name: '[Content_Types].xml',
      data: `${head}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>`,
    },
    {
      name: '_rels/.rels',
      data: `${head}<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>`,
    },
    {
      name: 'xl/workbook.xml',
      data: `${head}<workbook ${NS}><bookViews><workbookView/></bookViews><sheets><sheet name="${esc(o.sheetName ?? 'Folha1')}" sheetId="1" r:id="rId3"/></sheets></workbook>`,
    },
    {
      name: 'xl/_rels/workbook.xml.rels',
      data: `${head}<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/><Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>`,
    },
    {
      name: 'xl/sharedStrings.xml',
      data: `${head}<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="${strings.length}" uniqueCount="${strings.length}">${strings.map((s) => `<si>${s}</si>`).join('')}</sst>`,
    },
    {
      name: 'xl/worksheets/sheet1.xml',
      data: `${head}<worksheet ${NS}><dimension ref="A1"/><sheetViews><sheetView workbookViewId="0"/></sheetViews><cols><col min="1" max="1" width="12"/></cols><sheetData>${rowXml.join('')}</sheetData>${merged}</worksheet>`,
    },
  ]);
}
