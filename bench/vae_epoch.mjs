// Benchmark `vae-epoch`: one training epoch of the same VAE, two ways.
//
//   (a) library: tfv.layers.klDivergence + tfv.layers.reparameterize inside a
//       tf.model, tfv.losses.bernoulliNLL({fromLogits: true}) as the compiled
//       loss, trained with model.fit.
//   (b) hand-written: an encoder model (x -> [mu, logVar]) and a decoder model
//       (z -> logits) built from the same dense layers, z sampled by hand, the
//       Bernoulli NLL and the Gaussian KL written out, trained with
//       optimizer.minimize (the structure of tfjs-examples' fashion-mnist-vae).
//
// Both start from the same weights, see the same batches in the same order
// (fit runs with shuffle: false) and use Adam(1e-3) with batch size 256.

import {createRequire} from 'node:module';
import {performance} from 'node:perf_hooks';
import {median} from './stats.mjs';

const require = createRequire(import.meta.url);
const {loadEmbeddedMnist} = require('../examples/shared/datasets.cjs');

export const name = 'vae-epoch';
export const title = 'VAE epoch: model.fit with tfjs-variational layers vs a hand-written optimizer.minimize loop';

/** The VAE every VAE benchmark builds (`buildLibraryVae`): sizes, batch and Adam's learning rate. */
export const ORIGINAL_DIM = 784;
export const HIDDEN = 512;
export const LATENT = 2;
export const BATCH = 256;
export const LEARNING_RATE = 1e-3;
const TARGET_RATIO = 1.10;
/** The two epoch losses (same data, same start, different noise) must agree this closely. */
const LOSS_TOLERANCE = 0.05;
/** Relative tolerance of the exact objective check (float32 sums over 784 pixels). */
const OBJECTIVE_RTOL = 1e-4;
/** Images used by the objective check. */
const CHECK_IMAGES = 1024;

/** Images per backend: the cpu backend is slow, so it trains on a prefix. */
const DEFAULT_IMAGES = {cpu: 2560, wasm: 10000};

const DENSE_LAYERS = [
  {name: 'enc_hidden', units: HIDDEN, activation: 'relu'},
  {name: 'z_mean', units: LATENT},
  {name: 'z_log_var', units: LATENT},
  {name: 'dec_hidden', units: HIDDEN, activation: 'relu'},
  {name: 'dec_logits', units: ORIGINAL_DIM},
];

function denseLayers(tfl) {
  const layers = {};
  for (const {name: layerName, units, activation} of DENSE_LAYERS) {
    layers[layerName] = tfl.layers.dense({name: layerName, units, activation});
  }
  return layers;
}

/** (a) The VAE of the contract: our layers in the graph, fit does the rest. */
export function buildLibraryVae({tf, tfl, tfv}, inferenceMode = 'sample') {
  const d = denseLayers(tfl);
  const x = tfl.input({shape: [ORIGINAL_DIM]});
  const h = d.enc_hidden.apply(x);
  let mu = d.z_mean.apply(h);
  let logVar = d.z_log_var.apply(h);
  [mu, logVar] = tfv.layers.klDivergence().apply([mu, logVar]);
  const z = tfv.layers.reparameterize({inferenceMode}).apply([mu, logVar]);
  const logits = d.dec_logits.apply(d.dec_hidden.apply(z));
  const model = tfl.model({inputs: x, outputs: logits});
  model.compile({optimizer: tf.train.adam(LEARNING_RATE), loss: tfv.losses.bernoulliNLL({fromLogits: true})});
  return {model, layers: d};
}

/** (b) Encoder and decoder models of plain dense layers; sampling and loss by hand. */
export function buildHandVae({tf, tfl}) {
  const d = denseLayers(tfl);
  const x = tfl.input({shape: [ORIGINAL_DIM]});
  const h = d.enc_hidden.apply(x);
  const encoder = tfl.model({inputs: x, outputs: [d.z_mean.apply(h), d.z_log_var.apply(h)]});
  const zIn = tfl.input({shape: [LATENT]});
  const decoder = tfl.model({inputs: zIn, outputs: d.dec_logits.apply(d.dec_hidden.apply(zIn))});
  const optimizer = tf.train.adam(LEARNING_RATE);
  const variables = [...encoder.trainableWeights, ...decoder.trainableWeights].map((w) => w.read());

  // Per-example terms of the negative ELBO, written out.
  const terms = (xb, sample = true) => {
    const [mu, logVar] = encoder.apply(xb);
    const z = sample ? tf.add(mu, tf.mul(tf.exp(tf.mul(logVar, 0.5)), tf.randomNormal(mu.shape))) : mu;
    const logits = decoder.apply(z);
    // Bernoulli NLL from logits: max(l, 0) - l*x + log(1 + exp(-|l|)), summed over pixels.
    const nll = tf.sum(
        tf.add(tf.sub(tf.relu(logits), tf.mul(logits, xb)), tf.log1p(tf.exp(tf.neg(tf.abs(logits))))), -1);
    // KL(N(mu, exp(logVar)) || N(0, I)) = -0.5 * sum(1 + logVar - mu^2 - exp(logVar)).
    const kl = tf.mul(tf.sum(tf.sub(tf.sub(tf.add(logVar, 1), tf.square(mu)), tf.exp(logVar)), -1), -0.5);
    return {nll, kl};
  };
  // Negative ELBO, averaged over the batch.
  const loss = (xb) => {
    const {nll, kl} = terms(xb);
    return tf.mean(tf.add(nll, kl));
  };
  const step = (xb) => optimizer.minimize(() => loss(xb), true, variables);
  const dispose = () => {
    optimizer.dispose();
    encoder.dispose();
    decoder.dispose();
  };
  return {encoder, decoder, layers: d, terms, step, dispose};
}

/** Wall time and this process's CPU time (user + system) since the call. */
function startClock() {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  return () => {
    const c = process.cpuUsage(c0);
    return {ms: performance.now() - t0, cpuMs: (c.user + c.system) / 1000};
  };
}

function copyWeights(fromLayers, toLayers) {
  for (const {name: layerName} of DENSE_LAYERS) {
    toLayers[layerName].setWeights(fromLayers[layerName].getWeights());
  }
}

/**
 * Exact check of the objective before timing: with the same weights and z = mu
 * (inferenceMode 'mean'), tfv.evaluateObjective and model.evaluate of (a) must
 * equal the hand-written data term, KL and their sum of (b).
 */
async function checkObjective(ctx, hand, x) {
  const {tf} = ctx;
  const {model, layers} = buildLibraryVae(ctx, 'mean');
  copyWeights(hand.layers, layers);
  const objective = await ctx.tfv.evaluateObjective(model, x, x, {batchSize: BATCH});
  const evaluated = model.evaluate(x, x, {batchSize: BATCH});
  const evalLoss = (await evaluated.data())[0];
  const [nll, kl] = tf.tidy(() => {
    const t = hand.terms(x, false);
    return [tf.mean(t.nll), tf.mean(t.kl)];
  });
  const want = {dataTerm: (await nll.data())[0], kl: (await kl.data())[0]};
  tf.dispose([evaluated, nll, kl]);
  model.optimizer.dispose();  // tf.train.adam makes (trainable) variables when constructed
  model.dispose();
  const close = (got, expected) => Math.abs(got - expected) <= OBJECTIVE_RTOL * Math.max(1, Math.abs(expected));
  const checks = {
    dataTerm: [objective.dataTerm, want.dataTerm],
    kl: [objective.layerLosses, want.kl],
    loss: [objective.loss, want.dataTerm + want.kl],
    evaluate: [evalLoss, want.dataTerm + want.kl],
  };
  const failed = Object.entries(checks).filter(([, [got, expected]]) => !close(got, expected));
  return {checks, ok: failed.length === 0, failed: failed.map(([k]) => k)};
}

/** (a): warm-up fit on one batch, then one timed epoch. */
async function runLibrary(ctx, initial, x, xWarm) {
  const {tf} = ctx;
  const {model, layers} = buildLibraryVae(ctx);
  copyWeights(initial, layers);
  await model.fit(xWarm, xWarm, {batchSize: BATCH, epochs: 1, shuffle: false, verbose: 0});
  const clock = startClock();
  const history = await model.fit(x, x, {batchSize: BATCH, epochs: 1, shuffle: false, verbose: 0});
  const {ms, cpuMs} = clock();
  const loss = history.history.loss[0];
  model.optimizer.dispose();
  model.dispose();
  return {ms, cpuMs, loss: typeof loss === 'number' ? loss : (await loss.data())[0], tensors: tf.memory().numTensors};
}

/** (b): warm-up step on one batch, then one timed epoch over the same batches as fit. */
async function runHand(ctx, initial, x, xWarm) {
  const {tf} = ctx;
  const vae = buildHandVae(ctx);
  copyWeights(initial, vae.layers);
  tf.dispose(vae.step(xWarm));
  const n = x.shape[0];
  const clock = startClock();
  let total = tf.scalar(0);
  for (let start = 0; start < n; start += BATCH) {
    const size = Math.min(BATCH, n - start);
    const xb = tf.slice(x, [start, 0], [size, ORIGINAL_DIM]);
    const cost = vae.step(xb);
    const next = tf.tidy(() => tf.add(total, tf.mul(cost, size)));
    tf.dispose([xb, cost, total]);
    total = next;
  }
  const sum = (await total.data())[0];
  const {ms, cpuMs} = clock();
  total.dispose();
  vae.dispose();
  return {ms, cpuMs, loss: sum / n, tensors: tf.memory().numTensors};
}

/**
 * Runs the benchmark on each backend.
 * @param {{tf, tfl, tfv, backends: string[], repeats: number, images?: Record<string, number>, log: Function}} ctx
 * @returns {Promise<{ok: boolean, rows: object[], markdown: string}>}
 */
export async function run(ctx) {
  const {tf, backends, repeats, log} = ctx;
  const images = {...DEFAULT_IMAGES, ...(ctx.images || {})};
  const data = loadEmbeddedMnist({split: 'all'});
  const rows = [];
  for (const backend of backends) {
    if (!(await tf.setBackend(backend))) throw new Error(`backend '${backend}' could not be initialised`);
    await tf.ready();
    const n = Math.min(images[backend] ?? data.n, data.n);
    const x = tf.tensor2d(data.images.subarray(0, n * ORIGINAL_DIM), [n, ORIGINAL_DIM]);
    const xWarm = tf.slice(x, [0, 0], [BATCH, ORIGINAL_DIM]);
    // One set of initial weights for every run on this backend.
    const reference = buildHandVae(ctx);

    const xCheck = tf.slice(x, [0, 0], [Math.min(CHECK_IMAGES, n), ORIGINAL_DIM]);
    const objective = await checkObjective(ctx, reference, xCheck);
    xCheck.dispose();
    const fmt = ([got, expected]) => `${got.toFixed(4)} vs ${expected.toFixed(4)}`;
    log(`  objective check at the initial weights, z = mu (library vs by hand): ` +
        Object.entries(objective.checks).map(([k, v]) => `${k} ${fmt(v)}`).join(', ') +
        (objective.ok ? ' -- equal' : ` -- DIFFERENT: ${objective.failed.join(', ')}`));

    const a = [];
    const b = [];
    const baseTensors = tf.memory().numTensors;
    log(`[vae-epoch] ${backend}: ${n} images, ${Math.ceil(n / BATCH)} batches of ${BATCH}, ${repeats} repeats`);
    for (let r = 0; r < repeats; r++) {
      // Alternate the order so drift (heat, GC) does not favour one path.
      const order = r % 2 === 0 ? ['a', 'b'] : ['b', 'a'];
      for (const which of order) {
        const res = which === 'a' ? await runLibrary(ctx, reference.layers, x, xWarm) : await runHand(ctx, reference.layers, x, xWarm);
        (which === 'a' ? a : b).push(res);
        log(`  repeat ${r + 1} (${which}) ${which === 'a' ? 'fit     ' : 'minimize'} ${res.ms.toFixed(0).padStart(7)} ms` +
            ` (cpu ${res.cpuMs.toFixed(0).padStart(7)} ms)  loss ${res.loss.toFixed(3)}  live tensors ${res.tensors - baseTensors}`);
      }
    }
    const row = {
      backend, images: n, batches: Math.ceil(n / BATCH), repeats,
      aMs: median(a.map((r) => r.ms)), bMs: median(b.map((r) => r.ms)),
      aCpuMs: median(a.map((r) => r.cpuMs)), bCpuMs: median(b.map((r) => r.cpuMs)),
      aAll: a.map((r) => r.ms), bAll: b.map((r) => r.ms),
      aLoss: median(a.map((r) => r.loss)), bLoss: median(b.map((r) => r.loss)),
      objective,
      leakedTensors: Math.max(...[...a, ...b].map((r) => r.tensors)) - baseTensors,
    };
    row.ratio = row.aMs / row.bMs;
    row.cpuRatio = row.aCpuMs / row.bCpuMs;
    row.lossRelDiff = Math.abs(row.aLoss - row.bLoss) / Math.abs(row.bLoss);
    row.lossOk = row.lossRelDiff <= LOSS_TOLERANCE;
    rows.push(row);
    log(`  median: (a) ${row.aMs.toFixed(0)} ms, (b) ${row.bMs.toFixed(0)} ms, ratio (a)/(b) = ${row.ratio.toFixed(3)}` +
        ` (cpu time ratio ${row.cpuRatio.toFixed(3)})`);
    log(`  epoch loss (a) ${row.aLoss.toFixed(3)} vs (b) ${row.bLoss.toFixed(3)}: ` +
        `${(100 * row.lossRelDiff).toFixed(2)}% apart${row.lossOk ? '' : ' -- MORE THAN ' + 100 * LOSS_TOLERANCE + '%'}`);
    reference.dispose();
    tf.dispose([x, xWarm]);
  }
  const ok = rows.every((r) => r.ratio <= TARGET_RATIO && r.lossOk && r.objective.ok && r.leakedTensors === 0);
  return {ok, rows, markdown: toMarkdown(rows)};
}

function toMarkdown(rows) {
  const f = (ms) => `${(ms / 1000).toFixed(2)} s`;
  const lines = [
    'One epoch of the same VAE (784-512-2 encoder, 2-512-784 decoder, relu hidden layers, Bernoulli',
    'likelihood from logits, batch 256, Adam 1e-3) on the embedded MNIST digits',
    '(`loadEmbeddedMnist({split: \'all\'})`; the cpu backend trains on the first images only, to keep',
    'the run short):',
    '',
    '- **(a)** `model.fit` on a `tf.model` containing `tfv.layers.klDivergence` and `tfv.layers.reparameterize`,',
    '  compiled with `tfv.losses.bernoulliNLL({fromLogits: true})` (`shuffle: false`);',
    '- **(b)** a hand-written `optimizer.minimize` loop over the same dense layers (encoder and decoder models,',
    '  z sampled with `tf.randomNormal`, Bernoulli NLL and KL written out), as in tfjs-examples\' fashion-mnist-vae.',
    '',
    'Both start from the same weights and see the same batches. Each run is a fresh model with a warm-up step;',
    'runs alternate (a)/(b); times are medians of wall-clock time (CPU time of the process beside them, which',
    'is less sensitive to other load on the machine). Target: (a)/(b) ≤ ' + TARGET_RATIO.toFixed(2) + '. The epoch',
    'losses (mean negative ELBO per image over the epoch) are a sanity check: they must agree within ' +
        `${100 * LOSS_TOLERANCE}%.`,
    '',
    '| backend | images (batches) | repeats | (a) fit | (b) minimize | **(a)/(b)** | CPU time (a)/(b) | epoch loss (a) / (b) |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const r of rows) {
    lines.push(`| ${r.backend} | ${r.images} (${r.batches}) | ${r.repeats} | ${f(r.aMs)} | ${f(r.bMs)} | ` +
        `**${r.ratio.toFixed(3)}** | ${f(r.aCpuMs)} / ${f(r.bCpuMs)} = ${r.cpuRatio.toFixed(3)} | ` +
        `${r.aLoss.toFixed(2)} / ${r.bLoss.toFixed(2)} |`);
  }
  lines.push('');
  lines.push('All runs (seconds):');
  lines.push('');
  for (const r of rows) {
    lines.push(`- ${r.backend}: (a) ${r.aAll.map((ms) => (ms / 1000).toFixed(2)).join(', ')}; ` +
        `(b) ${r.bAll.map((ms) => (ms / 1000).toFixed(2)).join(', ')}`);
  }
  lines.push('');
  lines.push(`Objective check before timing (first ${CHECK_IMAGES} images, initial weights, z = mu): ` +
      '(a)\'s `tfv.evaluateObjective` and `model.evaluate` against the hand-written terms of (b), ' +
      `relative tolerance ${OBJECTIVE_RTOL}:`);
  lines.push('');
  lines.push('| backend | data term (a) / (b) | KL (a) / (b) | objective (a) / (b) | model.evaluate (a) | result |');
  lines.push('| --- | --- | --- | --- | --- | --- |');
  for (const r of rows) {
    const c = r.objective.checks;
    const pair = ([got, expected]) => `${got.toFixed(4)} / ${expected.toFixed(4)}`;
    lines.push(`| ${r.backend} | ${pair(c.dataTerm)} | ${pair(c.kl)} | ${pair(c.loss)} | ${c.evaluate[0].toFixed(4)} | ` +
        `${r.objective.ok ? 'equal' : '**different: ' + r.objective.failed.join(', ') + '**'} |`);
  }
  const leaks = rows.filter((r) => r.leakedTensors > 0);
  if (leaks.length) {
    lines.push('');
    lines.push('Tensors left alive after a run: ' + leaks.map((r) => `${r.backend} ${r.leakedTensors}`).join(', ') + '.');
  }
  return lines.join('\n');
}
