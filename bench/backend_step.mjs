// Benchmark `backend-step`: which backend trains fastest, as the examples and
// docs choose it (tensorflow → wasm → cpu).
//
// One training step (model.trainOnBatch) of the MNIST example's VAE — 784-512-2
// encoder, 2-512-784 decoder, relu, Bernoulli likelihood from logits, Adam
// 1e-3, batch 128 (the example's default), embedded MNIST digits — on three
// configurations in one process, taking turns step by step so that load from
// other processes hits them alike:
//
//   cpu                the pure-JavaScript backend;
//   wasm, kernels off  the wasm backend with its own kernels
//                      (tfv.disableFastWasmKernels());
//   wasm               the wasm backend as the library sets it up (the default).
//
// The tensorflow backend (tfjs-node) is not installed here; nothing measures it.

import {createRequire} from 'node:module';
import {performance} from 'node:perf_hooks';

import {median} from './stats.mjs';
import {buildLibraryVae} from './vae_epoch.mjs';

const require = createRequire(import.meta.url);
const {loadEmbeddedMnist} = require('../examples/shared/datasets.cjs');

export const name = 'backend-step';
export const title = 'Training step of the MNIST example\'s VAE on cpu, on wasm with its own kernels, and on wasm as set up by the library';

const BATCH = 128;
/** Timed rounds per repeat requested on the command line. */
const ROUNDS_PER_REPEAT = 3;
/** The default must stay the fastest: wasm at least this many times the cpu backend's speed. */
const TARGET_OVER_CPU = 10;

/**
 * @param {{tf, tfl, tfv, repeats: number, log: Function}} ctx
 * @returns {Promise<{ok: boolean, rows: object[], markdown: string}>}
 */
export async function run(ctx) {
  const {tf, tfv, log} = ctx;
  const rounds = ctx.repeats * ROUNDS_PER_REPEAT;
  const data = loadEmbeddedMnist({split: 'all', count: BATCH});
  const wasEnabled = tfv.isFastWasmKernelsEnabled();
  const configs = [
    {id: 'cpu', label: '`cpu`', backend: 'cpu', fast: true},
    {id: 'wasm-own', label: '`wasm`, fast kernels off (`tfv.disableFastWasmKernels()`)', backend: 'wasm', fast: false},
    {id: 'wasm', label: '`wasm`, fast kernels on (the default)', backend: 'wasm', fast: true},
  ];
  const use = async (c) => {
    if (!(await tf.setBackend(c.backend))) throw new Error(`backend '${c.backend}' could not be initialised`);
    await tf.ready();
    if (c.fast) tfv.enableFastWasmKernels(); else tfv.disableFastWasmKernels();
  };
  try {
    // Every configuration gets its own model and batch, made on its backend and used only there.
    for (const c of configs) {
      await use(c);
      c.x = tf.tensor2d(data.images, [BATCH, 784]);
      c.vae = buildLibraryVae(ctx);
      await c.vae.model.trainOnBatch(c.x, c.x);  // warm-up
      c.ms = [];
      c.cpuMs = [];
    }
    log(`[backend-step] batch ${BATCH}, ${rounds} rounds of ${configs.map((c) => c.id).join(', ')}`);
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 === 0 ? configs : [...configs].reverse();
      for (const c of order) {
        await use(c);
        const t0 = performance.now();
        const u0 = process.cpuUsage();
        await c.vae.model.trainOnBatch(c.x, c.x);
        const u = process.cpuUsage(u0);
        c.ms.push(performance.now() - t0);
        c.cpuMs.push((u.user + u.system) / 1000);
      }
    }
    for (const c of configs) {
      await use(c);
      c.vae.model.optimizer.dispose();
      c.vae.model.dispose();
      c.x.dispose();
    }
  } finally {
    if (wasEnabled) tfv.enableFastWasmKernels(); else tfv.disableFastWasmKernels();
  }
  const cpu = configs[0];
  const rows = configs.map((c) => ({
    id: c.id, label: c.label, ms: median(c.ms), cpuMs: median(c.cpuMs),
    overCpu: median(cpu.ms) / median(c.ms), overCpuCpuTime: median(cpu.cpuMs) / median(c.cpuMs),
  }));
  for (const row of rows) {
    log(`  ${row.id.padEnd(9)} ${row.ms.toFixed(1).padStart(8)} ms (cpu time ${row.cpuMs.toFixed(1)} ms), ` +
        `${row.overCpu.toFixed(1)}× the cpu backend`);
  }
  const wasm = rows.find((row) => row.id === 'wasm');
  const ok = wasm.overCpu >= TARGET_OVER_CPU && rows.every((row) => row.id === 'wasm' || row.ms >= wasm.ms);
  const ms = (v) => (v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${v.toFixed(1)} ms`);
  const lines = [
    `One \`model.trainOnBatch\` step of the MNIST example's VAE (784-512-2 encoder, 2-512-784 decoder, relu, Bernoulli`,
    `likelihood from logits, Adam 1e-3, batch ${BATCH}, embedded MNIST digits) on each configuration in one process, taking`,
    `turns step by step (${rounds} rounds after a warm-up step; medians). The examples pick \`tensorflow\` (tfjs-node, not`,
    `installable here), then \`wasm\`, then \`cpu\`; this is the measurement behind that order. Target: wasm with the`,
    `library's kernels the fastest, at least ${TARGET_OVER_CPU}× the cpu backend.`,
    '',
    '| configuration | step, wall | step, CPU time | **cpu ÷ this** (wall) | cpu ÷ this (CPU time) |',
    '| --- | ---: | ---: | ---: | ---: |',
    ...rows.map((row) => `| ${row.label} | ${ms(row.ms)} | ${ms(row.cpuMs)} | **${row.overCpu.toFixed(1)}** | ` +
        `${row.overCpuCpuTime.toFixed(1)} |`),
  ];
  return {ok, rows, markdown: lines.join('\n')};
}
