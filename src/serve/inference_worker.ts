// The studio's inference thread: loads a run's generator once, then turns batches of (mask,
// diagnosis[, shape variation from a seed]) jobs into RGB images, so that the HTTP server's event loop never waits on libtorch.
// Started by inference_queue.ts; messages are typed there.
import { parentPort, workerData } from 'node:worker_threads';
import * as torch from '../torch/index.js';
import { buildLabelBytes } from '../data/label_map.js';
import { deformMask } from '../synth/deform.js';
import { RunGenerator } from '../synth/run_generator.js';
import type { WorkerInit, WorkerReply, WorkerRequest } from './inference_queue.js';

const init = workerData as WorkerInit;
if (init.threads) torch.setNumThreads(init.threads);

let run: RunGenerator;
try {
  run = await RunGenerator.load(init.runDir, { device: init.device, weights: init.weights, precision: init.precision });
  const reply: WorkerReply = {
    type: 'ready',
    info: {
      model: run.model,
      width: run.width,
      height: run.height,
      classes: run.classes,
      fit: run.config.options.fit,
      channels: run.spec.channels,
      weights: run.weights,
      device: run.device,
      precision: run.precision,
      threads: torch.getNumThreads(),
    },
  };
  parentPort!.postMessage(reply);
} catch (e) {
  const reply: WorkerReply = { type: 'load-failed', error: (e as Error).message };
  parentPort!.postMessage(reply);
  process.exit(1);
}

parentPort!.on('message', (req: WorkerRequest) => {
  const started = performance.now();
  let reply: WorkerReply;
  const transfer: ArrayBuffer[] = [];
  try {
    const labels = req.jobs.map((j) => {
      const mask = j.vary ? deformMask(j.mask, run.width, run.height, j.seed) : j.mask;
      return buildLabelBytes(mask, j.classIndex, run.spec, run.width, run.height);
    });
    const images = run.generate(labels).map((rgb) => rgb.slice()); // own buffers, transferable
    for (const im of images) transfer.push(im.buffer as ArrayBuffer);
    reply = { type: 'done', batch: req.batch, images, ms: performance.now() - started };
  } catch (e) {
    reply = { type: 'failed', batch: req.batch, error: (e as Error).message };
  }
  parentPort!.postMessage(reply, transfer);
});
