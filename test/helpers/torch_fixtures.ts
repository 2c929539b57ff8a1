// The PyTorch reference fixtures of this run (computed on this machine by test/setup/torch_fixtures.ts).
import path from 'node:path';
import { inject } from 'vitest';

const dir = inject('torchFixtures');
/** Why the fixtures are missing (the tests that need them are skipped), or null. */
export const TORCH_FIXTURES_MISSING: string | null = dir
  ? null
  : (inject('torchFixturesMissing') ?? 'the global set-up made no PyTorch fixtures');

/** The path of a live fixture file, e.g. torchFixture('conv2d.safetensors'). */
export function torchFixture(name: string): string {
  if (!dir) throw new Error(`no PyTorch fixtures: ${TORCH_FIXTURES_MISSING}`);
  return path.join(dir, name);
}
