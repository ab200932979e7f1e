#!/usr/bin/env node
/**
 * Importance-weighted autoencoders (Burda, Grosse & Salakhutdinov 2016,
 * arXiv:1509.00519), Table 1, the one-stochastic-layer architecture, on the
 * MNIST digits embedded in the `mnist` package, trained with `model.fit` and
 * `tfv.objectives.iwae` for several k (k = 1 is the ELBO), then evaluated
 * with `tfv.estimateLogLikelihood` (5,000 importance samples per test image).
 *
 *   node examples/iwae/train.mjs                       # k = 1, 5, 50 with the defaults
 *   node examples/iwae/train.mjs --k 1,5 --epochs 2 --test-count 200 --samples 500
 *   node examples/iwae/train.mjs --help
 *
 * Model: encoder 784-200-200-(mu 50, log-variance 50), tanh hidden layers; a
 * klDivergence layer declaring the prior N(0, I) (in bound mode its closed-form
 * KL is not added: the bound holds log p(z) - log q(z|x) per sample);
 * reparameterize({samples: k}); decoder 50-200-200-784, tanh, Bernoulli logits.
 * Data: dynamically binarized — every epoch re-draws x ~ Bernoulli(intensity)
 * for the training images (seeded by --seed and the epoch); the test images are
 * binarized once with a fixed seed, the same for every k and every --seed.
 * Every k starts from the same initial weights and takes the same number of
 * Adam steps on the same binarized batches.
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
const HIDDEN = 200;
const LATENT = 50;
/** Seed of the one binarization of the test images (independent of --seed: every run sees the same test set). */

const DEFAULTS = {
  k: '1,5,50',
  epochs: 12,
  batchSize: 100,
  lr: 1e-3,
  trainCount: 8000,
  testCount: 500,
  samples: 5000,
  evalBatch: 10,
  evalEvery: 4,
  seed: 0,
};

const USAGE = `Usage: node examples/iwae/train.mjs [options]

Trains the one-stochastic-layer IWAE of Burda et al. (2016, Table 1) on the embedded
MNIST digits, once per k, with model.fit and tfv.objectives.iwae (k = 1 is the ELBO),
and reports each model's test log p(x) (importance sampled), test ELBO and time per epoch.

Options:
  --k LIST            comma-separated sample counts, each a positive integer (default ${DEFAULTS.k})
  --epochs N          training epochs per k; every k takes the same number of steps (default ${DEFAULTS.epochs})
  --batch-size N      examples per Adam step (default ${DEFAULTS.batchSize})
  --lr X              Adam learning rate, a positive number (default ${DEFAULTS.lr})
  --train-count N     training images: the first N of the embedded digits' fixed order (default ${DEFAULTS.trainCount})
  --test-count N      test images: the last N of that order (default ${DEFAULTS.testCount});
                      train-count + test-count must be at most 10000
  --samples N         importance samples per test image for log p(x) (default ${DEFAULTS.samples})
  --eval-batch N      test images per forward pass of the log p(x) estimate (default ${DEFAULTS.evalBatch})
  --eval-every N      also report the test bound (k samples, tfv.evaluateObjective) every N epochs; 0 = never (default ${DEFAULTS.evalEvery})
  --seed N            seed of the initial weights, the sampling noise, the training
                      binarization and the batch order (default ${DEFAULTS.seed})
  --backend NAME      ${BACKENDS.join(' | ')} (default auto: tfjs-node if installed, else wasm, else cpu)
  --json FILE         also write the results as JSON to FILE
  --quiet             print only the final table
  -h, --help          show this help`;

function kList(value) {
  return distinctList('k', value, (p) => {
    const n = Number(p);
    if (!/^\d+$/.test(p) || !Number.isSafeInteger(n) || n < 1) {
      throw new UsageError(`--k must be a comma-separated list of positive integers. Received: --k=${value}`);
    }
    return n;
  });
}

/** Parses and validates the command line. */
function parseOptions(argv) {
  const v = parseFlags(argv, {
    'k': {type: 'string'},
    'epochs': {type: 'string'},
    'batch-size': {type: 'string'},
    'lr': {type: 'string'},
    'train-count': {type: 'string'},
    'test-count': {type: 'string'},
    'samples': {type: 'string'},
    'eval-batch': {type: 'string'},
    'eval-every': {type: 'string'},
    'seed': {type: 'string'},
    'backend': {type: 'string'},
    'json': {type: 'string'},
    'quiet': {type: 'boolean'},
    'help': {type: 'boolean', short: 'h'},
  });
  const backend = v.backend ?? 'auto';
  if (!BACKENDS.includes(backend)) {
    throw new UsageError(`--backend must be one of ${BACKENDS.join(', ')}. Received: --backend=${backend}`);
  }
  const opts = {
    help: v.help ?? false,
    k: kList(v.k ?? DEFAULTS.k),
    epochs: v.epochs === undefined ? DEFAULTS.epochs : positiveInteger('epochs', v.epochs),
    batchSize: v['batch-size'] === undefined ? DEFAULTS.batchSize : positiveInteger('batch-size', v['batch-size']),
    lr: v.lr === undefined ? DEFAULTS.lr : positiveNumber('lr', v.lr),
    trainCount: v['train-count'] === undefined ? DEFAULTS.trainCount : positiveInteger('train-count', v['train-count']),
    testCount: v['test-count'] === undefined ? DEFAULTS.testCount : positiveInteger('test-count', v['test-count']),
    samples: v.samples === undefined ? DEFAULTS.samples : positiveInteger('samples', v.samples),
    evalBatch: v['eval-batch'] === undefined ? DEFAULTS.evalBatch : positiveInteger('eval-batch', v['eval-batch']),
    evalEvery: v['eval-every'] === undefined ? DEFAULTS.evalEvery : nonNegativeInteger('eval-every', v['eval-every']),
    seed: v.seed === undefined ? DEFAULTS.seed : nonNegativeInteger('seed', v.seed),
    backend,
    json: v.json,
    quiet: v.quiet ?? false,
  };
  if (opts.json !== undefined && opts.json.trim() === '') throw new UsageError('--json must not be empty');
  if (opts.trainCount + opts.testCount > datasets.EMBEDDED_MNIST_SIZE) {
    throw new UsageError(`--train-count + --test-count must be at most ${datasets.EMBEDDED_MNIST_SIZE} (the embedded digits). ` +
        `Received: --train-count=${opts.trainCount} --test-count=${opts.testCount}`);
  }
  return opts;
}

/** The one-stochastic-layer model of Burda et al. (2016), section 5, with k samples per example. */
function buildModel({k, seed, lr}) {
  let n = 0;
  // Same --seed, same initial weights for every k.
  const dense = (units, activation, name) => tfl.layers.dense({
    units, activation, name, kernelInitializer: tfl.initializers.glorotUniform({seed: seed * 16 + n++}),
  });
  const x = tfl.input({shape: [PIXELS], name: 'image'});
  const h = dense(HIDDEN, 'tanh', 'encoder_2').apply(dense(HIDDEN, 'tanh', 'encoder_1').apply(x));
  let mu = dense(LATENT, undefined, 'z_mu').apply(h);
  let logVar = dense(LATENT, undefined, 'z_log_var').apply(h);
  [mu, logVar] = tfv.layers.klDivergence({name: 'prior'}).apply([mu, logVar]);
  const z = tfv.layers.reparameterize({samples: k, seed, name: 'z'}).apply([mu, logVar]);
  const g = dense(HIDDEN, 'tanh', 'decoder_2').apply(dense(HIDDEN, 'tanh', 'decoder_1').apply(z));
  const logits = dense(PIXELS, undefined, 'logits').apply(g);
  const model = tfl.model({inputs: x, outputs: logits, name: `iwae_k${k}`});
  model.compile({
    // Adam with Burda et al.'s beta1 = 0.9, beta2 = 0.999, epsilon = 1e-4 (section 5).
    optimizer: tf.train.adam(lr, 0.9, 0.999, 1e-4),
    loss: tfv.objectives.iwae({likelihood: tfv.losses.bernoulliNLL({fromLogits: true})}),
  });
  return model;
}

async function trainOne(k, data, opts, log) {
  const model = buildModel({k, seed: opts.seed, lr: opts.lr});
  const steps = Math.ceil(data.trainCount / opts.batchSize);
  const epochSeconds = [];
  const width = String(opts.epochs).length;
  log(`\n== k = ${k}: ${opts.epochs} epochs x ${steps} steps, decoder rows per step ${opts.batchSize * k}`);
  for (let epoch = 0; epoch < opts.epochs; epoch++) {
    const xb = tf.tensor2d(trainingEpoch(data.trainImages, data.trainCount, opts.seed, epoch), [data.trainCount, PIXELS]);
    const t0 = performance.now();
    const history = await model.fit(xb, xb, {
      epochs: epoch + 1, initialEpoch: epoch, batchSize: opts.batchSize, shuffle: false, verbose: 0,
    });
    const seconds = (performance.now() - t0) / 1000;
    xb.dispose();
    epochSeconds.push(seconds);
    const h = history.history;
    const loss = h.loss[0];
    if (!Number.isFinite(loss)) throw new CliError(`k = ${k}: training diverged at epoch ${epoch + 1} (loss ${loss})`);
    let line = `k=${k} epoch ${String(epoch + 1).padStart(width)}/${opts.epochs}  train -L_${k} ${fmt(loss)}  ` +
        `-ELBO ${fmt(h.negative_elbo[0])} (rec ${fmt(h.reconstruction[0])} + KL ${fmt(h.kl[0])})  ${fmt(seconds, 1)} s`;
    if (opts.evalEvery > 0 && ((epoch + 1) % opts.evalEvery === 0 || epoch + 1 === opts.epochs)) {
      const r = await tfv.evaluateObjective(model, data.xTest, data.xTest, {batchSize: opts.batchSize});
      line += `  test -L_${k} ${fmt(r.loss)}`;
    }
    log(line);
  }
  const trainSeconds = epochSeconds.reduce((a, b) => a + b, 0);
  log(`k=${k} trained in ${fmt(trainSeconds, 1)} s: ${fmt(median(epochSeconds), 2)} s per epoch (median), ` +
      `${fmt(1000 * trainSeconds / (opts.epochs * steps), 1)} ms per step`);

  const t0 = performance.now();
  const est = await tfv.estimateLogLikelihood(model, data.xTest, data.xTest, {samples: opts.samples, batchSize: opts.evalBatch});
  const evalSeconds = (performance.now() - t0) / 1000;
  log(`k=${k} test (${est.numExamples} images, ${opts.samples} samples): log p(x) ${fmt(est.logLikelihood)} ` +
      `± ${fmt(est.standardError)}  ELBO ${fmt(est.elbo)}  (${fmt(evalSeconds, 1)} s)`);
  model.optimizer.dispose();
  model.dispose();
  return {
    k, epochs: opts.epochs, steps: opts.epochs * steps,
    secondsPerEpoch: median(epochSeconds), meanSecondsPerEpoch: trainSeconds / opts.epochs, trainSeconds,
    logLikelihood: est.logLikelihood, standardError: est.standardError, elbo: est.elbo,
    testImages: est.numExamples, samples: opts.samples, evalSeconds,
  };
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
      `load average ${os.loadavg()[0].toFixed(2)}`);
  log(`data: embedded MNIST digits, first ${opts.trainCount} train (re-binarized every epoch), ` +
      `last ${opts.testCount} test (binarized once, seed ${TEST_BINARIZATION_SEED})`);
  log(`model: 784-${HIDDEN}-${HIDDEN}-${LATENT} encoder, ${LATENT}-${HIDDEN}-${HIDDEN}-784 decoder, tanh, Bernoulli logits; ` +
      `Adam ${opts.lr} (epsilon 1e-4), batch ${opts.batchSize}, ${opts.epochs} epochs, seed ${opts.seed}; k = ${opts.k.join(', ')}`);
  log(`started ${started.toISOString()}`);

  const results = [];
  for (const k of opts.k) results.push(await trainOne(k, data, opts, log));
  xTest.dispose();

  console.log(`\nTest set: ${opts.testCount} images; log p(x) with ${opts.samples} importance samples per image ` +
      '(± standard error across images); ELBO from the same draws; nats per image.');
  console.log('| k | steps | log p(x) | ELBO | s per epoch (median) | train s | eval s |');
  console.log('| ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const r of results) {
    console.log(`| ${r.k} | ${r.steps} | ${fmt(r.logLikelihood)} ± ${fmt(r.standardError)} | ${fmt(r.elbo)} | ` +
        `${fmt(r.secondsPerEpoch, 2)} | ${fmt(r.trainSeconds, 0)} | ${fmt(r.evalSeconds, 0)} |`);
  }
  const byK = [...results].sort((p, q) => p.k - q.k);
  const ordered = byK.every((r, i) => i === 0 || byK[i - 1].logLikelihood < r.logLikelihood);
  if (results.length > 1) {
    console.log(`ordering (test log p(x) increases with k: ${byK.map((r) => `k=${r.k}`).join(' < ')}): ` +
        `${ordered ? 'holds' : 'does NOT hold'}`);
  }
  console.log(`total ${fmt((Date.now() - started.getTime()) / 1000, 0)} s`);
  if (opts.json !== undefined) {
    fs.writeFileSync(opts.json, JSON.stringify({options: {...opts, help: undefined, json: undefined}, backend: chosen.backend,
      started: started.toISOString(), results}, null, 2) + '\n');
  }
}

runMain(main, USAGE);
