// safetensors: TS round trips for every dtype, the byte layout of our writer against the
// reference library's, interoperability with PyTorch in both directions, module save/load with
// strict checking, and atomic saves.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as torch from '../../src/torch/index.js';
import * as nn from '../../src/nn/index.js';
import type { Tensor } from '../../src/torch/index.js';
import { TORCH_FIXTURES_MISSING, torchFixture } from '../helpers/torch_fixtures.js';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');
const READER = path.join(FIXTURES, 'read_safetensors.py');
const PYTHON = '/usr/bin/python3';
const HAS_TORCH_PYTHON =
  fs.existsSync(PYTHON) && spawnSync(PYTHON, ['-c', 'import torch'], { stdio: 'ignore', timeout: 60_000 }).status === 0;
if (!HAS_TORCH_PYTHON) {
  console.warn(`safetensors.test.ts: ${PYTHON} with torch is not available; the PyTorch interop tests are skipped`);
}
const PY_SKIP = HAS_TORCH_PYTHON ? '' : ` [SKIPPED: ${PYTHON} with torch not found]`;

const FILE_DTYPE: Record<string, string> = {
  float64: 'F64',
  float32: 'F32',
  float16: 'F16',
  bfloat16: 'BF16',
  int64: 'I64',
  int32: 'I32',
  int16: 'I16',
  int8: 'I8',
  uint8: 'U8',
  bool: 'BOOL',
};
const ELEMENT_SIZE: Record<string, number> = {
  F64: 8,
  I64: 8,
  F32: 4,
  I32: 4,
  F16: 2,
  BF16: 2,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dermosynth-safetensors-'));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function rawBytes(t: Tensor): Buffer {
  return Buffer.from(t.bytes());
}

/** One tensor of every dtype, including empty and 0-d tensors and special float values. */
function everyDtype(): Map<string, Tensor> {
  return new Map<string, Tensor>([
    ['f32', torch.tensor(Float32Array.from([1.5, -2, 0.1, 3e38, Number.NaN, -Infinity]), { shape: [2, 3] })],
    ['f64', torch.tensor(Float64Array.from([Math.PI, -0, 1e-310, 1e300]), { shape: [2, 2] })],
    ['f16', torch.tensor([1, -2.5, 65504, 0.1]).to('float16')],
    [
      'bf16',
      torch
        .tensor([
          [1, -2.5],
          [3e38, 0.1],
        ])
        .to('bfloat16'),
    ],
    ['i64', torch.tensor(BigInt64Array.from([0n, -1n, 2n ** 53n + 1n, -(2n ** 62n), 2n ** 63n - 1n]))],
    ['i32', torch.tensor(Int32Array.from([-(2 ** 31), 2 ** 31 - 1, 7]))],
    ['i16', torch.tensor(Int16Array.from([-32768, 32767]))],
    ['i8', torch.tensor(Int8Array.from([-128, 127, 3]))],
    ['u8', torch.tensor(Uint8Array.from([0, 255, 17]), { shape: [3, 1] })],
    [
      'bool',
      torch.tensor([
        [true, false],
        [false, true],
      ]),
    ],
    ['empty_f32', torch.zeros([0])],
    ['empty_i32', torch.zeros([2, 0, 3], { dtype: 'int32' })],
    ['scalar_f64', torch.tensor(2.5, { dtype: 'float64' })],
    ['scalar_i64', torch.zeros([], { dtype: 'int64' }).add_(42)],
    ['scalar_bool', torch.tensor(true)],
  ]);
}

function parseLayout(bytes: Uint8Array): { n: number; text: string; header: Record<string, any>; dataStart: number } {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(0, true));
  const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n));
  return { n, text, header: JSON.parse(text), dataStart: 8 + n };
}

function pythonRead(file: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(PYTHON, [READER, file], { encoding: 'utf-8', timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('TS -> TS round trips', () => {
  it('every dtype, empty and 0-d tensors keep dtype, shape and exact bytes (NaN, -0, subnormals included)', () => {
    torch.tidy(() => {
      const tensors = everyDtype();
      const metadata = { epoch: '12', note: 'ünïcödé ✓ "quoted"\n\ttab', empty: '' };
      const back = torch.readSafetensors(torch.writeSafetensors(tensors, metadata));
      expect(back.metadata).toEqual(metadata);
      expect([...back.tensors.keys()].sort()).toEqual([...tensors.keys()].sort());
      for (const [name, t] of tensors) {
        const r = back.tensors.get(name)!;
        expect(r.dtype, name).toBe(t.dtype);
        expect(r.shape, name).toEqual(t.shape);
        expect(rawBytes(r).equals(rawBytes(t)), `${name} bytes`).toBe(true);
      }
      expect(back.tensors.get('scalar_f64')!.shape).toEqual([]);
      expect(back.tensors.get('scalar_f64')!.item()).toBe(2.5);
      expect(back.tensors.get('scalar_i64')!.item()).toBe(42);
      expect(back.tensors.get('empty_i32')!.numel).toBe(0);
      expect(Array.from(back.tensors.get('i64')!.data() as BigInt64Array)).toEqual([
        0n,
        -1n,
        2n ** 53n + 1n,
        -(2n ** 62n),
        2n ** 63n - 1n,
      ]);
      const f64 = back.tensors.get('f64')!.data() as Float64Array;
      expect(Object.is(f64[1], -0)).toBe(true);
      expect(f64[2]).toBe(1e-310);
      expect(back.tensors.get('bf16')!.to('float32').toArray()).toEqual(tensors.get('bf16')!.to('float32').toArray());
      expect(back.tensors.get('bool')!.toArray()).toEqual([1, 0, 0, 1]);
    });
  });

  it('no metadata means no __metadata__ entry; an empty file of tensors is valid', () => {
    const bytes = torch.writeSafetensors({});
    expect(Array.from(bytes)).toEqual([8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32]); // reference bytes
    const back = torch.readSafetensors(bytes);
    expect(back.tensors.size).toBe(0);
    expect(back.metadata).toEqual({});
    torch.tidy(() => {
      const { header } = parseLayout(torch.writeSafetensors({ a: torch.zeros([1]) }, {}));
      expect(Object.keys(header)).toEqual(['a']);
    });
  });

  it('matches the reference library byte for byte on its own test vector', () => {
    // safetensors/src/tensor.rs test_serialization: {"attn.0": F32 [1, 2, 3] = 0..5}.
    torch.tidy(() => {
      const t = torch.tensor(Float32Array.from([0, 1, 2, 3, 4, 5]), { shape: [1, 2, 3] });
      const bytes = torch.writeSafetensors({ 'attn.0': t });
      const header = '{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}';
      expect(header.length).toBe(64);
      expect(
        Buffer.from(bytes).equals(
          Buffer.concat([Buffer.from([64, 0, 0, 0, 0, 0, 0, 0]), Buffer.from(header), rawBytes(t)]),
        ),
      ).toBe(true);
    });
  });

  it('non-contiguous tensors are written in logical (row-major) order', () => {
    torch.tidy(() => {
      const t = torch.arange(6, undefined, 1, { dtype: 'float32' }).reshape(2, 3).t();
      expect(t.isContiguous()).toBe(false);
      const back = torch.readSafetensors(torch.writeSafetensors({ t })).tensors.get('t')!;
      expect(back.shape).toEqual([3, 2]);
      expect(back.toArray()).toEqual([0, 3, 1, 4, 2, 5]);
      const sliced = torch.arange(12, undefined, 1, { dtype: 'float32' }).reshape(3, 4).slice(1, 1, 4, 2);
      expect(torch.readSafetensors(torch.writeSafetensors({ sliced })).tensors.get('sliced')!.toArray()).toEqual([
        1, 3, 5, 7, 9, 11,
      ]);
    });
  });

  it('rejects malformed data with errors naming the source', () => {
    const good = torch.tidy(() =>
      torch.writeSafetensors({ a: torch.ones([2, 2]), b: torch.zeros([3], { dtype: 'int64' }) }),
    );
    const bad = (b: Uint8Array, pattern: RegExp) =>
      expect(() => torch.readSafetensors(b, 'bad.safetensors')).toThrow(pattern);
    bad(good.subarray(0, 5), /bad\.safetensors.*shorter than the 8-byte/);
    bad(good.subarray(0, good.byteLength - 1), /bad\.safetensors.*(truncated|cover)/);
    const tooLong = Uint8Array.from(good);
    new DataView(tooLong.buffer).setBigUint64(0, BigInt(good.byteLength), true);
    bad(tooLong, /header length/);
    bad(Uint8Array.from([...good, 0]), /cover/);
    expect(() => torch.readSafetensors(good, 'fine')).not.toThrow();
  });
});

describe('byte layout of our writer', () => {
  it('header length is a multiple of 8, JSON is compact, padding is trailing spaces, data is contiguous', () => {
    torch.tidy(() => {
      const metas: (Record<string, string> | undefined)[] = [undefined, { a: 'b' }, { x: 'yy' }];
      for (const meta of metas) {
        for (const tensors of [
          everyDtype(),
          new Map([['w', torch.ones([3])]]),
          new Map([['a_long_name', torch.ones([1])]]),
        ]) {
          const bytes = torch.writeSafetensors(tensors, meta);
          const { n, text, header, dataStart } = parseLayout(bytes);
          expect(n % 8).toBe(0);
          expect(dataStart % 8).toBe(0);
          const trimmed = text.replace(/ +$/, '');
          expect(text.length - trimmed.length).toBeLessThan(8);
          expect(trimmed).toBe(JSON.stringify(header)); // compact: no whitespace anywhere else
          expect(trimmed.startsWith('{') && trimmed.endsWith('}')).toBe(true);
          if (meta) expect(Object.keys(header)[0]).toBe('__metadata__');
          else expect('__metadata__' in header).toBe(false);
          const entries = Object.entries(header).filter(([k]) => k !== '__metadata__') as [string, any][];
          let at = 0;
          for (const [, info] of entries) {
            expect(Object.keys(info)).toEqual(['dtype', 'shape', 'data_offsets']);
            expect(info.data_offsets[0]).toBe(at);
            at = info.data_offsets[1];
          }
          expect(bytes.byteLength).toBe(dataStart + at);
        }
      }
    });
  });

  it('tensors are ordered as the reference does: dtype enum order descending (so by alignment), then name', () => {
    torch.tidy(() => {
      const tensors = new Map<string, Tensor>([
        ['z_f64', torch.zeros([1], { dtype: 'float64' })],
        ['a_u8', torch.zeros([3], { dtype: 'uint8' })],
        ['m_f32', torch.zeros([2])],
        ['b_f32', torch.zeros([2])],
        ['c_f16', torch.zeros([1], { dtype: 'float16' })],
        ['y_i8', torch.zeros([1], { dtype: 'int8' })],
        ['a_f64', torch.zeros([1], { dtype: 'float64' })],
      ]);
      const { header } = parseLayout(torch.writeSafetensors(tensors));
      expect(Object.keys(header)).toEqual(['a_f64', 'z_f64', 'b_f32', 'm_f32', 'c_f16', 'y_i8', 'a_u8']);
      const sizes = Object.values(header).map((i: any) => ELEMENT_SIZE[i.dtype]!);
      expect(sizes).toEqual([...sizes].sort((a, b) => b - a));
    });
  });

  it.skipIf(TORCH_FIXTURES_MISSING !== null)(
    're-serialising a PyTorch-side fixture reproduces its bytes exactly',
    async () => {
      for (const name of ['conv2d', 'adam', 'sequential', 'module_state', 'instance_norm']) {
        const file = torchFixture(`${name}.safetensors`);
        const original = fs.readFileSync(file);
        const { tensors, metadata } = await torch.loadSafetensors(file);
        const again = torch.writeSafetensors(tensors, metadata);
        torch.dispose(tensors);
        expect(Buffer.from(again).equals(original), `${name}.safetensors`).toBe(true);
      }
    },
  );

  // The reference breaks ties between same-size dtypes by its Dtype enum order (I64 before F64,
  // F32 before I32, BF16 before F16, I8 before U8 before BOOL), not by name.
  it('re-serialising dtypes.safetensors (same-size dtype ties) reproduces its bytes exactly', async () => {
    const file = path.join(FIXTURES, 'dtypes.safetensors');
    const { tensors, metadata } = await torch.loadSafetensors(file);
    const again = torch.writeSafetensors(tensors, metadata);
    torch.dispose(tensors);
    expect(Buffer.from(again).equals(fs.readFileSync(file))).toBe(true);
  });
});

describe('header order matches the reference writer', () => {
  // A JS object would enumerate integer-like names ("0", "10") first and in numeric order; the
  // header text must keep __metadata__ first and the entries in data order, as the reference does.
  it('integer-like tensor names keep __metadata__ first and entries in data order', () => {
    torch.tidy(() => {
      const t = torch.zeros([1]);
      const bytes = torch.writeSafetensors(
        new Map([
          ['a', t],
          ['10', t],
          ['9', t],
        ]),
        { m: 'x' },
      );
      const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
      const text = new TextDecoder().decode(bytes.subarray(8, 8 + n));
      const at = ['"__metadata__"', '"10"', '"9"', '"a"'].map((k) => text.indexOf(`${k}:`));
      expect(at.every((i) => i > 0)).toBe(true);
      expect([...at].sort((x, y) => x - y)).toEqual(at);
      expect(text).toMatch(/"10":\{"dtype":"F32","shape":\[1\],"data_offsets":\[0,4\]\}/);
    });
  });
});

describe('PyTorch-written files read by TS', () => {
  it('dtypes.safetensors: every dtype with exact values, empty and 0-d tensors, unicode metadata', async () => {
    const { tensors, metadata } = await torch.loadSafetensors(path.join(FIXTURES, 'dtypes.safetensors'));
    try {
      expect(metadata).toEqual({ format: 'pt', unicode: 'µ-Säure ✓ "quoted"\n' });
      const t = (name: string) => tensors.get(name)!;
      const dtypes = Object.fromEntries([...tensors].map(([k, v]) => [k, v.dtype]));
      expect(dtypes).toEqual({
        f64: 'float64',
        f32: 'float32',
        f32_special: 'float32',
        f16: 'float16',
        bf16: 'bfloat16',
        i64: 'int64',
        i32: 'int32',
        i16: 'int16',
        i8: 'int8',
        u8: 'uint8',
        bool: 'bool',
        empty: 'float32',
        scalar: 'float64',
        scalar_i64: 'int64',
      });
      expect(t('f64').shape).toEqual([2, 3]);
      expect(t('f64').toArray()).toEqual([-1.5, 0, 2.25, 1e300, -1e-300, 3.141592653589793]);
      expect(t('f32').shape).toEqual([3, 2]);
      expect(t('f32').toArray()).toEqual([-1, -0.5, 0, 0.5, 1, 1.5]);
      const special = t('f32_special').toArray();
      expect(Number.isNaN(special[0])).toBe(true);
      expect(special.slice(1, 4)).toEqual([Infinity, -Infinity, -0]);
      expect(Object.is(special[3], -0)).toBe(true);
      expect(special[4]).toBe(Math.fround(1e-45));
      expect(special[5]).toBe(3.4028234663852886e38);
      expect(t('f16').to('float32').toArray()).toEqual([1, -2.5, 65504, 5.960464477539063e-8]);
      expect(Array.from(t('bf16').data() as Uint16Array)).toEqual([0x3f80, 0xc020, 0x7f62, 0x3dcd]);
      expect(Array.from(t('i64').data() as BigInt64Array)).toEqual([
        0n,
        -1n,
        2n ** 53n + 1n,
        -(2n ** 62n),
        2n ** 63n - 1n,
      ]);
      expect(t('i32').shape).toEqual([2, 2]);
      expect(t('i32').toArray()).toEqual([-(2 ** 31), 2 ** 31 - 1, 7, -7]);
      expect(t('i16').toArray()).toEqual([-32768, 32767, 5]);
      expect(t('i8').toArray()).toEqual([-128, 127, 0]);
      expect(t('u8').toArray()).toEqual([0, 255, 17]);
      expect(t('bool').toArray()).toEqual([1, 0, 1, 1]);
      expect(t('empty').shape).toEqual([0, 3]);
      expect(t('scalar').shape).toEqual([]);
      expect(t('scalar').item()).toBe(2.5);
      expect(t('scalar_i64').shape).toEqual([]);
      expect(t('scalar_i64').item()).toBe(42);
    } finally {
      torch.dispose(tensors);
    }
  });
});

describe(`TS-written files read by PyTorch (${PYTHON} ${path.relative(process.cwd(), READER)})${PY_SKIP}`, () => {
  it.skipIf(!HAS_TORCH_PYTHON)('every dtype: same names, dtypes, shapes, sums and metadata', async () => {
    const file = path.join(dir, 'every_dtype.safetensors');
    const tensors = everyDtype();
    // Sums in float64, computed here by the same libtorch, for the comparison.
    const expected: Record<string, { dtype: string; shape: number[]; sum: number | string }> = {};
    for (const [name, t] of tensors) {
      const s = torch.tidy(() => t.to('float64').sum().item());
      expected[name] = {
        dtype: FILE_DTYPE[t.dtype]!,
        shape: t.shape,
        sum: Number.isNaN(s) ? 'nan' : s === Infinity ? 'inf' : s === -Infinity ? '-inf' : s,
      };
    }
    await torch.saveSafetensors(file, tensors, { written_by: 'dermosynth', unicode: 'µ ✓' });
    torch.dispose(tensors);
    const r = pythonRead(file);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout) as Record<string, any>;
    expect(out.__metadata__).toEqual({ written_by: 'dermosynth', unicode: 'µ ✓' });
    delete out.__metadata__;
    expect(Object.keys(out).sort()).toEqual(Object.keys(expected).sort());
    for (const [name, e] of Object.entries(expected)) {
      expect(out[name].dtype, name).toBe(e.dtype);
      expect(out[name].shape, name).toEqual(e.shape);
      if (typeof e.sum === 'string') expect(out[name].sum, name).toBe(e.sum);
      else expect(out[name].sum, name).toBeCloseTo(e.sum, 10);
    }
    expect(out.f32.sum).toBe('nan');
    expect(out.i64.sum).toBeCloseTo(4.620693217682129e18, -5);
    expect(out.scalar_i64.sum).toBe(42);
  });

  it.skipIf(!HAS_TORCH_PYTHON)('a module saved by saveModule reads in PyTorch with its state-dict names', async () => {
    const file = path.join(dir, 'module_for_python.safetensors');
    const model = new nn.Sequential(
      new nn.Conv2d(3, 4, 3),
      nn.spectralNorm(new nn.Conv2d(4, 4, 1)),
      new nn.BatchNorm2d(4),
    );
    await nn.saveModule(file, model);
    const r = pythonRead(file);
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as Record<string, any>;
    expect(Object.keys(out).sort()).toEqual([...model.stateDict().keys()].sort());
    expect(out['2.num_batches_tracked']).toEqual({ dtype: 'I64', shape: [], sum: 0 });
    expect(out['1.weight_orig'].shape).toEqual([4, 4, 1, 1]);
    const w = torch.tidy(() => model.child('0').param('weight').to('float64').sum().item());
    expect(out['0.weight'].sum).toBeCloseTo(w, 10);
  });

  it.skipIf(!HAS_TORCH_PYTHON)('malformed files are rejected by both readers', async () => {
    const good = torch.tidy(() =>
      torch.writeSafetensors({ a: torch.ones([2, 2]), b: torch.zeros([3], { dtype: 'int64' }) }),
    );
    const { n, header } = parseLayout(good);
    const withHeader = (h: unknown, data: Uint8Array) => {
      let json = JSON.stringify(h);
      json += ' '.repeat((8 - (json.length % 8)) % 8);
      const head = Buffer.alloc(8);
      head.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
      return Buffer.concat([head, Buffer.from(json), data]);
    };
    const data = good.subarray(8 + n);
    const cases: [string, Uint8Array][] = [
      ['short', good.subarray(0, 6)],
      ['truncated', good.subarray(0, good.byteLength - 3)],
      ['trailing bytes', Buffer.concat([good, Buffer.from([0, 0, 0, 0])])],
      ['header too long', Buffer.concat([Buffer.from([0xff, 0xff, 0, 0, 0, 0, 0, 0]), good.subarray(8)])],
      ['not json', withHeader('x', data).fill(0x41, 8, 16)],
      ['overlap', withHeader({ ...header, a: { ...header.a, data_offsets: [16, 32] } }, data)],
      ['size mismatch', withHeader({ ...header, a: { ...header.a, shape: [2, 3] } }, data)],
      ['unknown dtype', withHeader({ ...header, a: { ...header.a, dtype: 'F128' } }, data)],
    ];
    for (const [label, bytes] of cases) {
      const file = path.join(dir, `bad_${label.replace(/ /g, '_')}.safetensors`);
      fs.writeFileSync(file, bytes);
      const r = pythonRead(file);
      expect(r.status, `python reader on '${label}' (stdout: ${r.stdout})`).toBe(1);
      expect(r.stderr, label).toContain('not a valid safetensors file');
      await expect(torch.loadSafetensors(file), `TS reader on '${label}'`).rejects.toThrow(file);
    }
    const okFile = path.join(dir, 'good.safetensors');
    fs.writeFileSync(okFile, good);
    expect(pythonRead(okFile).status).toBe(0);
  });
});

describe('saveModule / loadModule', () => {
  const makeNet = () =>
    new nn.Sequential(
      new nn.Conv2d(3, 4, 3, { padding: 1 }),
      new nn.BatchNorm2d(4),
      new nn.LeakyReLU(0.2),
      nn.spectralNorm(new nn.Conv2d(4, 2, 1)),
    );

  it('round trip: every parameter and buffer restored exactly, metadata returned, same outputs', async () => {
    torch.manualSeed(11);
    const a = makeNet();
    torch.tidy(() => {
      a.train();
      a.call(torch.randn([2, 3, 5, 5])); // running stats, num_batches_tracked, u and v move
    });
    const file = path.join(dir, 'net.safetensors');
    await nn.saveModule(file, a, { epoch: '3', note: 'ü' });
    torch.manualSeed(12);
    const b = makeNet();
    expect(
      torch.tidy(() => b.child('0').param('weight').sub(a.child('0').param('weight')).abs().max().item()),
    ).toBeGreaterThan(0);
    expect(await nn.loadModule(file, b)).toEqual({ epoch: '3', note: 'ü' });
    const sa = a.stateDict();
    const sb = b.stateDict();
    expect([...sb.keys()]).toEqual([...sa.keys()]);
    for (const [k, t] of sa) expect(rawBytes(sb.get(k)!).equals(rawBytes(t)), k).toBe(true);
    expect(b.child('1').buffer('num_batches_tracked')!.item()).toBe(1);
    torch.tidy(() => {
      a.eval();
      b.eval();
      const x = torch.randn([1, 3, 5, 5]);
      expect(rawBytes(b.call(x)).equals(rawBytes(a.call(x)))).toBe(true);
    });
  });

  it('strict mode: errors name the file and every missing and unexpected key; nothing is changed', async () => {
    const net = makeNet();
    const state = new Map(net.stateDict());
    state.delete('0.bias');
    state.delete('1.running_var');
    const file = path.join(dir, 'partial.safetensors');
    const extra = torch.ones([2]);
    await torch.saveSafetensors(file, new Map([...state, ['extra.weight', extra]]));
    extra.dispose();
    const target = makeNet();
    const before = rawBytes(target.child('0').param('weight'));
    const err = await nn.loadModule(file, target).then(
      () => null,
      (e: Error) => e,
    );
    expect(err).toBeInstanceOf(Error);
    expect(err!.message).toContain(file);
    expect(err!.message).toMatch(/missing keys: 0\.bias, 1\.running_var/);
    expect(err!.message).toMatch(/unexpected keys: extra\.weight/);
    expect(rawBytes(target.child('0').param('weight')).equals(before)).toBe(true);
    // Non-strict: the present keys load, the missing ones keep their values.
    const bias = rawBytes(target.child('0').param('bias'));
    await nn.loadModule(file, target, { strict: false });
    expect(rawBytes(target.child('0').param('weight')).equals(rawBytes(net.child('0').param('weight')))).toBe(true);
    expect(rawBytes(target.child('0').param('bias')).equals(bias)).toBe(true);
  });

  it('shape mismatches are errors naming the key, both shapes and the file (even when not strict)', async () => {
    const file = path.join(dir, 'wide.safetensors');
    await nn.saveModule(file, new nn.Sequential(new nn.Conv2d(3, 8, 3, { padding: 1 })));
    const target = new nn.Sequential(new nn.Conv2d(3, 4, 3, { padding: 1 }));
    const before = rawBytes(target.child('0').param('bias'));
    for (const strict of [true, false]) {
      await expect(nn.loadModule(file, target, { strict })).rejects.toThrow(
        new RegExp(
          `${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}.*'0\\.(weight|bias)' has shape \\[8(,3,3,3)?\\] but the module expects \\[4(,3,3,3)?\\]`,
        ),
      );
    }
    expect(rawBytes(target.child('0').param('bias')).equals(before)).toBe(true);
  });

  it('a missing file is a clear error', async () => {
    const file = path.join(dir, 'does-not-exist.safetensors');
    await expect(nn.loadModule(file, makeNet())).rejects.toThrow(
      /cannot read safetensors file .*does-not-exist\.safetensors: ENOENT/,
    );
  });
});

describe('atomic saves', () => {
  it('after saves and overwrites only the target file exists (no temporary files remain)', async () => {
    const sub = fs.mkdtempSync(path.join(dir, 'atomic-'));
    const file = path.join(sub, 'model.safetensors');
    const net = new nn.Sequential(new nn.Conv2d(2, 2, 1));
    await nn.saveModule(file, net);
    await nn.saveModule(file, net, { second: 'yes' });
    const x = torch.ones([4]);
    await torch.saveSafetensors(file, { x });
    x.dispose();
    expect(fs.readdirSync(sub)).toEqual(['model.safetensors']);
    const { tensors } = await torch.loadSafetensors(file);
    expect([...tensors.keys()]).toEqual(['x']);
    torch.dispose(tensors);
  });

  it('a save into a missing directory fails with a clear error and writes nothing', async () => {
    const missing = path.join(dir, 'no-such-dir');
    const file = path.join(missing, 'model.safetensors');
    const err = await nn.saveModule(file, new nn.Conv2d(1, 1, 1)).then(
      () => null,
      (e: NodeJS.ErrnoException) => e,
    );
    expect(err).toBeInstanceOf(Error);
    expect(err!.code).toBe('ENOENT');
    expect(err!.message).toContain(missing);
    expect(err!.message).toContain('model.safetensors');
    expect(fs.existsSync(missing)).toBe(false);
  });

  it('a failed save leaves the previous file intact and no temporary files', async () => {
    const sub = fs.mkdtempSync(path.join(dir, 'atomic-fail-'));
    const file = path.join(sub, 'ckpt.safetensors');
    const w = torch.full([3], 7);
    await torch.saveSafetensors(file, { w });
    const before = fs.readFileSync(file);
    // Serialisation error: nothing is opened.
    await expect(torch.saveSafetensors(file, { __metadata__: w })).rejects.toThrow(/reserved/);
    // Rename error: the target is a directory.
    fs.mkdirSync(path.join(sub, 'dir.safetensors'));
    await expect(torch.saveSafetensors(path.join(sub, 'dir.safetensors'), { w })).rejects.toThrow(/dir\.safetensors/);
    w.dispose();
    expect(fs.readFileSync(file).equals(before)).toBe(true);
    expect(fs.readdirSync(sub).sort()).toEqual(['ckpt.safetensors', 'dir.safetensors']);
  });
});
