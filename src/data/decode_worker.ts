// A worker thread that hashes and decodes lesions for prepare (see decode_pool.ts).
import { parentPort } from 'node:worker_threads';
import { hashSources, prepareLesion } from './preprocess.js';
import type { DecodeRequest, DecodeResponse } from './decode_pool.js';

parentPort!.on('message', async (req: DecodeRequest) => {
  let res: DecodeResponse;
  const transfer: ArrayBuffer[] = [];
  try {
    const src = await hashSources(req.record);
    if (!('hash' in src)) res = { seq: req.seq, ok: true, hash: null, lesion: null, problems: [src] };
    else if (req.kind === 'hash') res = { seq: req.seq, ok: true, hash: src.hash, lesion: null, problems: [] };
    else {
      const { lesion, problems } = await prepareLesion(req.record, src, req.spec!, req.options!);
      if (lesion) transfer.push(lesion.image.buffer as ArrayBuffer, lesion.labelBytes.buffer as ArrayBuffer);
      res = { seq: req.seq, ok: true, hash: src.hash, lesion, problems };
    }
  } catch (e) {
    res = { seq: req.seq, ok: false, error: (e as Error).stack ?? String(e) };
  }
  parentPort!.postMessage(res, transfer);
});
