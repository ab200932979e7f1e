#!/usr/bin/env node
/**
 * VAE variants on the MNIST digits embedded in the `mnist` package, all
 * trained with `model.fit` on dynamically binarized digits:
 *
 *   plain    Gaussian posterior (klDivergence + reparameterize)
 *   planar   planar-flow posterior, K flows amortized from the encoder (Rezende & Mohamed 2015)
 *   iaf      inverse autoregressive flow posterior with the encoder's context h (Kingma et al. 2016)
 *   gumbel   categorical VAE, Gumbel-softmax relaxed samples (Jang et al. 2017)
 *   st       its straight-through twin (one-hot forward, relaxed gradient)
 *
 * The first three share the encoder 784-H-(mu, logVar of D) and the decoder
 * D-H-784 (tanh, Bernoulli logits), the seed, the epochs and the batches; they
 * are scored by test -ELBO and importance-sampled -log p(x)
 * (`tfv.estimateLogLikelihood`). The categorical pair (784-512-256-(N x K)
 * encoder, (N·K)-256-512-784 decoder, Jang et al.'s MLP) is scored by test
 * -ELBO: the compiled objective (`tfv.evaluateObjective`) and the discrete
 * ELBO with exactly one-hot samples (computed here).
 *
 *   node examples/vae-variants/train.mjs                      # all five with the defaults
 *   node examples/vae-variants/train.mjs --models plain,planar --epochs 2 --test-count 100 --samples 200
 *   node examples/vae-variants/train.mjs --help
 */
import {createRequire} from 'node:module';
import * as fs from 'node:fs';
import * as os from 'node:os';
import {performance} from 'node:perf_hooks';

import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

import * as tfv from '../../dist/tfjs-variational.mjs';
import {BACKENDS, chooseBackend} from '../mnist-vae/backend.mjs';
import {CliError, distinctList, fmt, machineDescription, median, nonNegativeInteger, parseFlags, positiveInteger, positiveNumber, runMain, UsageError} from '../shared/cli.mjs';
import {embeddedBinarizedSplit, TEST_BINARIZATION_SEED, trainingEpoch} from '../shared/binarized_mnist.mjs';

const require = createRequire(import.meta.url);
const datasets = require('../shared/datasets.cjs');

const PIXELS = 784;
/** Seed of the one binarization of the test images (independent of --seed). */
/** Seed of the one-hot draws of the discrete test ELBO (independent of --seed). */
const DISCRETE_EVAL_SEED = 1611;
const MODELS = ['plain', 'planar', 'iaf', 'gumbel', 'st'];
const CATEGORICAL = new Set(['gumbel', 'st']);

const DEFAULTS = {
  models: MODELS.join(','),
  epochs: 50,
  catEpochs: 100,
  batchSize: 100,
  lr: 1e-3,
  hidden: 300,
  latent: 20,
  flows: 10,
  planarMode: 'amortized',
  iafFlows: 2,
  iafHidden: 100,
  iafContext: 50,
  catN: 20,
  catK: 10,
  tauMin: 0.5,
  trainCount: 8000,
  testCount: 500,
  samples: 5000,
  catSamples: 100,
  evalBatch: 10,
  seed: 0,
};

const USAGE = `Usage: node examples/vae-variants/train.mjs [options]

Trains plain, planar-flow and IAF VAEs of one shape, and the Gumbel-softmax and
straight-through categorical VAEs of Jang et al. (2017), on the embedded MNIST digits,
and reports test -ELBO, test -log p(x) (importance sampled; Gaussian models) and times.

Options:
  --models LIST       comma-separated subset of ${MODELS.join(',')} (default all)
  --epochs N          epochs of plain, planar and iaf (default ${DEFAULTS.epochs})
  --cat-epochs N      epochs of gumbel and st (default ${DEFAULTS.catEpochs})
  --batch-size N      examples per Adam step (default ${DEFAULTS.batchSize})
  --lr X              Adam learning rate (default ${DEFAULTS.lr})
  --hidden N          hidden units of the Gaussian models' encoder and decoder (default ${DEFAULTS.hidden})
  --latent N          latent size D of the Gaussian models (default ${DEFAULTS.latent})
  --flows N           planar flows K (default ${DEFAULTS.flows})
  --planar-mode M     amortized: every flow's u, w, b per example from the encoder (Rezende & Mohamed);
                      global: weights of the flows, shared by all examples (default ${DEFAULTS.planarMode})
  --iaf-flows N       IAF steps, alternating order (default ${DEFAULTS.iafFlows})
  --iaf-hidden N      MADE hidden units per IAF step (default ${DEFAULTS.iafHidden})
  --iaf-context N     size of the encoder's context h fed to every IAF step (default ${DEFAULTS.iafContext})
  --cat-n N           categorical variables N (default ${DEFAULTS.catN})
  --cat-k N           classes K per variable (default ${DEFAULTS.catK})
  --tau-min X         final temperature; tau = max(tau-min, exp(-r t)) with r chosen so tau
                      reaches tau-min after half of the training steps, updated every epoch (default ${DEFAULTS.tauMin})
  --train-count N     training images, the first N of the embedded digits' fixed order (default ${DEFAULTS.trainCount})
  --test-count N      test images, the last N (default ${DEFAULTS.testCount})
  --samples N         importance samples per test image for log p(x) (default ${DEFAULTS.samples})
  --cat-samples N     one-hot draws per test image for the discrete -ELBO (default ${DEFAULTS.catSamples})
  --eval-batch N      test images per forward pass of the log p(x) estimate (default ${DEFAULTS.evalBatch})
  --seed N            seed of the weights, the noise, the training binarization and batch order (default ${DEFAULTS.seed})
  --backend NAME      ${BACKENDS.join(' | ')} (default auto)
  --json FILE         also write the results as JSON to FILE
  --quiet             print only the final tables
  -h, --help          show this help`;

function modelList(value) {
  return distinctList('models', value, (n) => {
    if (!MODELS.includes(n)) throw new UsageError(`--models: unknown model '${n}' (known: ${MODELS.join(', ')})`);
    return n;
  }, 'a model');
}

const INTEGER_FLAGS = {
  'epochs': 'epochs', 'cat-epochs': 'catEpochs', 'batch-size': 'batchSize', 'hidden': 'hidden', 'latent': 'latent',
  'flows': 'flows', 'iaf-flows': 'iafFlows', 'iaf-hidden': 'iafHidden', 'iaf-context': 'iafContext',
  'cat-n': 'catN', 'cat-k': 'catK', 'train-count': 'trainCount', 'test-count': 'testCount', 'samples': 'samples',
  'cat-samples': 'catSamples', 'eval-batch': 'evalBatch',
};

function parseOptions(argv) {
  const options = {
    'models': {type: 'string'}, 'planar-mode': {type: 'string'}, 'lr': {type: 'string'}, 'tau-min': {type: 'string'},
    'seed': {type: 'string'},
    'backend': {type: 'string'}, 'json': {type: 'string'}, 'quiet': {type: 'boolean'}, 'help': {type: 'boolean', short: 'h'},
  };
  for (const flag of Object.keys(INTEGER_FLAGS)) options[flag] = {type: 'string'};
  const v = parseFlags(argv, options);
  const backend = v.backend ?? 'auto';
  if (!BACKENDS.includes(backend)) {
    throw new UsageError(`--backend must be one of ${BACKENDS.join(', ')}. Received: --backend=${backend}`);
  }
  const opts = {
    help: v.help ?? false,
    models: modelList(v.models ?? DEFAULTS.models),
    planarMode: v['planar-mode'] ?? DEFAULTS.planarMode,
    lr: v.lr === undefined ? DEFAULTS.lr : positiveNumber('lr', v.lr),
    tauMin: v['tau-min'] === undefined ? DEFAULTS.tauMin : positiveNumber('tau-min', v['tau-min']),
    seed: v.seed === undefined ? DEFAULTS.seed : nonNegativeInteger('seed', v.seed),
    backend,
    json: v.json,
    quiet: v.quiet ?? false,
  };
  for (const [flag, key] of Object.entries(INTEGER_FLAGS)) {
    opts[key] = v[flag] === undefined ? DEFAULTS[key] : positiveInteger(flag, v[flag]);
  }
  if (opts.planarMode !== 'amortized' && opts.planarMode !== 'global') {
    throw new UsageError(`--planar-mode must be amortized or global. Received: --planar-mode=${opts.planarMode}`);
  }
  if (opts.tauMin > 1) throw new UsageError(`--tau-min must be at most 1 (tau starts at 1). Received: --tau-min=${opts.tauMin}`);
  if (opts.catK < 2) throw new UsageError(`--cat-k must be at least 2. Received: --cat-k=${opts.catK}`);
  if (opts.json !== undefined && opts.json.trim() === '') throw new UsageError('--json must not be empty');
  if (opts.trainCount + opts.testCount > datasets.EMBEDDED_MNIST_SIZE) {
    throw new UsageError(`--train-count + --test-count must be at most ${datasets.EMBEDDED_MNIST_SIZE} (the embedded digits). ` +
        `Received: --train-count=${opts.trainCount} --test-count=${opts.testCount}`);
  }
  return opts;
}

/** Dense layers with Glorot-uniform kernels seeded by (seed, position): same seed, same weights for every variant. */
function denseFactory(seed) {
  let n = 0;
  return (units, activation, name) => tfl.layers.dense({
    units, activation, name, kernelInitializer: tfl.initializers.glorotUniform({seed: seed * 64 + n++}),
  });
}

/**
 * plain / planar / iaf: encoder 784-H (tanh) with mu and logVar heads of D; the
 * latent layer; decoder D-H-784 (tanh), Bernoulli logits. The encoder and decoder
 * layers come first and in the same order, so they start from the same weights.
 */
function buildGaussian(kind, opts) {
  const dense = denseFactory(opts.seed);
  const D = opts.latent;
  const x = tfl.input({shape: [PIXELS], name: 'image'});
  const h = dense(opts.hidden, 'tanh', 'encoder').apply(x);
  const mu = dense(D, undefined, 'z_mu').apply(h);
  const logVar = dense(D, undefined, 'z_log_var').apply(h);
  const decoder1 = dense(opts.hidden, 'tanh', 'decoder');
  const logitsLayer = dense(PIXELS, undefined, 'logits');
  let z;
  if (kind === 'plain') {
    const [m, lv] = tfv.layers.klDivergence({name: 'kl'}).apply([mu, logVar]);
    z = tfv.layers.reparameterize({seed: opts.seed, name: 'z'}).apply([m, lv]);
  } else if (kind === 'planar' && opts.planarMode === 'global') {
    const posterior = tfv.flows.flowPosterior({
      flows: Array.from({length: opts.flows}, (_, i) => tfv.flows.planarFlow({
        name: `planar_${i}`, kernelInitializer: tfl.initializers.randomNormal({stddev: 0.1, seed: opts.seed * 64 + 40 + i}),
      })),
      seed: opts.seed, name: 'z',
    });
    z = posterior.apply([mu, logVar]);
  } else if (kind === 'planar') {
    const posterior = tfv.flows.flowPosterior({
      flows: Array.from({length: opts.flows}, (_, i) => tfv.flows.planarFlow({amortized: true, name: `planar_${i}`})),
      seed: opts.seed, name: 'z',
    });
    // u, w, b of every flow per example, from the encoder's hidden layer (Rezende & Mohamed 2015, section 4).
    const params = dense(opts.flows * tfv.flows.PlanarFlow.paramSize(D), undefined, 'flow_params').apply(h);
    z = posterior.apply([mu, logVar, params]);
  } else {
    // The context h of Kingma et al. (2016), an extra encoder output given to every IAF step.
    const context = dense(opts.iafContext, 'tanh', 'iaf_context').apply(h);
    const flows = Array.from({length: opts.iafFlows}, (_, i) => tfv.flows.inverseAutoregressiveFlow({
      hiddenUnits: opts.iafHidden, contextSize: opts.iafContext, reverse: i % 2 === 1, name: `iaf_${i}`,
      kernelInitializer: tfl.initializers.glorotUniform({seed: opts.seed * 64 + 40 + i}),
    }));
    const posterior = tfv.flows.flowPosterior({flows, seed: opts.seed, name: 'z'});
    const params = opts.iafFlows === 1 ? context :
      tfl.layers.concatenate({name: 'iaf_contexts'}).apply(Array.from({length: opts.iafFlows}, () => context));
    z = posterior.apply([mu, logVar, params]);
  }
  const logits = logitsLayer.apply(decoder1.apply(z));
  const model = tfl.model({inputs: x, outputs: logits, name: `vae_${kind}`});
  model.compile({optimizer: tf.train.adam(opts.lr), loss: tfv.losses.bernoulliNLL({fromLogits: true})});
  return {model};
}

/**
 * gumbel / st: Jang et al.'s MLP, encoder 784-512-256-(N x K) logits, decoder
 * (N·K)-256-512-784; relu hidden layers (theirs), Bernoulli logits. Built as an
 * encoder and a decoder model joined by the GumbelSoftmax layer, so the
 * discrete ELBO can run them on exactly one-hot samples.
 */
function buildCategorical(kind, opts) {
  const dense = denseFactory(opts.seed);
  const {catN: N, catK: K} = opts;
  const x = tfl.input({shape: [PIXELS], name: 'image'});
  let h = dense(512, 'relu', 'encoder_1').apply(x);
  h = dense(256, 'relu', 'encoder_2').apply(h);
  const logits = tfl.layers.reshape({targetShape: [N, K], name: 'q_logits'}).apply(dense(N * K, undefined, 'q_logits_flat').apply(h));
  const encoder = tfl.model({inputs: x, outputs: logits, name: 'encoder'});
  const zIn = tfl.input({shape: [N * K], name: 'z_flat'});
  let g = dense(256, 'relu', 'decoder_1').apply(zIn);
  g = dense(512, 'relu', 'decoder_2').apply(g);
  const decoder = tfl.model({inputs: zIn, outputs: dense(PIXELS, undefined, 'logits').apply(g), name: 'decoder'});
  const sampler = tfv.layers.gumbelSoftmax({temperature: 1, hard: kind === 'st', seed: opts.seed, name: 'z'});
  const y = sampler.apply(encoder.apply(x));
  const out = decoder.apply(tfl.layers.flatten({name: 'z_flat_out'}).apply(y));
  const model = tfl.model({inputs: x, outputs: out, name: `vae_${kind}`});
  model.compile({optimizer: tf.train.adam(opts.lr), loss: tfv.losses.bernoulliNLL({fromLogits: true})});
  return {model, encoder, decoder, sampler};
}

/**
 * The discrete model's -ELBO on the test images: z one-hot ~ Categorical(softmax(l))
 * (Gumbel-max), E_q[-log p(x|z)] by `samples` draws plus the closed-form
 * KL(q ‖ uniform), summed over the N variables; mean over images.
 */
function discreteNegativeElbo(encoder, decoder, xTest, opts) {
  const {catN: N, catK: K} = opts;
  const n = xTest.shape[0];
  const chunk = 50;
  let recSum = 0;
  let klSum = 0;
  let draw = 0;
  for (let start = 0; start < n; start += chunk) {
    const size = Math.min(chunk, n - start);
    const [rec, kl] = tf.tidy(() => {
      const x = tf.slice(xTest, [start, 0], [size, PIXELS]);
      const l = encoder.predict(x);
      const logQ = tf.logSoftmax(l, -1);
      const klv = tf.sum(tf.mul(tf.exp(logQ), tf.add(logQ, Math.log(K))));
      let r = tf.scalar(0);
      for (let s = 0; s < opts.catSamples; s++) {
        const u = tf.randomUniform(l.shape, 1e-20, 1, 'float32', DISCRETE_EVAL_SEED + draw++);
        const gumbel = tf.neg(tf.log(tf.neg(tf.log(u))));
        const oneHot = tf.reshape(tf.cast(tf.oneHot(tf.argMax(tf.add(l, gumbel), -1), K), 'float32'), [size, N * K]);
        const px = decoder.predict(oneHot);
        // Bernoulli NLL from logits: softplus(l) - x l.
        r = tf.add(r, tf.sum(tf.sub(tf.softplus(px), tf.mul(x, px))));
      }
      return [tf.div(r, opts.catSamples), klv];
    });
    recSum += rec.dataSync()[0];
    klSum += kl.dataSync()[0];
    rec.dispose();
    kl.dispose();
  }
  return {negativeElbo: (recSum + klSum) / n, reconstruction: recSum / n, kl: klSum / n};
}

async function trainOne(kind, data, opts, log) {
  const categorical = CATEGORICAL.has(kind);
  const built = categorical ? buildCategorical(kind, opts) : buildGaussian(kind, opts);
  const {model} = built;
  const epochs = categorical ? opts.catEpochs : opts.epochs;
  const steps = Math.ceil(data.trainCount / opts.batchSize);
  const totalSteps = epochs * steps;
  // Jang et al.: tau = max(tau_min, exp(-r t)), t the global step; r so tau reaches tau_min at half the steps,
  // updated once per epoch (every `steps` steps, their N).
  const rate = Math.log(1 / opts.tauMin) / (totalSteps / 2);
  const tauAt = (t) => Math.max(opts.tauMin, Math.exp(-rate * steps * Math.floor(t / steps)));
  log(`\n== ${kind}: ${model.countParams()} weights, ${epochs} epochs x ${steps} steps` +
      (categorical ? `, tau = max(${opts.tauMin}, exp(-${rate.toExponential(3)} t)) updated every ${steps} steps` : ''));
  const epochSeconds = [];
  const width = String(epochs).length;
  for (let epoch = 0; epoch < epochs; epoch++) {
    const xb = tf.tensor2d(trainingEpoch(data.trainImages, data.trainCount, opts.seed, epoch), [data.trainCount, PIXELS]);
    const callbacks = categorical ?
      // fit is called once per epoch (fresh binarization), and the callback counts batches from each fit's start.
      [tfv.callbacks.temperatureAnnealing({schedule: (b) => tauAt(epoch * steps + b)})] : [];
    const t0 = performance.now();
    const history = await model.fit(xb, xb, {
      epochs: epoch + 1, initialEpoch: epoch, batchSize: opts.batchSize, shuffle: false, verbose: 0, callbacks,
    });
    const seconds = (performance.now() - t0) / 1000;
    xb.dispose();
    epochSeconds.push(seconds);
    const hist = history.history;
    const loss = hist.loss[0];
    if (!Number.isFinite(loss)) throw new CliError(`${kind}: training diverged at epoch ${epoch + 1} (loss ${loss})`);
    const divergence = Object.keys(hist).find((key) => key !== 'loss' && key !== 'reconstruction' && key !== 'negative_elbo' &&
        key !== 'temperature');
    log(`${kind} epoch ${String(epoch + 1).padStart(width)}/${epochs}  train -ELBO ${fmt(loss)} ` +
        `(rec ${fmt(hist.reconstruction?.[0])} + ${divergence ?? 'kl'} ${fmt(divergence ? hist[divergence][0] : NaN)})` +
        (categorical ? `  tau ${fmt(hist.temperature?.[0], 3)}` : '') + `  ${fmt(seconds, 1)} s`);
  }
  const trainSeconds = epochSeconds.reduce((a, b) => a + b, 0);
  log(`${kind} trained in ${fmt(trainSeconds, 1)} s: ${fmt(median(epochSeconds), 2)} s per epoch (median), ` +
      `${fmt(1000 * trainSeconds / totalSteps, 1)} ms per step`);

  const result = {model: kind, label: kind === 'planar' ? `planar (${opts.planarMode}, K = ${opts.flows})` : kind, weights: model.countParams(), epochs, steps: totalSteps, trainSeconds,
    secondsPerEpoch: median(epochSeconds)};
  const t0 = performance.now();
  const objective = await tfv.evaluateObjective(model, data.xTest, data.xTest, {batchSize: opts.batchSize});
  result.objectiveNegativeElbo = objective.negativeElbo ?? objective.loss;
  if (categorical) {
    result.finalTemperature = tauAt(totalSteps - 1);
    const d = discreteNegativeElbo(built.encoder, built.decoder, data.xTest, opts);
    Object.assign(result, {discreteNegativeElbo: d.negativeElbo, discreteReconstruction: d.reconstruction, discreteKL: d.kl});
    log(`${kind} test (${data.xTest.shape[0]} images): -ELBO of the compiled objective ${fmt(result.objectiveNegativeElbo)}, ` +
        `discrete -ELBO (${opts.catSamples} one-hot draws) ${fmt(d.negativeElbo)} = rec ${fmt(d.reconstruction)} + KL ${fmt(d.kl)}`);
  } else {
    const est = await tfv.estimateLogLikelihood(model, data.xTest, data.xTest, {samples: opts.samples, batchSize: opts.evalBatch});
    Object.assign(result, {logLikelihood: est.logLikelihood, standardError: est.standardError, elbo: est.elbo,
      samples: opts.samples});
    log(`${kind} test (${est.numExamples} images): -ELBO ${fmt(-est.elbo)} (${opts.samples} draws), ` +
        `-log p(x) ${fmt(-est.logLikelihood)} ± ${fmt(est.standardError)}; compiled objective ${fmt(result.objectiveNegativeElbo)}`);
  }
  result.evalSeconds = (performance.now() - t0) / 1000;
  log(`${kind} evaluated in ${fmt(result.evalSeconds, 1)} s`);
  model.optimizer.dispose();
  model.dispose();
  return result;
}

async function main(argv) {
  const opts = parseOptions(argv);
  if (opts.help) {
    console.log(USAGE);
    return;
  }
  const log = opts.quiet ? () => {} : (...a) => console.log(...a);
  let chosen;
  try {
    chosen = await chooseBackend(opts.backend);
  } catch (e) {
    throw new CliError(e.message);
  }
  const {trainImages, testImages} = embeddedBinarizedSplit(opts.trainCount, opts.testCount);
  const xTest = tf.tensor2d(testImages, [opts.testCount, PIXELS]);
  const data = {trainImages, trainCount: opts.trainCount, xTest};

  const started = new Date();
  log(`backend: ${chosen.backend} (${chosen.reason})`);
  log(`machine: ${machineDescription()}, ` +
      `tfjs-variational ${tfv.version}, load average ${os.loadavg()[0].toFixed(2)}`);
  log(`data: embedded MNIST digits, first ${opts.trainCount} train (re-binarized every epoch), ` +
      `last ${opts.testCount} test (binarized once, seed ${TEST_BINARIZATION_SEED})`);
  log(`options: ${JSON.stringify({...opts, help: undefined, json: undefined, quiet: undefined})}`);
  log(`started ${started.toISOString()}`);

  const results = [];
  for (const kind of opts.models) results.push(await trainOne(kind, data, opts, log));
  xTest.dispose();

  const gaussian = results.filter((r) => !CATEGORICAL.has(r.model));
  const categorical = results.filter((r) => CATEGORICAL.has(r.model));
  if (gaussian.length) {
    console.log(`\nGaussian-latent VAEs, 784-${opts.hidden}-${opts.latent}-${opts.hidden}-784; test set ${opts.testCount} images; ` +
        `nats per image; -log p(x) with ${opts.samples} importance samples (± standard error across images), -ELBO from the same draws.`);
    console.log('| model | weights | steps | test -ELBO | test -log p(x) | s per epoch (median) | train s | eval s |');
    console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
    for (const r of gaussian) {
      console.log(`| ${r.label} | ${r.weights} | ${r.steps} | ${fmt(-r.elbo)} | ${fmt(-r.logLikelihood)} ± ${fmt(r.standardError)} | ` +
          `${fmt(r.secondsPerEpoch, 2)} | ${fmt(r.trainSeconds, 0)} | ${fmt(r.evalSeconds, 0)} |`);
    }
    const plain = gaussian.find((r) => r.model === 'plain');
    for (const r of gaussian) {
      if (plain && r !== plain) {
        console.log(`ordering ${r.label} < plain on test -log p(x): ${-r.logLikelihood < -plain.logLikelihood ? 'holds' : 'does NOT hold'} ` +
            `(${fmt(-r.logLikelihood)} vs ${fmt(-plain.logLikelihood)})`);
      }
    }
  }
  if (categorical.length) {
    console.log(`\nCategorical VAEs, ${opts.catN} x ${opts.catK} latent, 784-512-256-(${opts.catN}x${opts.catK}) / ` +
        `${opts.catN * opts.catK}-256-512-784; test set ${opts.testCount} images; nats per image.`);
    console.log('| model | weights | steps | test -ELBO, compiled objective (final tau) | test -ELBO, discrete (one-hot z) | ' +
        's per epoch (median) | train s |');
    console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
    for (const r of categorical) {
      console.log(`| ${r.model} | ${r.weights} | ${r.steps} | ${fmt(r.objectiveNegativeElbo)} | ${fmt(r.discreteNegativeElbo)} | ` +
          `${fmt(r.secondsPerEpoch, 2)} | ${fmt(r.trainSeconds, 0)} |`);
    }
    const gs = categorical.find((r) => r.model === 'gumbel');
    const st = categorical.find((r) => r.model === 'st');
    if (gs && st) {
      for (const key of ['objectiveNegativeElbo', 'discreteNegativeElbo']) {
        console.log(`ordering gumbel < st on ${key}: ${gs[key] < st[key] ? 'holds' : 'does NOT hold'} (${fmt(gs[key])} vs ${fmt(st[key])})`);
      }
    }
  }
  console.log(`total ${fmt((Date.now() - started.getTime()) / 1000, 0)} s`);
  if (opts.json !== undefined) {
    fs.writeFileSync(opts.json, JSON.stringify({options: {...opts, help: undefined, json: undefined}, backend: chosen.backend,
      started: started.toISOString(), results}, null, 2) + '\n');
  }
}

runMain(main, USAGE);
