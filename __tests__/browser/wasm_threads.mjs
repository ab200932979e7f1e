#!/usr/bin/env node
/**
 * How much a second XNNPACK thread gives the wasm backend in Chromium: plain
 * matMul 256×784·784×512 and one training step of the VAE 784-512-2 (batch
 * 256, Adam, `trainOnBatch`, fast wasm kernels as configured), on
 *
 *   simd             a page without cross-origin isolation: tfjs loads
 *                    tfjs-backend-wasm-simd.wasm (no threads possible)
 *   threaded, 1      a cross-origin isolated page (COOP/COEP): tfjs loads
 *                    tfjs-backend-wasm-threaded-simd.wasm; setThreadsCount(1)
 *   threaded, 2      the same with setThreadsCount(2)
 *
 * All pages live in one browser at the same time and take turns, round by
 * round in alternating order, so that load from other processes falls on every
 * configuration alike; the report gives medians and ratios to "threaded, 1".
 * Not a test: nothing here passes or fails.
 *
 *   npm run build && node __tests__/browser/wasm_threads.mjs [--rounds=9] [--no-fast-kernels]
 *
 * tfjs-backend-wasm 4.22 sizes its thread pool as
 * min(setThreadsCount or hardwareConcurrency / 2, 8, hardwareConcurrency / 2):
 * it assumes two hardware threads per core. Where that halves the real core
 * count (a 2-core virtual machine reports hardwareConcurrency 2, so 1 thread),
 * the page reports twice the requested count to tfjs so that the pool really
 * has the requested threads; the output says when it did.
 */
import {cpus, loadavg} from 'node:os';
import {createRequire} from 'node:module';

import {CHROMIUM_ARGS, NOT_ISOLATED_PREFIX, findChromium, startServer} from './server.mjs';

const require = createRequire(import.meta.url);

const args = Object.fromEntries(process.argv.slice(2).map((a) => {
  const [k, v] = a.replace(/^--/, '').split('=');
  return [k, v ?? true];
}));
const ROUNDS = Number(args.rounds || 9);
const FAST = !args['no-fast-kernels'];
const MATMUL_CALLS = 10;
const STEPS = 3;

const CONFIGS = [
  {id: 'simd (not isolated)', prefix: NOT_ISOLATED_PREFIX, threads: 0},
  {id: 'threaded-simd, 1 thread', prefix: '', threads: 1},
  {id: 'threaded-simd, 2 threads', prefix: '', threads: 2},
];
const BASELINE = 1;

/** Runs in the page: selects wasm with `threads` XNNPACK threads and builds the model. */
async function setupPage([threads, fast]) {
  const info = {crossOriginIsolated: self.crossOriginIsolated === true, hardwareConcurrency: navigator.hardwareConcurrency};
  tf.wasm.setWasmPaths(new URL('wasm/', location.href).href);
  if (threads > 0) {
    if (self.crossOriginIsolated && Math.floor(navigator.hardwareConcurrency / 2) < threads) {
      Object.defineProperty(Navigator.prototype, 'hardwareConcurrency', {get: () => 2 * threads, configurable: true});
      info.hardwareConcurrencyToTfjs = 2 * threads;
    }
    tf.wasm.setThreadsCount(threads);
  }
  if (!fast) tfv.disableFastWasmKernels();
  if (!(await tf.setBackend('wasm'))) throw new Error('wasm backend failed to initialise');
  await tf.ready();
  info.build = performance.getEntriesByType('resource').map((e) => e.name.split('/').pop()).filter((n) => n.endsWith('.wasm')).join('+');
  info.threads = tf.wasm.getThreadsCount();
  info.fastKernelsActive = tfv.isFastWasmKernelsActive();

  const seeded = (shape, seed) => tf.randomUniform(shape, -1, 1, 'float32', seed);
  const bench = {a: seeded([256, 784], 1), b: seeded([784, 512], 2)};
  const x = tf.input({shape: [784]});
  const h = tf.layers.dense({units: 512, activation: 'relu'}).apply(x);
  let mu = tf.layers.dense({units: 2}).apply(h);
  let lv = tf.layers.dense({units: 2}).apply(h);
  [mu, lv] = tfv.layers.klDivergence().apply([mu, lv]);
  const z = tfv.layers.reparameterize({seed: 3}).apply([mu, lv]);
  const out = tf.layers.dense({units: 784}).apply(tf.layers.dense({units: 512, activation: 'relu'}).apply(z));
  bench.model = tf.model({inputs: x, outputs: out});
  bench.model.compile({optimizer: tf.train.adam(1e-3), loss: tfv.losses.bernoulliNLL({fromLogits: true})});
  bench.x = tf.randomUniform([256, 784], 0, 1, 'float32', 4);
  for (let i = 0; i < 3; i++) {
    await bench.model.trainOnBatch(bench.x, bench.x);
    tf.dispose(tf.matMul(bench.a, bench.b));
  }
  window.threadBench = bench;
  return info;
}

/** Runs in the page: milliseconds per matMul and per training step. */
async function timePage([calls, steps]) {
  const {a, b, model, x} = window.threadBench;
  let t0 = performance.now();
  for (let i = 0; i < calls; i++) tf.dispose(tf.matMul(a, b));
  const matMul = (performance.now() - t0) / calls;
  t0 = performance.now();
  for (let i = 0; i < steps; i++) await model.trainOnBatch(x, x);
  const step = (performance.now() - t0) / steps;
  return {matMul, step};
}

const median = (v) => {
  const s = [...v].sort((p, q) => p - q);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

async function main() {
  const executablePath = findChromium();
  if (!executablePath) throw new Error('no chromium found (set TFV_CHROMIUM)');
  const playwright = require('playwright-core');
  const server = await startServer();
  const origin = `http://127.0.0.1:${server.address().port}`;
  const browser = await playwright.chromium.launch({executablePath, headless: true, args: CHROMIUM_ARGS});
  const load0 = loadavg();
  const started = Date.now();
  try {
    console.log(`Chromium ${browser.version()}, ${cpus().length} logical CPUs (${cpus()[0]?.model ?? '?'}), ` +
        `load average ${load0.map((l) => l.toFixed(2)).join(' ')}; fast wasm kernels ${FAST ? 'on' : 'off'}; ` +
        `${ROUNDS} rounds of ${MATMUL_CALLS} matMuls + ${STEPS} steps per configuration`);
    const pages = [];
    for (const c of CONFIGS) {
      const page = await browser.newPage();
      await page.goto(`${origin}${c.prefix}/index.html`);
      const info = await page.evaluate(setupPage, [c.threads, FAST]);
      console.log(`  ${c.id}: ${Object.entries(info).map(([k, v]) => `${k}=${v}`).join(', ')}`);
      pages.push({...c, page, info, matMul: [], step: []});
    }
    for (let r = 0; r < ROUNDS; r++) {
      const order = r % 2 ? [...pages].reverse() : pages;
      for (const p of order) {
        const t = await p.page.evaluate(timePage, [MATMUL_CALLS, STEPS]);
        p.matMul.push(t.matMul);
        p.step.push(t.step);
      }
    }
    const flops = 2 * 256 * 784 * 512;
    const base = pages[BASELINE];
    console.log('\n| configuration | threads | matMul ms | GFLOP/s | × 1 thread | VAE step ms | × 1 thread |');
    console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
    for (const p of pages) {
      const mm = median(p.matMul);
      const st = median(p.step);
      console.log(`| ${p.id} | ${p.info.threads} | ${mm.toFixed(2)} | ${(flops / mm / 1e6).toFixed(1)} | ` +
          `${(median(base.matMul) / mm).toFixed(2)} | ${st.toFixed(1)} | ${(median(base.step) / st).toFixed(2)} |`);
    }
    console.log('\n(× 1 thread: speed relative to the threaded build with one thread; > 1 is faster)');
    console.log(`load average at the end ${loadavg().map((l) => l.toFixed(2)).join(' ')}; ` +
        `${((Date.now() - started) / 1000).toFixed(0)} s`);
  } finally {
    await browser.close();
    server.close();
  }
}

main().catch((e) => {
  console.error(e && e.stack || e);
  process.exit(1);
});
