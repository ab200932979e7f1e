// Benchmark `conv-step`: a small CNN's training step on wasm against the cpu backend.
//
// tfjs-backend-wasm 4.22 has no Conv2DBackpropFilter kernel, so without this
// library no convolutional model trains on wasm; its Conv2DBackpropInput is a
// scalar loop. src/perf/conv_kernels.ts adds the first and replaces the
// second (im2col and SIMD products). Measured here, in one process:
//
//   cpu                     the pure-JavaScript backend;
//   wasm                    as the library sets it up (the default);
//   wasm, tfjs's dx         our Conv2DBackpropFilter with the wasm backend's
//                           own Conv2DBackpropInput (is replacing it worth it?);
//
// one model.trainOnBatch step each (median over the timed steps), and the
// three convolution kernels alone at the shapes of the model's two
// convolutions (wasm: medians of direct runKernel calls; cpu: from
// tf.profile of its timed step).
//
// Model: conv 5×5×32 'same' relu → maxPool 2 → conv 5×5×64 'same' relu →
// maxPool 2 → dense 10 softmax on 28×28×1 MNIST digits (the embedded set),
// batch 64, Adam 1e-3, categorical cross-entropy; every configuration starts
// from the same seeded weights. Target: cpu ÷ wasm ≥ 5 per step.

import {createRequire} from 'node:module';
import {performance} from 'node:perf_hooks';

import {median} from './stats.mjs';

const require = createRequire(import.meta.url);
const {loadEmbeddedMnist} = require('../examples/shared/datasets.cjs');

export const name = 'conv-step';
export const title = 'Training step of a small CNN on wasm (Conv2DBackpropFilter and Conv2DBackpropInput of the library) and on cpu';

const BATCH = 64;
const TARGET_OVER_CPU = 5;
/** Timed wasm steps per configuration per repeat requested on the command line. */
const WASM_STEPS_PER_REPEAT = 5;
/**
 * Timed cpu steps: one. The cpu backend's Conv2DBackpropFilter (a loop reading
 * every element through TensorBuffer.get) takes over a minute of CPU time for
 * the second convolution alone; the ratio is in the hundreds, far from its target.
 */
const CPU_STEPS = 1;
const ORIGINAL = Symbol.for('tfjs-variational.fastWasmKernels.original');

/** The two convolutions of the model: input and filter shapes. */
const CONVS = [
  {label: 'conv 1: x [64, 28, 28, 1], W [5, 5, 1, 32]', x: [BATCH, 28, 28, 1], f: [5, 5, 1, 32]},
  {label: 'conv 2: x [64, 14, 14, 32], W [5, 5, 32, 64]', x: [BATCH, 14, 14, 32], f: [5, 5, 32, 64]},
];

function cnn(tfl) {
  const seed = (s) => tfl.initializers.glorotUniform({seed: s});
  return tfl.sequential({layers: [
    tfl.layers.conv2d({inputShape: [28, 28, 1], filters: 32, kernelSize: 5, padding: 'same', activation: 'relu',
      kernelInitializer: seed(1)}),
    tfl.layers.maxPooling2d({poolSize: 2}),
    tfl.layers.conv2d({filters: 64, kernelSize: 5, padding: 'same', activation: 'relu', kernelInitializer: seed(2)}),
    tfl.layers.maxPooling2d({poolSize: 2}),
    tfl.layers.flatten(),
    tfl.layers.dense({units: 10, activation: 'softmax', kernelInitializer: seed(3)}),
  ]});
}

/** Runs `fn` with the wasm backend's own Conv2DBackpropInput registered in place of ours, then puts ours back. */
async function withTfjsConvInput(tf, fn) {
  const ours = tf.getKernel('Conv2DBackpropInput', 'wasm');
  const original = ours?.[ORIGINAL];
  if (original == null) throw new Error('conv-step: the fast wasm kernels are not installed');
  tf.unregisterKernel('Conv2DBackpropInput', 'wasm');
  tf.registerKernel(original);
  try {
    return await fn();
  } finally {
    tf.unregisterKernel('Conv2DBackpropInput', 'wasm');
    tf.registerKernel(ours);
  }
}

/**
 * Median wall-clock and CPU milliseconds of `fn` (which returns a tensor, read back and disposed) over `n` runs
 * after one warm-up. The kernels run on the calling thread: its CPU time is the kernel's work, whatever the load.
 */
function timeKernel(tf, fn, n) {
  const once = () => {
    const t0 = performance.now();
    const u0 = process.cpuUsage();
    const out = fn();
    out.dataSync();
    out.dispose();
    const u = process.cpuUsage(u0);
    return {wall: performance.now() - t0, cpu: (u.user + u.system) / 1000};
  };
  once();
  const runs = Array.from({length: n}, once);
  return {wall: median(runs.map((r) => r.wall)), cpu: median(runs.map((r) => r.cpu))};
}

const ms = (v) => (v == null ? '–' : v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${v.toFixed(1)} ms`);

/**
 * @param {{tf, tfl, tfv, repeats: number, log: Function}} ctx
 * @returns {Promise<{ok: boolean, rows: object[], markdown: string}>}
 */
export async function run(ctx) {
  const {tf, tfl, tfv, log} = ctx;
  const wasmSteps = ctx.repeats * WASM_STEPS_PER_REPEAT;
  const data = loadEmbeddedMnist({split: 'all', count: BATCH});
  const wasEnabled = tfv.isFastWasmKernelsEnabled();
  if (!ctx.backends.includes('wasm')) throw new Error('conv-step measures the wasm backend: add wasm to --backends');
  const withCpu = ctx.backends.includes('cpu');
  const configs = [
    {id: 'cpu', label: '`cpu`', backend: 'cpu'},
    {id: 'wasm', label: '`wasm` (the library\'s default)', backend: 'wasm'},
    {id: 'wasm-tfjs-dx', label: '`wasm`, the backend\'s own `Conv2DBackpropInput`', backend: 'wasm', tfjsInput: true},
  ].filter((c) => withCpu || c.backend !== 'cpu');
  const use = async (backend) => {
    if (!(await tf.setBackend(backend))) throw new Error(`backend '${backend}' could not be initialised`);
    await tf.ready();
  };
  const step = async (c, x, y) => {
    await use(c.backend);
    const go = () => c.model.trainOnBatch(x ?? c.x, y ?? c.y);
    return c.tfjsInput ? withTfjsConvInput(tf, go) : go();
  };
  const kernelRows = [];
  try {
    tfv.enableFastWasmKernels();
    await use('cpu');
    const first = cnn(tfl);
    const init = first.getWeights().map((w) => ({shape: w.shape, values: w.dataSync().slice()}));
    first.dispose();
    for (const c of configs) {
      await use(c.backend);
      c.model = cnn(tfl);
      const weights = init.map((w) => tf.tensor(w.values, w.shape));
      c.model.setWeights(weights);
      tf.dispose(weights);
      c.model.compile({optimizer: tf.train.adam(1e-3), loss: 'categoricalCrossentropy'});
      c.x = tf.tensor4d(data.images, [BATCH, 28, 28, 1]);
      c.y = tf.tidy(() => tf.oneHot(tf.tensor1d(data.labels, 'int32'), 10));
      c.ms = [];
      c.cpuMs = [];
      // The loss of the initial weights on the batch: the same model on every backend.
      const loss = c.model.evaluate(c.x, c.y, {batchSize: BATCH});
      c.initialLoss = (await loss.data())[0];
      loss.dispose();
    }
    // Warm-up: one step each (the cpu backend on 4 images: its full step takes minutes).
    for (const c of configs) {
      await use(c.backend);
      if (c.id === 'cpu') {
        const [x4, y4] = [tf.slice(c.x, 0, 4), tf.slice(c.y, 0, 4)];
        await step(c, x4, y4);
        tf.dispose([x4, y4]);
      } else {
        await step(c);
      }
    }
    const timed = async (c) => {
      const t0 = performance.now();
      const u0 = process.cpuUsage();
      await step(c);
      const u = process.cpuUsage(u0);
      c.ms.push(performance.now() - t0);
      c.cpuMs.push((u.user + u.system) / 1000);
    };
    const [wasm, wasmTfjsDx] = configs.filter((c) => c.backend === 'wasm');
    const cpu = configs.find((c) => c.id === 'cpu');
    log(`[conv-step] batch ${BATCH}: ${wasmSteps} wasm steps per configuration, taking turns` +
        (withCpu ? `; ${CPU_STEPS} cpu step` : ''));
    for (let r = 0; r < wasmSteps; r++) {
      for (const c of r % 2 === 0 ? [wasm, wasmTfjsDx] : [wasmTfjsDx, wasm]) await timed(c);
    }
    // The cpu step, profiled for its kernel times.
    await use('cpu');
    const cpuKernels = [];
    for (let i = 0; withCpu && i < CPU_STEPS; i++) {
      const profile = await tf.profile(async () => {
        await timed(cpu);
      });
      cpuKernels.push(...profile.kernels);
    }
    // Kernels alone, at the model's shapes.
    const n = ctx.repeats * WASM_STEPS_PER_REPEAT;
    await use('wasm');
    for (const conv of CONVS) {
      const [xs, w, dy] = tf.tidy(() => {
        const xs = tf.randomNormal(conv.x, 0, 1, 'float32', 1);
        const w = tf.randomNormal(conv.f, 0, 1, 'float32', 2);
        return [xs, w, tf.randomNormal([...conv.x.slice(0, 3), conv.f[3]], 0, 1, 'float32', 3)];
      });
      const attrs = {strides: 1, pad: 'same', dataFormat: 'NHWC'};
      const row = {label: conv.label, mflop: (2 * tf.util.sizeFromShape(dy.shape) * conv.f[0] * conv.f[1] * conv.f[2]) / 1e6};
      row.forward = timeKernel(tf, () => tf.conv2d(xs, w, 1, 'same'), n);
      row.filter = timeKernel(tf, () => tf.engine().runKernel('Conv2DBackpropFilter', {x: xs, dy}, {...attrs, filterShape: conv.f}), n);
      row.input = timeKernel(tf, () => tf.engine().runKernel('Conv2DBackpropInput', {dy, filter: w}, {...attrs, inputShape: conv.x}), n);
      row.tfjsInput = await withTfjsConvInput(tf, () =>
        timeKernel(tf, () => tf.engine().runKernel('Conv2DBackpropInput', {dy, filter: w}, {...attrs, inputShape: conv.x}), n));
      tf.dispose([xs, w, dy]);
      kernelRows.push(row);
    }
    // The cpu step's convolution kernels, told apart by their operands' shapes (x for the forward pass and the
    // filter gradient, the filter for the input gradient); medians over the timed steps.
    const same = (a, b) => a != null && a.length === b.length && a.every((v, i) => v === b[i]);
    const cpuOf = (names, operand, shape) => {
      const times = cpuKernels.filter((k) => names.includes(k.name) && same(k.inputShapes[operand], shape))
          .map((k) => k.kernelTimeMs);
      return times.length > 0 ? median(times) : null;
    };
    CONVS.forEach((conv, i) => {
      kernelRows[i].cpu = {
        forward: cpuOf(['Conv2D', 'FusedConv2D'], 0, conv.x),
        filter: cpuOf(['Conv2DBackpropFilter'], 0, conv.x),
        input: cpuOf(['Conv2DBackpropInput'], 1, conv.f),
      };
    });
    for (const c of configs) {
      await use(c.backend);
      c.model.optimizer.dispose();
      c.model.dispose();
      tf.dispose([c.x, c.y]);
    }
  } finally {
    if (wasEnabled) tfv.enableFastWasmKernels(); else tfv.disableFastWasmKernels();
  }
  const cpu = configs.find((c) => c.id === 'cpu');
  const rows = configs.map((c) => ({
    id: c.id, label: c.label, ms: median(c.ms), cpuMs: median(c.cpuMs), steps: c.ms.length,
    overCpu: cpu == null ? null : median(cpu.ms) / median(c.ms),
    overCpuCpuTime: cpu == null ? null : median(cpu.cpuMs) / median(c.cpuMs),
    initialLoss: c.initialLoss,
  }));
  const ratio = (v) => (v == null ? '–' : v.toFixed(1));
  for (const row of rows) {
    log(`  ${row.id.padEnd(13)} ${ms(row.ms).padStart(9)} (cpu time ${ms(row.cpuMs)}), ${ratio(row.overCpu)}× the cpu backend`);
  }
  for (const k of kernelRows) {
    const kernelTime = (t) => `${ms(t.cpu)} CPU, ${ms(t.wall)} wall (${(k.mflop / t.cpu).toFixed(1)} GFLOP/s)`;
    k.kernelTime = kernelTime;
    log(`  ${k.label}: forward ${kernelTime(k.forward)}; filter ${kernelTime(k.filter)}; input ${kernelTime(k.input)} ` +
        `(tfjs's ${kernelTime(k.tfjsInput)}); cpu: forward ${ms(k.cpu.forward)}, filter ${ms(k.cpu.filter)}, input ${ms(k.cpu.input)}`);
  }
  const wasm = rows.find((row) => row.id === 'wasm');
  const reference = rows[0].initialLoss;
  const lossesAgree = rows.every((row) => Math.abs(row.initialLoss - reference) <= 1e-4 * Math.abs(reference));
  const ok = wasm.overCpu != null && wasm.overCpu >= TARGET_OVER_CPU && lossesAgree;
  if (!lossesAgree) log(`  the initial losses differ: ${rows.map((row) => `${row.id} ${row.initialLoss}`).join(', ')}`);

  const lines = [
    `One \`model.trainOnBatch\` step of a small CNN — conv 5×5×32 'same' relu → maxPool 2 → conv 5×5×64 'same' relu →`,
    `maxPool 2 → dense 10 softmax on 28×28×1 embedded MNIST digits, batch ${BATCH}, Adam 1e-3, categorical`,
    `cross-entropy, the same seeded initial weights everywhere — after a warm-up step (the cpu backend's on 4 images).`,
    `wasm: ${wasmSteps} timed steps per configuration, taking turns (medians); cpu: ${CPU_STEPS} timed step (its`,
    `Conv2DBackpropFilter of the second convolution alone, a loop reading every element through \`TensorBuffer.get\`,`,
    `takes over a minute). Without the library the wasm backend cannot train this model (no \`Conv2DBackpropFilter\``,
    `kernel). The machine is shared: the CPU time of the process is the steadier measure when it is busy (the wasm`,
    `backend and the cpu backend both compute on one thread here). Target: cpu ÷ wasm ≥ ${TARGET_OVER_CPU}.`,
    '',
    '| configuration | step, wall | step, CPU time | **cpu ÷ this** (wall) | cpu ÷ this (CPU time) | loss before training |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map((row) => `| ${row.label} | ${ms(row.ms)} | ${ms(row.cpuMs)} | **${ratio(row.overCpu)}** | ` +
        `${ratio(row.overCpuCpuTime)} | ${row.initialLoss.toFixed(6)} |`),
    '',
    `The loss before training (\`model.evaluate\` of the initial weights on the batch) must agree within 1e-4 relative`,
    `between the configurations: ${lossesAgree ? 'it does' : '**it does not**'}.`,
    '',
    `The convolution kernels alone at the model's shapes ('same' padding, stride 1): wasm medians of ${ctx.repeats * WASM_STEPS_PER_REPEAT}`,
    `calls, CPU time of the calling thread (where the kernels run) with the wall-clock time after it, and GFLOP/s of`,
    `CPU time in parentheses (2·FH·FW·C per output value); cpu: wall-clock times from \`tf.profile\` of its timed step.`,
    `The forward pass is the wasm backend's (XNNPACK; tfjs-layers runs \`FusedConv2D\` with the bias and relu). Training`,
    `never computes the first convolution's input gradient (the images need none).`,
    '',
    '| convolution (MFLOP per kernel) | wasm forward (Conv2D) | wasm Conv2DBackpropFilter (ours) | ' +
        'wasm Conv2DBackpropInput (ours) | wasm Conv2DBackpropInput (tfjs\'s) | cpu forward | cpu Conv2DBackpropFilter | cpu Conv2DBackpropInput |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...kernelRows.map((k) => `| ${k.label} (${k.mflop.toFixed(0)}) | ${k.kernelTime(k.forward)} | ${k.kernelTime(k.filter)} | ` +
        `${k.kernelTime(k.input)} | ${k.kernelTime(k.tfjsInput)} | ${ms(k.cpu.forward)} | ${ms(k.cpu.filter)} | ${ms(k.cpu.input)} |`),
  ];
  return {ok, rows, markdown: lines.join('\n')};
}
