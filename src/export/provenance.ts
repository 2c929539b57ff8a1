// What an exported file says about itself: the run it came from, the weights' sha256, the label map,
// sizes and I/O, and the training data's licence and attribution. ISIC data (CC-BY-NC 4.0) is
// recognised from the run's prepared data: the dataset layout it was read from (isic2017,
// isic2018) or ISIC image ids (ISIC_ and 7 digits) among its lesions, as in a flat or merged copy.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { readManifest, type CacheManifest } from '../data/cache.js';

export interface DataLicence {
  /** The dataset layout the run's data was read from, or 'unknown'. */
  source: string;
  isic: boolean;
  /** An SPDX id when known (CC-BY-NC-4.0 for ISIC), else a sentence. */
  licence: string;
  attribution: string;
}

const ISIC_ID = /^ISIC_\d{7}/;

const ISIC_ATTRIBUTION: Record<string, string> = {
  isic2017: 'ISIC 2017 data, CC-BY-NC 4.0; Codella et al. arXiv:1710.05006',
  isic2018:
    'ISIC 2018 / HAM10000 data, CC-BY-NC 4.0; Codella et al. arXiv:1902.03368; Tschandl et al., Sci. Data 5, 180161 (2018)',
};
const ISIC_GENERIC =
  'ISIC Archive images (ISIC_ ids), CC-BY-NC 4.0; ISIC 2017: Codella et al. arXiv:1710.05006; ISIC 2018: Codella et al. arXiv:1902.03368, Tschandl et al., Sci. Data 5, 180161 (2018)';
const NON_COMMERCIAL =
  'Non-commercial use only (CC-BY-NC 4.0): the model was trained on ISIC data, and images it makes should carry this attribution';

/** The licence of the data a run was trained on, from its prepared data (`cache`, else RUN/cache). */
export async function runDataLicence(runDir: string, cache: string): Promise<DataLicence> {
  let manifest: CacheManifest | null = null;
  for (const dir of [cache, path.resolve(runDir, cache), path.join(runDir, 'cache')]) {
    if (!existsSync(dir)) continue;
    try {
      manifest = await readManifest(dir);
    } catch {
      manifest = null;
    }
    if (manifest) break;
  }
  if (!manifest) {
    return {
      source: 'unknown',
      isic: false,
      licence: `unknown: the run's prepared data (${cache}) was not found; if the model was trained on ISIC data, CC-BY-NC 4.0 applies`,
      attribution: 'unknown (the training data could not be read at export time)',
    };
  }
  return dataLicence(
    manifest.source.format,
    manifest.records.map((r) => r.id),
  );
}

/** The licence for data of dataset layout `format` with lesion ids `ids`. */
export function dataLicence(format: string, ids: readonly string[]): DataLicence {
  const isicIds = ids.filter((id) => ISIC_ID.test(id)).length;
  if (format.startsWith('isic') || isicIds > 0) {
    const attribution = ISIC_ATTRIBUTION[format] ?? ISIC_GENERIC;
    return { source: format, isic: true, licence: 'CC-BY-NC-4.0', attribution: `${attribution}. ${NON_COMMERCIAL}` };
  }
  if (ids.length > 0 && ids.every((id) => id.startsWith('SAMPLE_'))) {
    return {
      source: 'dermosynth sample data',
      isic: false,
      licence: 'none: procedural data made by dermosynth data sample',
      attribution: 'none needed (procedural sample data)',
    };
  }
  return {
    source: format,
    isic: false,
    licence: `the licence of the training data (dataset layout '${format}', no ISIC ids found) applies`,
    attribution: `the training data's own (dataset layout '${format}')`,
  };
}
