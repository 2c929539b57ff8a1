// dermosynth synthesize end to end on a tiny trained run: determinism with a seed, the id and
// provenance format, class balancing, resizing notices, clear errors, and a run killed mid-way
// that resumes into exactly what an uninterrupted run writes.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { readDataset } from '../../src/data/readers/index.js';
import { balanceCounts } from '../../src/synth/balance.js';
import { datasetSources } from '../../src/synth/sources.js';
import { synthesize, type SynthesizeRequest } from '../../src/synth/synthesize.js';
import { PROVENANCE_COLUMNS } from '../../src/synth/output.js';
import { TINY, bin, cliEnv, cliRunner, root, sampleAndTinyRun } from '../helpers/cli.js';

const env = cliEnv;
const cli = cliRunner({ env, timeoutMs: 120_000 });

const CLASSES = ['nevus', 'melanoma', 'seborrheic_keratosis'];
let work = '';
let data = '';
let run = '';

function request(out: string, extra: Partial<SynthesizeRequest> = {}): SynthesizeRequest {
  return {
    run,
    device: 'cpu',
    from: { kind: 'dataset', dir: data, split: 'train', skipBad: false },
    what: { kind: 'class', diagnosis: 'melanoma', count: 6 },
    deform: true,
    maskPool: 'same',
    seed: 3,
    firstId: 1,
    out,
    mode: 'new',
    batch: null,
    format: 'png',
    ...extra,
  };
}

/** Every file of a folder (recursively) by relative path -> sha256. */
function digest(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!e.isFile() || e.name === 'synthesis.json') continue;
    const f = path.join(e.parentPath, e.name);
    out[path.relative(dir, f)] = createHash('sha256').update(readFileSync(f)).digest('hex');
  }
  return out;
}

function csvRows(file: string): string[][] {
  return readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((l) => l.split(','));
}

beforeAll(() => {
  work = mkdtempSync(path.join(os.tmpdir(), 'dermosynth-synth-'));
  ({ data, run } = sampleAndTinyRun(work, cli, { lesions: 30, size: 48 }));
}, 120_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('synthesize', () => {
  it('writes a flat dataset of SYN_ lesions with provenance, identical for the same seed', async () => {
    const a = path.join(work, 'a');
    const b = path.join(work, 'b');
    const ra = await synthesize(request(a));
    await synthesize(request(b, { batch: 4 }));
    expect(ra).toMatchObject({ total: 6, written: 6, finished: true, counts: { melanoma: 6, nevus: 0 } });
    expect(digest(b)).toEqual(digest(a));
    const c = path.join(work, 'c');
    await synthesize(request(c, { seed: 4 }));
    expect(digest(c)['images/SYN_0000001.png']).not.toBe(digest(a)['images/SYN_0000001.png']);

    // The readers take it as a dataset of synthetic lesions.
    const index = await readDataset(a);
    expect(index.problems.filter((p) => p.severity === 'error')).toEqual([]);
    expect(index.records).toHaveLength(6);
    for (const r of index.records) {
      expect(r.id).toMatch(/^SYN_\d{7}$/);
      expect(r.synthetic).toBe(true);
      expect(index.classes[r.label!]).toBe('melanoma');
      const meta = await sharp(r.image!).metadata();
      expect([meta.width, meta.height]).toEqual([32, 32]);
    }
    // provenance.csv: one row per lesion naming the source, seed, model and the weights' hash.
    const prov = csvRows(path.join(a, 'provenance.csv'));
    expect(prov[0]).toEqual([...PROVENANCE_COLUMNS]);
    const sha = createHash('sha256')
      .update(readFileSync(path.join(run, 'generator.safetensors')))
      .digest('hex');
    const sources = await readDataset(data);
    const byId = new Map(sources.records.map((r) => [r.id, r]));
    expect(prov.slice(1).map((r) => r[0])).toEqual(index.records.map((r) => r.id));
    for (const row of prov.slice(1)) {
      const p = Object.fromEntries(PROVENANCE_COLUMNS.map((c, i) => [c, row[i]]));
      expect(p.diagnosis).toBe('melanoma');
      expect(byId.get(p.source_id!)?.label).toBe(1); // a melanoma's mask (--mask-pool same)
      expect(p.source_file).toBe(byId.get(p.source_id!)!.mask);
      expect(p.deform_seed).toMatch(/^\d+$/);
      expect(p.model).toBe('proposed');
      expect(p.checkpoint_sha256).toBe(sha);
      expect(p.run).toBe(run);
    }
  });

  it('--balance fills each class of the split up to the target', async () => {
    const out = path.join(work, 'balanced');
    const { counts } = await datasetSources(data, 'train', CLASSES, false);
    const want = balanceCounts(counts, { kind: 'count', count: 12 });
    const r = await synthesize(request(out, { what: { kind: 'balance', target: { kind: 'count', count: 12 } } }));
    expect(r.counts).toEqual(Object.fromEntries(CLASSES.map((c, k) => [c, want[k]])));
    const labels = csvRows(path.join(out, 'labels.csv')).slice(1);
    const got = [0, 0, 0];
    for (const [, mel, sk] of labels) got[mel === '1.0' ? 1 : sk === '1.0' ? 2 : 0]!++;
    expect(got).toEqual(want);
    for (let k = 0; k < 3; k++) expect(got[k]! + counts[k]!).toBe(12);
  });

  it('takes a folder of masks, resizing other sizes with a notice, and refuses empty ones', async () => {
    const masks = path.join(work, 'masks');
    mkdirSync(masks);
    const m = new Uint8Array(40 * 30);
    for (let y = 8; y < 22; y++) for (let x = 10; x < 30; x++) m[y * 40 + x] = 255;
    await sharp(m, { raw: { width: 40, height: 30, channels: 1 } })
      .toColourspace('b-w')
      .png()
      .toFile(path.join(masks, 'shape_segmentation.png'));
    const notices: string[] = [];
    const out = path.join(work, 'from-masks');
    const r = await synthesize(
      request(out, {
        from: { kind: 'masks', dir: masks },
        what: { kind: 'class', diagnosis: 'seborrheic_keratosis', count: 3 },
      }),
      { onNotice: (n) => notices.push(n) },
    );
    expect(r.total).toBe(3);
    expect(notices.join('\n')).toMatch(
      /shape_segmentation\.png is 40x30, not the run's 32x32: masks of other sizes are resized/,
    );
    expect(csvRows(path.join(out, 'provenance.csv'))[1]![2]).toBe('shape');

    await sharp(new Uint8Array(32 * 32), { raw: { width: 32, height: 32, channels: 1 } })
      .toColourspace('b-w')
      .png()
      .toFile(path.join(masks, 'empty.png'));
    await expect(
      synthesize(
        request(path.join(work, 'x-empty'), {
          from: { kind: 'masks', dir: masks },
          deform: false,
          what: { kind: 'class', diagnosis: 'nevus', count: 2 },
        }),
      ),
    ).rejects.toThrow(/empty\.png: the mask is empty/);
  });

  it('gives clear errors for a run without weights, an existing output, and impossible requests', async () => {
    const bare = path.join(work, 'bare-run');
    mkdirSync(bare);
    copyFileSync(path.join(run, 'config.json'), path.join(bare, 'config.json'));
    await expect(synthesize({ ...request(path.join(work, 'x1')), run: bare })).rejects.toThrow(
      /has no weights yet \(neither generator\.safetensors nor a checkpoint/,
    );
    await expect(synthesize({ ...request(path.join(work, 'x2')), run: path.join(work, 'nowhere') })).rejects.toThrow(
      /nowhere: no such run directory/,
    );
    await expect(synthesize({ ...request(path.join(work, 'x3')), run: data })).rejects.toThrow(
      /not a training run \(no config\.json\)/,
    );
    await expect(synthesize(request(path.join(work, 'a')))).rejects.toThrow(
      /already exists and is not empty; pass --overwrite/,
    );
    await expect(synthesize(request(data, { mode: 'overwrite' }))).rejects.toThrow(
      /--overwrite replaces only a synthetic dataset/,
    );
    expect(existsSync(path.join(data, 'labels.csv')), 'a dataset is never deleted by --overwrite').toBe(true);
    await expect(
      synthesize(request(path.join(work, 'x4'), { what: { kind: 'class', diagnosis: 'psoriasis', count: 1 } })),
    ).rejects.toThrow(/'psoriasis' is not one of/);
    await expect(
      synthesize(
        request(path.join(work, 'x5'), { deform: false, what: { kind: 'class', diagnosis: 'melanoma', count: 500 } }),
      ),
    ).rejects.toThrow(/add --deform/);
    await expect(
      synthesize(
        request(path.join(work, 'x6'), {
          from: { kind: 'masks', dir: path.join(work, 'masks') },
          what: { kind: 'class', diagnosis: 'as-is', count: 1 },
        }),
      ),
    ).rejects.toThrow(/a folder of masks has none/);
    // --overwrite replaces an earlier synthetic dataset.
    const r = await synthesize(
      request(path.join(work, 'a'), { mode: 'overwrite', what: { kind: 'class', diagnosis: 'nevus', count: 2 } }),
    );
    expect(r.total).toBe(2);
    expect(readdirSync(path.join(work, 'a', 'images'))).toHaveLength(2);
  });

  it('the command line names bad flags', () => {
    let r = cli('synthesize', '--run', run, '--out', path.join(work, 'y1'), '--class', 'melanoma', '--count', '2');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/exactly one of --dataset DIR .* or --masks DIR/);
    r = cli(
      'synthesize',
      '--run',
      run,
      '--dataset',
      data,
      '--out',
      path.join(work, 'y2'),
      '--balance',
      '--target',
      'lots',
    );
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/--target/);
    r = cli('synthesize', '--run', run, '--dataset', data, '--out', path.join(work, 'y3'), '--class', 'melanoma');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/--class DIAGNOSIS --count N, or --balance/);
  }, 60_000);

  it('a run killed mid-way keeps only complete lesions and --resume finishes it exactly', async () => {
    const args = [
      'synthesize',
      '--run',
      run,
      '--dataset',
      data,
      '--class',
      'nevus',
      '--count',
      '300',
      '--deform',
      '--batch',
      '2',
      '--seed',
      '9',
      '--format',
      'png',
    ];
    const killed = path.join(work, 'killed');
    const child = spawn(process.execPath, [bin, ...args, '--out', killed], { cwd: root, env, stdio: 'ignore' });
    const prov = path.join(killed, 'provenance.csv');
    await new Promise<void>((resolve, reject) => {
      const t = setInterval(() => {
        if (existsSync(prov) && readFileSync(prov, 'utf8').split('\n').length > 8) {
          clearInterval(t);
          child.kill('SIGKILL');
          resolve();
        }
      }, 5);
      child.on('exit', () => {
        clearInterval(t);
        reject(new Error('the run ended before it was killed'));
      });
    });
    await new Promise((r) => child.on('exit', r));
    // What a killed run leaves: rows only for lesions whose files are complete.
    const rows = csvRows(prov).slice(1);
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.length).toBeLessThan(300);
    for (const [id] of rows) {
      expect(existsSync(path.join(killed, 'images', `${id}.png`))).toBe(true);
      await sharp(path.join(killed, 'images', `${id}.png`))
        .raw()
        .toBuffer(); // decodes: complete
    }
    // --resume with other options is refused; with the same ones it finishes.
    let r = cli(...args, '--out', killed, '--resume', '--seed', '10');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/--resume: .* was made differently/);
    r = cli(...args, '--out', killed, '--resume');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/resuming at \d+ of 300/);
    const whole = path.join(work, 'whole');
    r = cli(...args, '--out', whole);
    expect(r.status, r.stderr).toBe(0);
    const ids = csvRows(prov)
      .slice(1)
      .map((row) => row[0]);
    expect(new Set(ids).size).toBe(300);
    expect(digest(killed)).toEqual(digest(whole));
    expect(readdirSync(path.join(killed, 'images')).filter((n) => n.startsWith('.'))).toEqual([]);
  }, 120_000);
});
