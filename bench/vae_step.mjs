// Benchmark `vae-step`: the VAE of `vae-epoch`, one training step at a time.
//
// Whole epochs are long, so on a busy machine their ratio is noisy. Here the
// variants alternate step by step on the same batch, which cancels most of
// that noise, and the cost of fit's own loop is measured apart:
//
//   (a) one step of the library model: model.trainOnBatch (the train function
//       model.fit runs per batch: forward pass, compiled loss, layer losses,
//       gradients, Adam);
//   (b) one step of the hand-written loop: optimizer.minimize;
//   fit's per-batch extra: tf.gather of the batch rows (fit slices batches by
//   index) minus tf.slice (the hand loop), and one fit() call on one batch
//   minus trainOnBatch (callbacks, logs, setup of a fit call).

import {createRequire} from 'node:module';
import {performance} from 'node:perf_hooks';

import {BATCH, ORIGINAL_DIM, buildHandVae, buildLibraryVae} from './vae_epoch.mjs';
import {median} from './stats.mjs';

const require = createRequire(import.meta.url);
const {loadEmbeddedMnist} = require('../examples/shared/datasets.cjs');

export const name = 'vae-step';
export const title = 'VAE training step: trainOnBatch of the library model vs optimizer.minimize, alternated step by step';

const TARGET_RATIO = 1.10;
/** Timed rounds per repeat requested on the command line (each round times every variant once). */
const ROUNDS_PER_REPEAT = 3;

async function timed(fn) {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  await fn();
  const c = process.cpuUsage(c0);
  return {ms: performance.now() - t0, cpuMs: (c.user + c.system) / 1000};
}

/**
 * @param {{tf, tfl, tfv, backends: string[], repeats: number, log: Function}} ctx
 * @returns {Promise<{ok: boolean, rows: object[], markdown: string}>}
 */
export async function run(ctx) {
  const {tf, backends, log} = ctx;
  const rounds = ctx.repeats * ROUNDS_PER_REPEAT;
  const data = loadEmbeddedMnist({split: 'all', count: 2 * BATCH});
  const rows = [];
  for (const backend of backends) {
    if (!(await tf.setBackend(backend))) throw new Error(`backend '${backend}' could not be initialised`);
    await tf.ready();
    const x = tf.tensor2d(data.images, [2 * BATCH, ORIGINAL_DIM]);
    const xb = tf.slice(x, [0, 0], [BATCH, ORIGINAL_DIM]);
    const rowIds = tf.range(BATCH, 2 * BATCH, 1, 'int32');
    const lib = buildLibraryVae(ctx);
    const hand = buildHandVae(ctx);
    for (const layerName of Object.keys(hand.layers)) lib.layers[layerName].setWeights(hand.layers[layerName].getWeights());

    const variants = {
      a: () => lib.model.trainOnBatch(xb, xb),
      b: async () => {
        const cost = hand.step(xb);
        await cost.data();
        cost.dispose();
      },
      gather: async () => {
        const t = tf.gather(x, rowIds);
        await t.data();
        t.dispose();
      },
      slice: async () => {
        const t = tf.slice(x, [BATCH, 0], [BATCH, ORIGINAL_DIM]);
        await t.data();
        t.dispose();
      },
      fit: () => lib.model.fit(xb, xb, {batchSize: BATCH, epochs: 1, shuffle: false, verbose: 0}),
    };
    const times = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
    log(`[vae-step] ${backend}: batch ${BATCH}, ${rounds} timed rounds after 1 warm-up round`);
    for (let r = 0; r <= rounds; r++) {
      const order = Object.keys(variants);
      if (r % 2 === 1) order.reverse();
      for (const k of order) {
        const t = await timed(variants[k]);
        if (r > 0) times[k].push(t);
      }
    }
    const m = (k) => median(times[k].map((t) => t.ms));
    const mc = (k) => median(times[k].map((t) => t.cpuMs));
    const row = {
      backend, rounds,
      aMs: m('a'), bMs: m('b'), aCpuMs: mc('a'), bCpuMs: mc('b'),
      gatherExtraMs: m('gather') - m('slice'),
      fitCallExtraMs: m('fit') - m('a'),
    };
    row.ratio = row.aMs / row.bMs;
    row.cpuRatio = row.aCpuMs / row.bCpuMs;
    rows.push(row);
    log(`  median step: (a) trainOnBatch ${row.aMs.toFixed(1)} ms, (b) minimize ${row.bMs.toFixed(1)} ms, ` +
        `ratio ${row.ratio.toFixed(3)} (cpu time ratio ${row.cpuRatio.toFixed(3)})`);
    log(`  fit's extras: gather vs slice of a batch +${row.gatherExtraMs.toFixed(1)} ms per batch, ` +
        `a fit() call vs trainOnBatch +${row.fitCallExtraMs.toFixed(1)} ms per call`);

    lib.model.optimizer.dispose();
    lib.model.dispose();
    hand.dispose();
    tf.dispose([x, xb, rowIds]);
  }
  const ok = rows.every((r) => r.ratio <= TARGET_RATIO);
  return {ok, rows, markdown: toMarkdown(rows)};
}

function toMarkdown(rows) {
  const lines = [
    'The VAE of `vae-epoch`, one step at a time on one batch of 256, the variants alternating step by step',
    '(so that load from other processes hits both alike); medians of wall-clock time, CPU time beside them.',
    '(a) is `model.trainOnBatch` of the library model — the train function `model.fit` runs for each batch;',
    '(b) is one `optimizer.minimize` step of the hand-written loop. The last two columns are what `fit` adds',
    'around the train function: `tf.gather` of the batch rows instead of `tf.slice` (per batch), and the',
    'setup of one `fit()` call with one batch (per call, so per epoch). Target: (a)/(b) ≤ ' + TARGET_RATIO.toFixed(2) + '.',
    '',
    '| backend | rounds | (a) step | (b) step | **(a)/(b)** | CPU time (a)/(b) | gather − slice | fit() − trainOnBatch |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  const ms = (v) => `${v.toFixed(1)} ms`;
  for (const r of rows) {
    lines.push(`| ${r.backend} | ${r.rounds} | ${ms(r.aMs)} | ${ms(r.bMs)} | **${r.ratio.toFixed(3)}** | ` +
        `${r.cpuRatio.toFixed(3)} | ${ms(r.gatherExtraMs)} | ${ms(r.fitCallExtraMs)} |`);
  }
  return lines.join('\n');
}
