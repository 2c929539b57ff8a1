// The generated operator layer (src/torch/generated/aten.ts): regenerated against the installed
// libtorch, it must equal the checked-in file, and the installed libtorch's schemas must equal the
// snapshot of its version, so that a libtorch upgrade shows every changed signature at once.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as torch from '../../src/torch/index.js';
import { bindOp, boundOperators, invoke } from '../../src/torch/bind.js';
import { parseSchema } from '../../src/torch/schema.js';
import {
  GENERATED_FILE,
  formatSource,
  functionName,
  generateSource,
  liveSchemas,
  readOperatorList,
  readSnapshots,
  schemaChanges,
  snapshotFile,
  withLive,
} from '../../scripts/generate-ops.js';

const HOW =
  'npm run generate:ops (for libtorch 2.6: bash scripts/libtorch2-root.sh -- npm run generate:ops, then copy the ' +
  "root's src/torch/generated/schemas/2.6.txt here and run npm run generate:ops again), then review the diff";

describe('the generated operator layer', () => {
  const names = readOperatorList();

  it("matches the snapshot of the installed libtorch's schemas", async () => {
    const { version, schemas } = await liveSchemas(names);
    const snapshots = readSnapshots();
    const known = snapshots.get(version);
    if (known === undefined) {
      const nearest = [...snapshots.keys()].pop();
      const changes = nearest === undefined ? [] : schemaChanges(snapshots.get(nearest)!, schemas);
      expect.fail(
        `no schema snapshot for libtorch ${version} (known: ${[...snapshots.keys()].join(', ')}): ` +
          `run ${HOW}; it writes ${path.relative(process.cwd(), snapshotFile(version))} and regenerates ` +
          `src/torch/generated/aten.ts. Against libtorch ${nearest}, ${changes.length} signature(s) differ:\n${changes.join('\n')}`,
      );
    }
    const changes = schemaChanges(known, schemas);
    expect(changes, `libtorch ${version}'s schemas changed; regenerate with ${HOW}:\n${changes.join('\n')}`).toEqual(
      [],
    );
    expect(known).toEqual(schemas);
  });

  it('equals the checked-in generated/aten.ts when regenerated', async () => {
    const { version, schemas } = await liveSchemas(names);
    const source = await formatSource(generateSource(names, withLive(readSnapshots(), version, schemas)));
    const checked = fs.readFileSync(GENERATED_FILE, 'utf8');
    expect(source === checked, `src/torch/generated/aten.ts is stale: run ${HOW}`).toBe(true);
  });

  it('binds every listed operator on this libtorch, by name', () => {
    const bound = boundOperators();
    expect(bound.map((b) => b.qualified)).toEqual(names);
    expect(bound.filter((b) => b.error !== null).map((b) => b.error)).toEqual([]);
    for (const name of names)
      expect(typeof (torch.ops as Record<string, unknown>)[functionName(name)]).toBe('function');
  });

  it('types results, takes named options and the schema defaults, returns self from in-place operators', () => {
    torch.tidy(() => {
      const x = torch.tensor([
        [1, 2],
        [3, 4],
      ]);
      expect(torch.ops.addTensor(x, x, { alpha: 2 }).toArray()).toEqual([3, 6, 9, 12]);
      expect(torch.ops.addTensor(x, x).toArray()).toEqual([2, 4, 6, 8]);
      const [values, indices] = torch.ops.maxDim(x, 1);
      expect([values.toArray(), indices.toArray()]).toEqual([
        [2, 4],
        [1, 1],
      ]);
      expect(torch.ops.isPinned(x)).toBe(false);
      expect(torch.ops.splitTensor(x, 1).length).toBe(2);
      const y = x.clone();
      expect(torch.ops.mulScalar_(y, 2)).toBe(y);
      expect(y.toArray()).toEqual([2, 4, 6, 8]);
      expect(torch.ops.sumDimIntList(x, 0, true).shape).toEqual([1, 2]);
      expect(torch.ops.toDtypeLayout(x, { dtype: 'float64' }).dtype).toBe('float64');
      expect(torch.ops.zeros([2], { dtype: 'int32' }).dtype).toBe('int32');
      expect(torch.ops.randintLowGenerator(0, 3, [4]).dtype).toBe('int64');
    });
  });

  it('places arguments by name where a schema has others in between (another libtorch version)', () => {
    // sum.dim_IntList(Tensor self, int[1]? dim, bool keepdim=False, *, ScalarType? dtype=None): bound
    // with self and keepdim only, as if dim were an argument one libtorch added.
    const b = bindOp('aten::sum.dim_IntList', ['self', 'keepdim']);
    expect(b.remap).toEqual([0, 2]);
    torch.tidy(() => {
      const x = torch.ones([2, 3]);
      const s = torch.ops.sumDimIntList(x, null, true);
      expect(s.shape).toEqual([1, 1]);
      expect(new torch.Tensor(invoke(b, [x.handle, true]) as number).shape).toEqual([1, 1]);
    });
    const missing = bindOp('aten::neg', ['self', 'no_such_argument']);
    expect(() => invoke(missing, [])).toThrow(/lacks the argument\(s\) no_such_argument.*npm run generate:ops/);
    const absent = bindOp('aten::no_such_operator', ['self']);
    expect(() => invoke(absent, [])).toThrow(/no such operator/);
  });

  it('parses the schemas it reads', () => {
    const s = parseSchema('aten::chunk(Tensor(a -> *) self, int chunks, int dim=0) -> Tensor(a)[]');
    expect(s).toMatchObject({ name: 'aten::chunk', overload: '', returns: [{ type: 'Tensor(a)[]' }] });
    expect(s.args.map((a) => [a.name, a.type, a.default])).toEqual([
      ['self', 'Tensor(a -> *)', undefined],
      ['chunks', 'int', undefined],
      ['dim', 'int', '0'],
    ]);
    const g = parseSchema('aten::gelu(Tensor self, *, str approximate="none") -> Tensor');
    expect(g.args[1]).toEqual({ name: 'approximate', type: 'str', default: '"none"', kwOnly: true });
    expect(
      parseSchema('aten::max.dim(Tensor self, int dim, bool keepdim=False) -> (Tensor values, Tensor indices)').returns,
    ).toEqual([
      { type: 'Tensor', name: 'values' },
      { type: 'Tensor', name: 'indices' },
    ]);
    expect(functionName('aten::add_.Tensor')).toBe('addTensor_');
    expect(functionName('aten::_upsample_bilinear2d_aa.vec')).toBe('_upsampleBilinear2dAaVec');
  });
});
