// Benchmark `memory`: memory across 5 epochs of model.fit of the canonical VAE
// (the (a) model of `fashion-vae-epoch`) on the wasm backend, Fashion-MNIST.
//
// Per batch: the process's resident set size (process.memoryUsage().rss).
// Per epoch end: tf.memory().numTensors and numBytes, the wasm heap size and
// the RSS peak of the epoch. A leak shows as a tensor count or a memory figure
// that keeps growing from one epoch to the next; flat = no leak.

import {createRequire} from 'node:module';
import {performance} from 'node:perf_hooks';
import v8 from 'node:v8';
import vm from 'node:vm';

import {BATCH, ORIGINAL_DIM, buildLibraryVae} from './vae_epoch.mjs';

const require = createRequire(import.meta.url);
const {fashionMnistDir, loadIdxDataset} = require('../examples/shared/datasets.cjs');

export const name = 'memory';
export const title = 'Memory over 5 epochs of model.fit (canonical VAE, wasm, Fashion-MNIST): peak RSS and live tensors per epoch';

const EPOCHS = 5;
const BACKEND = 'wasm';
/** Training images (a prefix of the train split) unless `--images=wasm:N` says otherwise. */
const DEFAULT_IMAGES = 10000;
/**
 * Flat: the same number of live tensors at every epoch end, no wasm heap growth
 * after the first epoch, and the RSS peak of the last epoch at most this much
 * above the second epoch's (the first epoch grows the heaps to their working size).
 */
const RSS_GROWTH_TOLERANCE_MB = 32;

/** The JS heap in use after a full garbage collection may grow at most this much from epoch 2 to the last. */
const JS_HEAP_GROWTH_TOLERANCE_MB = 2;

const MB = 2 ** 20;

/** V8's `gc()` without `node --expose-gc` on the command line. */
function garbageCollector() {
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc');
}

/** Bytes of the wasm backend's heap (it grows, never shrinks), or NaN if unknown. */
function wasmHeapBytes(tf) {
  const heap = tf.backend().wasm?.HEAPU8;
  return heap ? heap.buffer.byteLength : NaN;
}

/** A copy of the first `count` train images, so that the rest of the data set can be garbage-collected. */
function firstImages(dir, count) {
  const data = loadIdxDataset(dir, {split: 'train'});
  return data.images.slice(0, Math.min(count, data.n) * ORIGINAL_DIM);
}

/**
 * @param {{tf, tfl, tfv, backends: string[], images?: Record<string, number>, log: Function}} ctx
 * @returns {Promise<{ok: boolean, rows: object[], markdown: string}>}
 */
export async function run(ctx) {
  const {tf, backends, log} = ctx;
  const gc = garbageCollector();
  if (!backends.includes(BACKEND)) {
    const msg = 'Not run: this benchmark runs on the wasm backend, which was not selected.';
    log(`  ${msg}`);
    return {ok: true, rows: [], markdown: msg};
  }
  const dir = fashionMnistDir();
  if (dir == null) {
    const msg = 'Not run: Fashion-MNIST not found (install Debian\'s `dataset-fashion-mnist` or set FASHION_MNIST_DIR).';
    log(`  ${msg}`);
    return {ok: false, rows: [], markdown: msg};
  }
  const images = firstImages(dir, ctx.images?.[BACKEND] ?? DEFAULT_IMAGES);
  const n = images.length / ORIGINAL_DIM;
  if (!(await tf.setBackend(BACKEND))) throw new Error(`backend '${BACKEND}' could not be initialised`);
  await tf.ready();

  const x = tf.tensor2d(images, [n, ORIGINAL_DIM]);
  const before = {numTensors: tf.memory().numTensors, rss: process.memoryUsage().rss, heap: wasmHeapBytes(tf)};
  const {model} = buildLibraryVae(ctx);
  const rows = [];
  let peak = 0;
  let t0 = performance.now();
  log(`[${name}] ${BACKEND}: ${n} images, ${Math.ceil(n / BATCH)} batches of ${BATCH}, ${EPOCHS} epochs in one model.fit`);
  await model.fit(x, x, {
    batchSize: BATCH,
    epochs: EPOCHS,
    verbose: 0,
    callbacks: {
      onBatchEnd: async () => {
        peak = Math.max(peak, process.memoryUsage().rss);
      },
      onEpochEnd: async (epoch, logs) => {
        const seconds = (performance.now() - t0) / 1000;
        const rss = process.memoryUsage().rss;
        const mem = tf.memory();
        gc();
        const collected = process.memoryUsage();
        const row = {epoch: epoch + 1, seconds, loss: logs.loss, peakRss: Math.max(peak, rss), endRss: rss,
          gcRss: collected.rss, jsHeap: collected.heapUsed, heap: wasmHeapBytes(tf), numTensors: mem.numTensors,
          numBytes: mem.numBytes};
        rows.push(row);
        log(`  epoch ${row.epoch}: ${row.seconds.toFixed(1)} s, loss ${row.loss.toFixed(2)}, peak RSS ${(row.peakRss / MB).toFixed(0)} MB, ` +
            `RSS at end ${(row.endRss / MB).toFixed(0)} MB (${(row.gcRss / MB).toFixed(0)} MB after GC), ` +
            `JS heap after GC ${(row.jsHeap / MB).toFixed(1)} MB, wasm heap ${(row.heap / MB).toFixed(0)} MB, ` +
            `tensors ${row.numTensors} (${(row.numBytes / MB).toFixed(1)} MB)`);
        peak = 0;
        t0 = performance.now();
      },
    },
  });
  model.optimizer.dispose();
  model.dispose();
  const afterTensors = tf.memory().numTensors;
  x.dispose();

  const tensorsFlat = rows.every((r) => r.numTensors === rows[0].numTensors);
  const heapFlat = rows.slice(1).every((r) => r.heap === rows[0].heap);
  const rssGrowth = rows[rows.length - 1].peakRss - rows[Math.min(1, rows.length - 1)].peakRss;
  const rssFlat = rssGrowth <= RSS_GROWTH_TOLERANCE_MB * MB;
  const jsGrowth = rows[rows.length - 1].jsHeap - rows[Math.min(1, rows.length - 1)].jsHeap;
  const jsFlat = jsGrowth <= JS_HEAP_GROWTH_TOLERANCE_MB * MB;
  const leftAfterDispose = afterTensors - before.numTensors;
  const ok = tensorsFlat && heapFlat && rssFlat && jsFlat && leftAfterDispose === 0;
  log(`  ${ok ? 'flat' : 'NOT FLAT'}: tensors ${tensorsFlat ? 'constant' : 'changing'}, wasm heap ${heapFlat ? 'constant' : 'growing'} ` +
      `after epoch 1, peak RSS epoch ${rows.length} − epoch 2 = ${(rssGrowth / MB).toFixed(1)} MB, ` +
      `JS heap after GC epoch ${rows.length} − epoch 2 = ${(jsGrowth / MB).toFixed(2)} MB; ` +
      `tensors left after disposing the model: ${leftAfterDispose}`);

  const lines = [
    `\`model.fit\` of the canonical VAE ((a) of \`fashion-vae-epoch\`: 784-512-2 encoder, 2-512-784 decoder,`,
    `tfjs-variational KL and reparameterization layers, Bernoulli likelihood, batch ${BATCH}, Adam 1e-3) on the wasm backend`,
    `with the fast kernels on, ${EPOCHS} epochs in one \`fit\` call over the first ${n} Fashion-MNIST train images.`,
    'RSS is `process.memoryUsage().rss`, sampled after every batch (peak) and at the end of each epoch; it includes the',
    'wasm heap, which grows to its working size and never shrinks. At each epoch end the tensors are counted',
    '(`tf.memory()`), then a full garbage collection runs and the RSS and the JS heap in use are read again (JS objects',
    'that stay reachable would show there: the RSS alone also moves with V8\'s heap sizing).',
    `Before \`fit\`: ${before.numTensors} live tensor${before.numTensors === 1 ? '' : 's'} (the data set), RSS ${(before.rss / MB).toFixed(0)} MB, wasm heap ` +
        `${(before.heap / MB).toFixed(0)} MB.`,
    '',
    '| epoch | time | loss | peak RSS | RSS at end | RSS after GC | JS heap after GC | wasm heap | live tensors | tensor MB |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map((r) => `| ${r.epoch} | ${r.seconds.toFixed(1)} s | ${r.loss.toFixed(2)} | ${(r.peakRss / MB).toFixed(0)} MB | ` +
        `${(r.endRss / MB).toFixed(0)} MB | ${(r.gcRss / MB).toFixed(0)} MB | ${(r.jsHeap / MB).toFixed(1)} MB | ` +
        `${(r.heap / MB).toFixed(0)} MB | ${r.numTensors} | ${(r.numBytes / MB).toFixed(1)} |`),
    '',
    `Flat (no leak) means: the same number of live tensors at every epoch end (${tensorsFlat ? 'yes' : '**no**'}), ` +
        `no wasm heap growth after epoch 1 (${heapFlat ? 'yes' : '**no**'}), and the peak RSS of epoch ${rows.length} ` +
        `at most ${RSS_GROWTH_TOLERANCE_MB} MB above epoch 2's (${(rssGrowth / MB).toFixed(1)} MB: ${rssFlat ? 'yes' : '**no**'}), ` +
        `and the JS heap after GC at most ${JS_HEAP_GROWTH_TOLERANCE_MB} MB above epoch 2's ` +
        `(${(jsGrowth / MB).toFixed(2)} MB: ${jsFlat ? 'yes' : '**no**'}). ` +
        `Tensors left after disposing the model and its optimizer: ${leftAfterDispose}. ` +
        `**${ok ? 'Flat' : 'Not flat'}.**`,
  ];
  return {ok, rows, markdown: lines.join('\n')};
}
