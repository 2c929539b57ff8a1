// dermosynth data inspect | prepare | sample | download | merge
import { Argument, Command, Option } from 'commander';
import path from 'node:path';
import { readManifest } from '../data/cache.js';
import { readClassMap } from '../data/class_map.js';
import { classAbbreviation } from '../data/diagnosis.js';
import { ISIC2017_FILES, downloadIsic2017, type DownloadEvent } from '../data/download.js';
import { inspectDataset } from '../data/inspect.js';
import { mergeInputOf, mergeInputs, type MergeSummary } from '../data/merge.js';
import { prepareCache } from '../data/prepare.js';
import { readDataset } from '../data/readers/index.js';
import { writeSampleDataset } from '../data/sample_dataset.js';
import { DEFAULT_SPLIT } from '../data/split.js';
import { SPLITS, type Split } from '../data/dataset.js';
import type { CacheManifest } from '../data/cache.js';
import { fraction, intIn, listOf, parseSize } from './parse.js';
import { phasedProgress, progress, type Progress } from './progress.js';
import { percent, problemList, table } from './report.js';

/** What inspect says of a dataset (or cache) without segmentation masks. */
const NO_MASKS = 'no masks: this dataset has no segmentation masks (classifier use only; the GAN needs masks)';

/** Bar labels of prepare's phases. */
export const PREPARE_PHASES = { hash: 'hashing', decode: 'decoding' };

export function dataCommand(): Command {
  const data = new Command('data').description(
    'datasets: inspect, prepare a training cache, make sample data, download ISIC-2017',
  );

  data
    .command('inspect')
    .description('count lesions per class and split, image sizes, mask coverage, and report every problem')
    .argument(
      '<dir>',
      'a dataset folder (ISIC 2017 to 2020, HAM10000 or PH2 as downloaded, or flat layout) or a prepared cache',
    )
    .option('--classes <file>', "map the dataset's diagnoses onto another vocabulary (lines 'from -> to'; see README)")
    .addOption(
      new Option(
        '--workers <n>',
        'decoding worker threads (default: the cores from 4 up, else 0: decode in the main thread, libvips in parallel)',
      ).argParser(intIn(0, 256)),
    )
    .action(async (dir: string, o: { workers?: number; classes?: string }) => {
      const manifest = await readManifest(path.resolve(dir));
      if (manifest) {
        console.log(describeCache(path.resolve(dir), manifest));
        return;
      }
      const index = await readDataset(dir, undefined, o.classes ? readClassMap(o.classes) : null);
      let bar: Progress | null = null;
      const report = await inspectDataset(index, {
        workers: o.workers,
        onProgress: (done, total) => {
          bar ??= progress('inspect', total, 'lesions');
          bar.update(done);
        },
      });
      (bar as Progress | null)?.stop();
      const lines = [`${report.root} (${report.format} layout): ${report.lesions} lesions, ${report.usable} usable`];
      if (report.synthetic > 0)
        lines.push(
          `${report.synthetic} of them synthetic (SYN_ ids, made by dermosynth synthesize): training data only, never tested on`,
        );
      const classes = report.classes;
      const splits = Object.keys(report.perSplit);
      lines.push(
        '',
        table(
          ['split', ...classes.map(classAbbreviation), 'total'],
          [
            ...splits.map((s) => [
              s,
              ...classes.map((c) => report.perSplit[s]![c] ?? 0),
              classes.reduce((a, c) => a + (report.perSplit[s]![c] ?? 0), 0),
            ]),
            [
              'all',
              ...classes.map((c) => report.perClass[c] ?? 0),
              classes.reduce((a, c) => a + (report.perClass[c] ?? 0), 0),
            ],
          ],
        ),
      );
      if (splits.length === 1 && splits[0] === 'none') {
        lines.push(
          report.synthetic === report.lesions
            ? '(synthetic lesions go to the train split)'
            : '(no official split: prepare splits each class 70/15/15 with a seed; synthetic lesions go to train)',
        );
      }
      lines.push(
        '',
        'image sizes:',
        table(
          ['size', 'images'],
          report.sizes.slice(0, 12).map(([s, n]) => [s, n]),
        ),
      );
      if (report.sizes.length > 12) lines.push(`  ... and ${report.sizes.length - 12} other sizes`);
      if (!report.masks) lines.push('', NO_MASKS);
      else {
        lines.push(
          '',
          'mask coverage (lesion fraction of the image):',
          table(
            ['class', 'n', 'mean', 'min', 'median', 'max'],
            Object.entries(report.coverage).map(([k, s]) => [
              k,
              s.n,
              percent(s.mean),
              percent(s.min),
              percent(s.median),
              percent(s.max),
            ]),
          ),
        );
      }
      const errors = report.problems.filter((p) => p.severity === 'error').length;
      const warnings = report.problems.length - errors;
      lines.push(
        '',
        report.problems.length === 0
          ? 'no problems found'
          : `${errors} error(s), ${warnings} warning(s):\n${problemList(report.problems)}`,
      );
      console.log(lines.join('\n'));
      if (errors > 0) process.exitCode = 1;
    });

  data
    .command('prepare')
    .description('decode, check, resize and label every lesion once into a cache of uint8 shards for training')
    .argument('<dir>', 'a dataset folder (ISIC 2017 to 2020, HAM10000 or PH2 as downloaded, or flat layout)')
    .option('--classes <file>', "map the dataset's diagnoses onto another vocabulary (lines 'from -> to'; see README)")
    .requiredOption('--size <WxH>', 'target size, e.g. 256x256 or 1024x768', parseSize)
    .requiredOption('--out <cache>', 'the cache folder to write (made if missing; reused when up to date)')
    .addOption(
      new Option('--fit <mode>', 'other aspect ratios: crop the centre or pad with black')
        .choices(['crop', 'pad'])
        .default('crop'),
    )
    .addOption(
      new Option('--boundary <px>', 'add a lesion-boundary channel this many pixels wide (0: none)')
        .argParser(intIn(0, 64))
        .default(0),
    )
    .option('--frame', 'add a dermoscope-frame class (dark corners and vignette, detected from the image)', false)
    .addOption(
      new Option('--val <fraction>', 'without an official split: val fraction of each class')
        .argParser(fraction)
        .default(DEFAULT_SPLIT.val),
    )
    .addOption(
      new Option('--test <fraction>', 'without an official split: test fraction of each class')
        .argParser(fraction)
        .default(DEFAULT_SPLIT.test),
    )
    .addOption(
      new Option('--seed <n>', 'without an official split: the split seed')
        .argParser(intIn(0, 2 ** 31 - 1))
        .default(DEFAULT_SPLIT.seed),
    )
    .option('--skip-bad', 'leave unusable lesions out (listed in CACHE/skipped.csv) instead of failing', false)
    .option('--overwrite', 'replace a cache made with other options in the same folder', false)
    .addOption(
      new Option(
        '--workers <n>',
        'decoding worker threads (default: the cores from 4 up, else 0: decode in the main thread, libvips in parallel)',
      ).argParser(intIn(0, 256)),
    )
    .action(async (dir: string, o: PrepareFlags & { classes?: string }) => {
      const index = await readDataset(dir, undefined, o.classes ? readClassMap(o.classes) : null);
      const bars = phasedProgress(PREPARE_PHASES, 'lesions');
      const t0 = Date.now();
      const r = await prepareCache(index, o.out, {
        ...o.size,
        fit: o.fit,
        labelMap: { boundary: o.boundary, frame: o.frame },
        split: { val: o.val, test: o.test, seed: o.seed },
        skipBad: o.skipBad,
        overwrite: o.overwrite,
        workers: o.workers,
        onProgress: (p) => bars.update(p),
      }).finally(() => bars.stop());
      const seconds = (Date.now() - t0) / 1000;
      console.log(describeCache(r.dir, r.manifest));
      console.log(
        `\n${r.decoded} lesion(s) decoded, ${r.reused} reused from existing shards, in ${seconds.toFixed(1)} s`,
      );
      if (r.warnings.length > 0) console.log(`${r.warnings.length} warning(s):\n${problemList(r.warnings)}`);
      if (r.skippedFile)
        console.log(
          `${r.errors.length} lesion problem(s) skipped (--skip-bad), listed in ${r.skippedFile}:\n${problemList(r.errors)}`,
        );
    });

  data
    .command('sample')
    .description('write a procedural dermoscopy dataset in the flat layout (no download needed)')
    .requiredOption('--out <dir>', 'the folder to write (must be new or empty)')
    .addOption(
      new Option('--n <count>', 'number of lesions (classes cycle nevus, melanoma, seborrheic keratosis)')
        .argParser(intIn(1, 100000))
        .default(60),
    )
    .addOption(new Option('--seed <n>', 'random seed').argParser(intIn(0, 2 ** 31 - 1)).default(0))
    .addOption(new Option('--size <px>', 'square image side').argParser(intIn(32, 4096)).default(256))
    .action(async (o: { out: string; n: number; seed: number; size: number }) => {
      const t0 = Date.now();
      const s = await writeSampleDataset(o.out, { n: o.n, seed: o.seed, size: o.size });
      const counts = Object.entries(s.counts)
        .map(([k, v]) => `${v} ${k}`)
        .join(', ');
      console.log(
        `wrote ${s.n} lesions (${counts}) at ${o.size}x${o.size} to ${s.dir} in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
      );
    });

  data
    .command('download')
    .description(
      'download the official ISIC-2017 archives (images, masks, labels), resuming partial downloads, and unpack them',
    )
    .addArgument(new Argument('<dataset>', 'the dataset to download').choices(['isic2017']))
    .requiredOption(
      '--out <dir>',
      'where to put the official layout (archives are kept in DIR/.downloads while unpacking)',
    )
    .addOption(
      new Option('--splits <list>', `comma-separated: ${SPLITS.join(', ')}`)
        .argParser(listOf(SPLITS))
        .default([...SPLITS]),
    )
    .option('--keep-archives', 'keep the zip files after unpacking', false)
    .option('--base-url <url>', 'a mirror of https://isic-challenge-data.s3.amazonaws.com/2017/')
    .action(async (_dataset: string, o: { out: string; splits: Split[]; keepArchives: boolean; baseUrl?: string }) => {
      const files = ISIC2017_FILES.filter((f) => o.splits.includes(f.split));
      console.error(
        `downloading ${files.length} ISIC-2017 files to ${path.resolve(o.out)} (the images are about 6 GB for training; ISIC data is CC-BY-NC 4.0)`,
      );
      let bar: Progress | null = null;
      let current = '';
      const report = await downloadIsic2017(o.out, {
        splits: o.splits,
        keepArchives: o.keepArchives,
        baseUrl: o.baseUrl,
        onProgress: (e: DownloadEvent) => {
          const key = `${e.phase}:${e.file}`;
          if (e.phase === 'download' || e.phase === 'extract') {
            if (key !== current) {
              bar?.stop();
              current = key;
              const label = `${e.fileIndex + 1}/${e.fileCount} ${e.phase === 'download' ? 'get' : 'unzip'}`;
              console.error(
                `${e.phase === 'download' ? 'downloading' : 'unpacking'} ${e.file}${e.resumed ? ' (resuming)' : ''}`,
              );
              bar = progress(label, e.total ?? 0, e.unit === 'bytes' ? 'bytes' : 'files');
            }
            bar!.update(e.done, e.total ?? undefined);
          } else {
            bar?.stop();
            bar = null;
            current = '';
            if (e.phase === 'skip') console.error(`${e.file}: already here, skipped`);
          }
        },
      });
      (bar as Progress | null)?.stop();
      console.log(
        table(
          ['file', 'MiB', 'status'],
          report.files.map((f) => [
            f.name,
            Number((f.bytes / 1048576).toFixed(1)),
            f.skipped ? 'already there' : f.resumed ? 'resumed' : 'downloaded',
          ]),
        ),
      );
      console.log(`\nthe dataset is in ${report.outDir}; next: dermosynth data inspect ${o.out}`);
    });

  data
    .command('merge')
    .description(
      'one flat dataset from several: real datasets of any layout, each mapped onto one vocabulary, plus synthetic ones; records where every image came from',
    )
    .argument(
      '<dataset...>',
      'dataset folders (any layout, or dermosynth synthesize outputs), each DIR or DIR=MAPFILE: that dataset with its class map',
    )
    .option(
      '--classes <file>',
      'the class map of every dataset given without =MAPFILE (one map may cover several datasets)',
    )
    .requiredOption('--out <dir>', 'the merged dataset folder')
    .addOption(
      new Option('--val <fraction>', 'datasets without an official split: val fraction of each class')
        .argParser(fraction)
        .default(DEFAULT_SPLIT.val),
    )
    .addOption(
      new Option('--test <fraction>', 'datasets without an official split: test fraction of each class')
        .argParser(fraction)
        .default(DEFAULT_SPLIT.test),
    )
    .addOption(
      new Option('--seed <n>', 'datasets without an official split: the split seed')
        .argParser(intIn(0, 2 ** 31 - 1))
        .default(DEFAULT_SPLIT.seed),
    )
    .option('--overwrite', 'replace an earlier merge in --out', false)
    .addHelpText('after', MERGE_HELP)
    .action(async (datasets: string[], o: MergeFlags) => {
      let bar: Progress | null = null;
      const inputs = datasets.map((arg) => mergeInputOf(arg, o.classes));
      const s = await mergeInputs(inputs, path.resolve(o.out), {
        overwrite: o.overwrite,
        split: { val: o.val, test: o.test, seed: o.seed },
        onProgress: (done, total) => {
          bar ??= progress('merging', total, 'lesions');
          bar.update(done);
        },
      }).finally(() => (bar as Progress | null)?.stop());
      console.log(describeMerge(s));
    });

  return data;
}

const MERGE_HELP = `
Every dataset ends in one vocabulary: the first dataset's, after its class map (a map's "classes:"
line sets it). Another dataset's diagnosis outside it is an error: map it (DIR=MAPFILE or --classes).
Lesions keep their dataset's official split; datasets without one are split as 'data prepare'
splits them (--val, --test, --seed); one lesion's images stay on one side; synthetic lesions go to
train. An image in two datasets (same id, same bytes, same diagnosis) is written once, from the
first, and listed; the same id with other bytes or diagnoses is an error naming both.
--out gets images/, masks/ (PNG), labels.csv (+ classes.txt), split.csv, source.csv
(image_id,source,format,original_diagnosis,lesion_id,also_in), provenance.csv, merge.json.

Examples:
  dermosynth data merge data/isic2017 syn/balanced --out data/isic-plus-syn
  dermosynth data merge data/isic2017=maps/all.txt data/ham10000=maps/ham.txt data/PH2Dataset=maps/ph2.txt --out data/all
  dermosynth data merge data/isic2017 data/ham10000 data/ph2 --classes maps/all.txt --out data/all`;

interface MergeFlags {
  classes?: string;
  out: string;
  val: number;
  test: number;
  seed: number;
  overwrite: boolean;
}

/** What a merge wrote: its inputs, lesions per split and diagnosis, and the images found twice. */
function describeMerge(s: MergeSummary): string {
  const inputs = table(
    ['dataset', 'layout', 'class map', 'images', 'split'],
    s.inputs.map((i) => [
      i.dir,
      i.format,
      i.classMap ?? '-',
      i.images,
      i.role === 'synthetic' ? 'train (synthetic)' : i.officialSplit ? 'official' : 'stratified',
    ]),
  );
  const counts = table(
    ['split', ...s.classes.map(classAbbreviation), 'total'],
    Object.entries(s.counts).map(([split, c]) => [
      split,
      ...s.classes.map((k) => c[k] ?? 0),
      s.classes.reduce((a, k) => a + (c[k] ?? 0), 0),
    ]),
  );
  const lines = [
    `${s.out}: ${s.real} real + ${s.synthetic} synthetic lesions, diagnoses ${s.classes.join(', ')}`,
    '',
    inputs,
    '',
    counts,
  ];
  if (s.duplicates.length > 0) {
    const shown = s.duplicates.slice(0, 10).map((d) => `  ${d.id}: kept from ${d.kept}, also in ${d.dropped}`);
    lines.push(
      '',
      `warning: ${s.duplicates.length} image(s) found in two datasets (same id, bytes and diagnosis), written once (source.csv's also_in lists them):`,
      ...shown,
    );
    if (s.duplicates.length > 10) lines.push(`  ... and ${s.duplicates.length - 10} more (merge.json lists them all)`);
  }
  return lines.join('\n');
}

interface PrepareFlags {
  size: { width: number; height: number };
  out: string;
  fit: 'crop' | 'pad';
  boundary: number;
  frame: boolean;
  val: number;
  test: number;
  seed: number;
  skipBad: boolean;
  overwrite: boolean;
  workers?: number;
}

export function describeCache(dir: string, m: CacheManifest): string {
  const classes = m.labelMap.classes;
  const splits = [...new Set(m.records.map((r) => r.split))].sort((a, b) => SPLITS.indexOf(a) - SPLITS.indexOf(b));
  const count = (s: string, c: number) => m.records.filter((r) => r.split === s && r.label === c).length;
  const bytes = m.shards.reduce((a, s) => a + s.bytes, 0);
  return [
    `${dir}: cache of ${m.records.length} lesions at ${m.options.width}x${m.options.height} (fit ${m.options.fit}), from ${m.source.root} (${m.source.format})`,
    m.masks === false ? NO_MASKS : `label map v${m.labelMap.version}, channels: ${m.labelMap.channels.join(', ')}`,
    `split: ${m.split.source === 'official' ? 'official' : `stratified by diagnosis (val ${m.split.val}, test ${m.split.test}, seed ${m.split.seed})`}`,
    '',
    table(
      ['split', ...classes.map(classAbbreviation), 'total'],
      splits.map((s) => [s, ...classes.map((_, c) => count(s, c)), m.records.filter((r) => r.split === s).length]),
    ),
    '',
    `${m.shards.length} shard(s), ${(bytes / 1048576).toFixed(1)} MiB; ${m.skipped.length} problem(s) skipped, ${m.warnings.length} warning(s)`,
  ].join('\n');
}
