// A worker thread that hashes and decodes lesions for prepare (see decode_pool.ts).
import { parentPort } from 'node:worker_threads';
import { decode, type DecodeRequest, type DecodeResponse } from './decode_pool.js';

parentPort!.on('message', async (req: DecodeRequest) => {
  let res: DecodeResponse;
  const transfer: ArrayBuffer[] = [];
  try {
    const r = await decode(req);
    if (r.lesion) transfer.push(r.lesion.image.buffer as ArrayBuffer, r.lesion.labelBytes.buffer as ArrayBuffer);
    res = { seq: req.seq, ok: true, ...r };
  } catch (e) {
    res = { seq: req.seq, ok: false, error: (e as Error).stack ?? String(e) };
  }
  parentPort!.postMessage(res, transfer);
});
