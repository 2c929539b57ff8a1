// Reports as a list of blocks (headings, paragraphs, tables, images, lists) rendered to both
// Markdown and a self-contained HTML page, so the two never say different things.

export type Cell = string | { text: string; bold?: boolean };

export type Block =
  | { kind: 'heading'; text: string; level: 1 | 2 | 3 }
  | { kind: 'paragraph'; text: string }
  | { kind: 'table'; header: string[]; rows: Cell[][] }
  | { kind: 'image'; src: string; alt: string; width?: number }
  | { kind: 'list'; items: string[] }
  | { kind: 'code'; text: string };

const cellText = (c: Cell) => (typeof c === 'string' ? c : c.text);
const cellBold = (c: Cell) => typeof c !== 'string' && c.bold === true;

export function toMarkdown(blocks: readonly Block[]): string {
  const out: string[] = [];
  for (const b of blocks) {
    switch (b.kind) {
      case 'heading':
        out.push(`${'#'.repeat(b.level)} ${b.text}`);
        break;
      case 'paragraph':
        out.push(b.text);
        break;
      case 'table': {
        const esc = (s: string) => s.replace(/\|/g, '\\|');
        out.push(`| ${b.header.map(esc).join(' | ')} |`, `|${b.header.map(() => '---').join('|')}|`);
        for (const r of b.rows)
          out.push(`| ${r.map((c) => (cellBold(c) ? `**${esc(cellText(c))}**` : esc(cellText(c)))).join(' | ')} |`);
        break;
      }
      case 'image':
        out.push(`![${b.alt}](${b.src})`);
        break;
      case 'list':
        out.push(...b.items.map((i) => `- ${i}`));
        break;
      case 'code':
        out.push('```sh', b.text, '```');
        break;
    }
    out.push('');
  }
  return out.join('\n');
}

export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** `code` spans and **bold** in paragraph text, the rest escaped. */
function inline(s: string): string {
  return escapeHtml(s)
    .replace(/`([^`]+)`/g, '<code>$1</code>')
    .replace(/\*\*([^*]+)\*\*/g, '<b>$1</b>');
}

export function toHtml(title: string, blocks: readonly Block[]): string {
  const body: string[] = [];
  for (const b of blocks) {
    switch (b.kind) {
      case 'heading':
        body.push(`<h${b.level}>${inline(b.text)}</h${b.level}>`);
        break;
      case 'paragraph':
        body.push(`<p>${inline(b.text)}</p>`);
        break;
      case 'table':
        body.push(
          '<table>',
          `<thead><tr>${b.header.map((h) => `<th>${inline(h)}</th>`).join('')}</tr></thead>`,
          '<tbody>',
          ...b.rows.map(
            (r) =>
              `<tr>${r.map((c) => `<td>${cellBold(c) ? `<b>${inline(cellText(c))}</b>` : inline(cellText(c))}</td>`).join('')}</tr>`,
          ),
          '</tbody></table>',
        );
        break;
      case 'image':
        body.push(
          `<figure><img src="${escapeHtml(b.src)}" alt="${escapeHtml(b.alt)}"${b.width ? ` width="${b.width}"` : ''}><figcaption>${inline(b.alt)}</figcaption></figure>`,
        );
        break;
      case 'list':
        body.push('<ul>', ...b.items.map((i) => `<li>${inline(i)}</li>`), '</ul>');
        break;
      case 'code':
        body.push(`<pre><code>${escapeHtml(b.text)}</code></pre>`);
        break;
    }
  }
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>
body { font: 15px/1.5 system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 4px 10px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
thead { background: #f3f3f3; }
figure { display: inline-block; margin: 0.5em 1em 0.5em 0; vertical-align: top; }
figcaption { font-size: 13px; color: #555; }
img { max-width: 100%; image-rendering: pixelated; }
code, pre { background: #f5f5f5; }
pre { padding: 0.6em; overflow-x: auto; }
</style></head>
<body>
${body.join('\n')}
</body></html>
`;
}
