// Native memory: tidy scopes, keep, dispose, the live-tensor count, the garbage-collector
// safety net, and a training loop that must not leak.
import { beforeEach, describe, expect, it } from 'vitest';
import * as torch from '../../src/torch/index.js';
import type { Tensor } from '../../src/torch/index.js';

const { F } = torch;

function gc(): void {
  const collect = (globalThis as { gc?: () => void }).gc;
  if (!collect) throw new Error('run the tests with --expose-gc (vitest.config.ts sets it)');
  collect();
}
const tick = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 10));

// Exact live-tensor counts: start each test with earlier tests' unreachable tensors collected.
beforeEach(() => gc());

describe('liveTensors', () => {
  it('counts creations and disposals exactly', () => {
    const before = torch.liveTensors();
    const ts = [torch.ones([2]), torch.zeros([3]), torch.randn([4])];
    expect(torch.liveTensors()).toBe(before + 3);
    const sum = ts[0]!.add(1);
    expect(torch.liveTensors()).toBe(before + 4);
    ts[0]!.dispose();
    expect(ts[0]!.isDisposed).toBe(true);
    expect(torch.liveTensors()).toBe(before + 3);
    // dispose is idempotent.
    ts[0]!.dispose();
    expect(torch.liveTensors()).toBe(before + 3);
    // A view is a handle of its own, and the base's memory lives on through it.
    const view = ts[1]!.slice(0, 0, 2);
    ts[1]!.dispose();
    expect(view.toArray()).toEqual([0, 0]);
    torch.dispose([ts, sum, view]);
    expect(torch.liveTensors()).toBe(before);
  });

  it('dispose() frees tensors nested in arrays, objects and Maps, and ignores other values', () => {
    const before = torch.liveTensors();
    const value = {
      a: torch.ones([1]),
      list: [torch.ones([1]), { deep: torch.ones([1]) }, 3, 'text', null],
      map: new Map([['k', torch.ones([1])]]),
    };
    expect(torch.liveTensors()).toBe(before + 4);
    torch.dispose(value);
    expect(torch.liveTensors()).toBe(before);
    expect(value.a.isDisposed).toBe(true);
    expect((value.list[1] as { deep: Tensor }).deep.isDisposed).toBe(true);
    expect(value.map.get('k')!.isDisposed).toBe(true);
  });
});

describe('tidy', () => {
  it('disposes intermediates and keeps the returned tensor', () => {
    const before = torch.liveTensors();
    let a!: Tensor;
    let b!: Tensor;
    const c = torch.tidy(() => {
      a = torch.ones([2, 2]);
      b = a.add(1);
      return b.mul(2);
    });
    expect(a.isDisposed).toBe(true);
    expect(b.isDisposed).toBe(true);
    expect(c.isDisposed).toBe(false);
    expect(c.toArray()).toEqual([4, 4, 4, 4]);
    expect(torch.liveTensors()).toBe(before + 1);
    c.dispose();
    expect(torch.liveTensors()).toBe(before);
    expect(torch.scopeDepth()).toBe(0);
  });

  it('keeps tensors nested in arrays, plain objects and Maps', () => {
    const before = torch.liveTensors();
    let dropped!: Tensor[];
    const out = torch.tidy(() => {
      dropped = [torch.ones([1]), torch.ones([1])];
      return {
        x: torch.full([1], 1),
        list: [torch.full([1], 2), { deep: torch.full([1], 3) }],
        map: new Map([['m', torch.full([1], 4)]]),
        n: 5,
      };
    });
    expect(dropped.every((t) => t.isDisposed)).toBe(true);
    expect(out.x.item()).toBe(1);
    expect((out.list[0] as Tensor).item()).toBe(2);
    expect((out.list[1] as { deep: Tensor }).deep.item()).toBe(3);
    expect(out.map.get('m')!.item()).toBe(4);
    expect(out.n).toBe(5);
    expect(torch.liveTensors()).toBe(before + 4);
    torch.dispose(out);
    expect(torch.liveTensors()).toBe(before);
  });

  it('does not keep tensors inside class instances (only plain containers are searched)', () => {
    class Holder {
      constructor(readonly t: Tensor) {}
    }
    const h = torch.tidy(() => new Holder(torch.ones([1])));
    expect(h.t.isDisposed).toBe(true);
  });

  it('moves returned tensors to the parent scope, which disposes them unless it returns them too', () => {
    const before = torch.liveTensors();
    let inner!: Tensor;
    let innerTemp!: Tensor;
    const outer = torch.tidy(() => {
      inner = torch.tidy(() => {
        innerTemp = torch.ones([2]);
        return innerTemp.add(1);
      });
      expect(innerTemp.isDisposed).toBe(true);
      expect(inner.isDisposed).toBe(false);
      expect(torch.scopeDepth()).toBe(1);
      return inner.mul(3);
    });
    // inner escaped the inner scope only: the outer one disposed it.
    expect(inner.isDisposed).toBe(true);
    expect(outer.toArray()).toEqual([6, 6]);
    expect(torch.liveTensors()).toBe(before + 1);

    const kept = torch.tidy(() => torch.tidy(() => torch.ones([3])));
    expect(kept.isDisposed).toBe(false);
    expect(torch.liveTensors()).toBe(before + 2);
    torch.dispose([outer, kept]);
    expect(torch.liveTensors()).toBe(before);
  });

  it('leaves tensors created outside the scope alone, even when returned', () => {
    const outside = torch.ones([2]);
    const before = torch.liveTensors();
    const r = torch.tidy(() => {
      outside.add(1);
      return outside;
    });
    expect(r).toBe(outside);
    expect(outside.isDisposed).toBe(false);
    expect(torch.liveTensors()).toBe(before);
    outside.dispose();
  });

  it('disposes everything if fn throws, and closes the scope', () => {
    const before = torch.liveTensors();
    let made: Tensor[] = [];
    expect(() =>
      torch.tidy(() => {
        made = [torch.ones([2]), torch.zeros([2])];
        torch.tidy(() => {
          made.push(torch.ones([1]));
          throw new Error('inner failure');
        });
      }),
    ).toThrow('inner failure');
    expect(made).toHaveLength(3);
    expect(made.every((t) => t.isDisposed)).toBe(true);
    expect(torch.liveTensors()).toBe(before);
    expect(torch.scopeDepth()).toBe(0);
    // An operator failure inside tidy is the same.
    expect(() => torch.tidy(() => torch.ones([2]).add(torch.ones([3])))).toThrow(/must match/);
    expect(torch.liveTensors()).toBe(before);
  });

  it('rejects an async fn and disposes what it made', () => {
    const before = torch.liveTensors();
    expect(() =>
      torch.tidy(() => {
        torch.ones([4]);
        return Promise.resolve(0);
      }),
    ).toThrow(TypeError);
    expect(torch.liveTensors()).toBe(before);
    expect(torch.scopeDepth()).toBe(0);
  });

  it('keep exempts a tensor from the current and enclosing scopes', () => {
    const before = torch.liveTensors();
    let param!: Tensor;
    let temp!: Tensor;
    torch.tidy(() => {
      torch.tidy(() => {
        param = torch.keep(torch.randn([3]));
        temp = param.mul(2);
      });
      expect(param.isDisposed).toBe(false);
      expect(temp.isDisposed).toBe(true);
    });
    expect(param.isDisposed).toBe(false);
    expect(torch.liveTensors()).toBe(before + 1);
    // A kept tensor survives a scope that throws, too (held here so that the garbage collector's
    // safety net cannot release it during the test).
    let kept!: Tensor;
    expect(() =>
      torch.tidy(() => {
        kept = torch.keep(param.add(1));
        throw new Error('x');
      }),
    ).toThrow('x');
    expect(kept.isDisposed).toBe(false);
    expect(torch.liveTensors()).toBe(before + 2);
    kept.dispose();
    expect(torch.keep(param)).toBe(param);
    param.dispose();
    expect(torch.liveTensors()).toBe(before);
  });

  it('gradients of leaves survive the scope that ran backward', () => {
    const w = torch.randn([3], { requiresGrad: true });
    const before = torch.liveTensors();
    torch.tidy(() => {
      w.mul(w).sum().backward();
    });
    expect(torch.liveTensors()).toBe(before);
    const g = w.grad!;
    expect(g.toArray()).toEqual(w.mul(2).toArray());
  });
});

describe('finalizer safety net', () => {
  it('collects tensors that were never disposed once they are unreachable', async () => {
    gc();
    await tick();
    const baseline = torch.liveTensors();
    (() => {
      const held: Tensor[] = [];
      for (let i = 0; i < 1000; i++) held.push(torch.full([4], i));
      expect(torch.liveTensors()).toBe(baseline + 1000);
      expect(held[999]!.toArray()).toEqual([999, 999, 999, 999]);
    })();
    let live = torch.liveTensors();
    for (let attempt = 0; attempt < 20 && live > baseline + 10; attempt++) {
      gc();
      await tick();
      live = torch.liveTensors();
    }
    expect(live).toBeLessThanOrEqual(baseline + 10);
    expect(live).toBeGreaterThanOrEqual(baseline - 10);
  });
});

describe('finalizer safety net in a synchronous loop', () => {
  it('frees undisposed tensors while the loop runs (no event-loop turn needed)', () => {
    const rss0 = process.memoryUsage().rss;
    let maxLive = 0;
    // 4,000 tensors of 256 KiB each (1 GiB if none were freed), never disposed, no await.
    for (let i = 0; i < 4000; i++) {
      torch.ones([256, 256]).add(i);
      if (i % 100 === 0) maxLive = Math.max(maxLive, torch.liveTensors());
    }
    const grown = (process.memoryUsage().rss - rss0) / 2 ** 20;
    expect(maxLive).toBeLessThan(2000);
    expect(grown).toBeLessThan(400);
  });
});

describe('training loop leak test', () => {
  // The loop is fully synchronous (no GC, no yield to the event loop between steps): handles
  // are numbers into the addon's table and tidy releases them at once, so nothing waits on the
  // garbage collector. The RSS is read after a GC at the two measurement points only.
  it('2,000 SGD steps of a tiny conv net: RSS growth < 5%, live tensors back to baseline', async () => {
    torch.manualSeed(0);
    const init = (shape: number[], fanIn: number): Tensor =>
      torch.keep(torch.noGrad(() => torch.randn(shape).mul(1 / Math.sqrt(fanIn))).requiresGrad_());
    const w1 = init([8, 3, 3, 3], 27);
    const b1 = torch.keep(torch.zeros([8], { requiresGrad: true }));
    const w2 = init([3, 8, 3, 3], 72);
    const b2 = torch.keep(torch.zeros([3], { requiresGrad: true }));
    const params = [w1, b1, w2, b2];
    const input = torch.keep(torch.randn([2, 3, 8, 8]));
    const target = torch.keep(F.tanh(torch.randn([2, 3, 8, 8])));
    const lr = 0.05;

    const step = (): number =>
      torch.tidy(() => {
        const h = F.leakyRelu(F.conv2d(input, w1, b1, { padding: 1 }), 0.2);
        const out = F.conv2d(h, w2, b2, { padding: 1 });
        const loss = F.mseLoss(out, target);
        loss.backward();
        torch.noGrad(() => {
          for (const p of params) {
            p.sub_(p.grad!, lr);
            p.zeroGrad();
          }
        });
        return loss.item();
      });
    const settle = async (): Promise<number> => {
      gc();
      await tick();
      gc();
      await tick();
      return process.memoryUsage().rss;
    };

    // Let garbage from setup (and earlier tests) be collected, so the count is exact from here.
    await settle();
    const baseline = torch.liveTensors();
    const losses: number[] = [];
    let rssWarm = 0;
    for (let i = 0; i < 2000; i++) {
      losses.push(step());
      if (i === 199) {
        expect(torch.liveTensors()).toBe(baseline);
        rssWarm = await settle();
      }
    }
    const rssEnd = await settle();

    expect(losses).toHaveLength(2000);
    expect(torch.liveTensors()).toBe(baseline);
    expect(torch.scopeDepth()).toBe(0);
    expect(losses.every(Number.isFinite)).toBe(true);
    // The loop really trains.
    expect(losses[1999]!).toBeLessThan(losses[0]! * 0.8);
    const growth = (rssEnd - rssWarm) / rssWarm;
    expect(growth, `RSS ${(rssWarm / 2 ** 20).toFixed(1)} MiB -> ${(rssEnd / 2 ** 20).toFixed(1)} MiB`).toBeLessThan(
      0.05,
    );

    torch.dispose([params, input, target]);
    expect(torch.liveTensors()).toBe(baseline - 6);
  });
});
