#!/usr/bin/env node
/**
 * Bayes by Backprop (Blundell et al. 2015, arXiv:1505.05424) on Fashion-MNIST:
 * a classifier that knows when it does not know.
 *
 *   npm run bayes-by-backprop                                  # the MLP pair (see RESULTS.md for the reported command)
 *   node examples/bayes-by-backprop/train.mjs --model both --epochs 10
 *   node examples/bayes-by-backprop/train.mjs --limit-train 500 --limit-test 200 --epochs 1 --samples 4   # quick check
 *   node examples/bayes-by-backprop/train.mjs --help
 *
 * Each Bayesian network is trained beside a deterministic one of the same
 * shape (same epochs, batch size, optimizer and data order):
 *
 *  - MLP 784-400-400-10 (relu, softmax): `tfv.layers.bayesianDense` with the
 *    scale-mixture prior p(w) = π N(0, σ₁²) + (1 − π) N(0, σ₂²) on every
 *    weight, and `numExamples: N`, so the loss is the negative ELBO per
 *    training example,
 *
 *        −ELBO/N = mean_batch[−log p(y | x, w)] + KL(q(w) ‖ p(w)) / N,
 *
 *    with the KL a one-sample Monte Carlo estimate log q(w) − log p(w).
 *  - CNN conv 5×5×16 → max-pool 2 → conv 5×5×32 → max-pool 2 → flatten →
 *    dense 10 (softmax), Bayesian with `tfv.layers.bayesianConv2d` and
 *    `bayesianDense`, against tf.layers.conv2d / dense.
 *
 * Evaluation on the 10,000 Fashion-MNIST test images and, as
 * out-of-distribution inputs, the 10,000 MNIST digits of the `mnist` package:
 * S Monte Carlo samples of the weights (`--samples`) give per image
 *
 *     p̄(y | x) = (1/S) Σ_s p(y | x, w_s),   predictive entropy H[p̄],
 *     mutual information H[p̄] − (1/S) Σ_s H[p(y | x, w_s)],
 *
 * then accuracy, NLL, expected calibration error (15 equal-width bins of the
 * top-class probability) and the AUROC of telling MNIST from Fashion-MNIST by
 * the predictive entropy (and by the mutual information). The deterministic
 * networks use their softmax (its entropy; their mutual information is 0).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {performance} from 'node:perf_hooks';
import {fileURLToPath} from 'node:url';

import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

import * as tfv from '../../dist/tfjs-variational.mjs';
import {BACKENDS, chooseBackend} from '../mnist-vae/backend.mjs';
import {writeChartPng} from '../shared/charts.mjs';
import {CliError, fmt, nonNegativeInteger, parseFlags, positiveInteger, positiveNumber, runMain, UsageError} from '../shared/cli.mjs';
import datasets from '../shared/datasets.cjs';

const {predictive, setInferenceMode} = tfv;
const HERE = path.dirname(fileURLToPath(import.meta.url));
const MODELS = ['mlp', 'cnn', 'both'];
const ESTIMATORS = ['flipout', 'reparameterization', 'localReparameterization'];
const CLASSES = 10;
const ECE_BINS = 15;

/**
 * The scale-mixture prior, from Blundell et al.'s grid π ∈ {¼, ½, ¾},
 * −log σ₁ ∈ {0, 1, 2}, −log σ₂ ∈ {6, 7, 8} (see README.md for the choice).
 */
const PRIOR = {pi: 0.5, scale1: Math.exp(-1), scale2: Math.exp(-7)};

const DEFAULTS = {
  model: 'mlp',
  epochs: 20,
  batchSize: 128,
  samples: 50,
  lr: 1e-3,
  validation: 5000,
  estimator: 'flipout',
  rho: -5,
  seed: 0,
  out: path.join(HERE, 'out'),
  backend: 'auto',
};

const USAGE = `Usage: node examples/bayes-by-backprop/train.mjs [options]

Trains Bayes-by-Backprop networks (scale-mixture prior, per-example negative
ELBO) beside deterministic twins on Fashion-MNIST, then reports test accuracy,
NLL, expected calibration error and how well each model's predictive entropy
(and mutual information) tells MNIST digits (out of distribution) from
Fashion-MNIST; writes a reliability diagram and an entropy histogram per
model pair and results-{mlp,cnn}.json.

Options:
  --model NAME        ${MODELS.join(' | ')}: the MLP pair, the CNN pair or both (default ${DEFAULTS.model})
  --epochs N          training epochs of every network (default ${DEFAULTS.epochs})
  --batch-size N      minibatch size (default ${DEFAULTS.batchSize})
  --samples N         Monte Carlo weight samples per test image for the Bayesian nets (default ${DEFAULTS.samples})
  --lr X              Adam learning rate of every network (default ${DEFAULTS.lr})
  --estimator NAME    the Bayesian layers' gradient estimator: ${ESTIMATORS.join(' | ')} (default ${DEFAULTS.estimator})
  --rho X             initial ρ of the posterior scales, σ = softplus(ρ) (default ${DEFAULTS.rho}: σ ≈ ${fmt(Math.log1p(Math.exp(DEFAULTS.rho)), 4)})
  --validation N      training images held out for the per-epoch validation line (default ${DEFAULTS.validation}; 0 = none)
  --limit-train N     use only the first N training images (after the seeded shuffle; quick runs)
  --limit-test N      use only the first N test images and N MNIST digits (quick runs)
  --seed N            seed of the data order, the initial weights and the weight noise (default ${DEFAULTS.seed})
  --data DIR          directory of the Fashion-MNIST IDX files (default: $FASHION_MNIST_DIR, else Debian's
                      /usr/share/datasets/fashion-mnist from \`apt-get install dataset-fashion-mnist\`)
  --out DIR           where the PNGs and results-{mlp,cnn}.json go (default examples/bayes-by-backprop/out)
  --backend NAME      ${BACKENDS.join(' | ')} (default auto: tfjs-node if installed, else wasm, else cpu)
  -h, --help          show this help`;

/** Parses and validates the command line. */
function parseOptions(argv) {
  const v = parseFlags(argv, {
    'model': {type: 'string'},
    'epochs': {type: 'string'},
    'batch-size': {type: 'string'},
    'samples': {type: 'string'},
    'lr': {type: 'string'},
    'estimator': {type: 'string'},
    'rho': {type: 'string'},
    'validation': {type: 'string'},
    'limit-train': {type: 'string'},
    'limit-test': {type: 'string'},
    'seed': {type: 'string'},
    'data': {type: 'string'},
    'out': {type: 'string'},
    'backend': {type: 'string'},
    'help': {type: 'boolean', short: 'h'},
  });
  const oneOf = (flag, value, allowed) => {
    if (!allowed.includes(value)) throw new UsageError(`--${flag} must be one of ${allowed.join(', ')}. Received: --${flag}=${value}`);
    return value;
  };
  let rho = DEFAULTS.rho;
  if (v.rho !== undefined) {
    rho = Number(v.rho);
    if (v.rho.trim() === '' || !Number.isFinite(rho)) throw new UsageError(`--rho must be a finite number. Received: --rho=${v.rho}`);
  }
  const opts = {
    help: v.help ?? false,
    model: oneOf('model', v.model ?? DEFAULTS.model, MODELS),
    epochs: v.epochs === undefined ? DEFAULTS.epochs : positiveInteger('epochs', v.epochs),
    batchSize: v['batch-size'] === undefined ? DEFAULTS.batchSize : positiveInteger('batch-size', v['batch-size']),
    samples: v.samples === undefined ? DEFAULTS.samples : positiveInteger('samples', v.samples),
    lr: v.lr === undefined ? DEFAULTS.lr : positiveNumber('lr', v.lr),
    estimator: oneOf('estimator', v.estimator ?? DEFAULTS.estimator, ESTIMATORS),
    rho,
    validation: v.validation === undefined ? DEFAULTS.validation : nonNegativeInteger('validation', v.validation),
    limitTrain: v['limit-train'] === undefined ? null : positiveInteger('limit-train', v['limit-train']),
    limitTest: v['limit-test'] === undefined ? null : positiveInteger('limit-test', v['limit-test']),
    seed: v.seed === undefined ? DEFAULTS.seed : nonNegativeInteger('seed', v.seed),
    data: v.data ?? null,
    out: v.out ?? DEFAULTS.out,
    backend: oneOf('backend', v.backend ?? DEFAULTS.backend, BACKENDS),
  };
  if (opts.out.trim() === '') throw new UsageError('--out must not be empty');
  return opts;
}

// ---------------------------------------------------------------------------
// Data

function fashionDir(opts) {
  if (opts.data !== null) {
    if (!fs.existsSync(opts.data) || !fs.statSync(opts.data).isDirectory()) {
      throw new CliError(`--data ${opts.data} is not a directory`);
    }
    return opts.data;
  }
  const dir = datasets.fashionMnistDir();
  if (dir === null) {
    throw new CliError('Fashion-MNIST not found: install it with `apt-get install dataset-fashion-mnist` ' +
        '(files in /usr/share/datasets/fashion-mnist), or point --data DIR (or FASHION_MNIST_DIR) at a directory ' +
        'holding train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz]');
  }
  return dir;
}

/** Rows `order[from..to)` of an `[n, 784]` image array and its labels. */
function takeRows(set, order, from, to) {
  const n = to - from;
  const images = new Float32Array(n * 784);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const src = order[from + i];
    images.set(set.images.subarray(src * 784, (src + 1) * 784), i * 784);
    labels[i] = set.labels[src];
  }
  return {images, labels, n};
}

function permutation(n, seed) {
  const rand = datasets.mulberry32(seed);
  const idx = new Int32Array(n);
  for (let i = 0; i < n; i++) idx[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [idx[i], idx[j]] = [idx[j], idx[i]];
  }
  return idx;
}

function loadData(opts) {
  const dir = fashionDir(opts);
  let train;
  let test;
  try {
    train = datasets.loadIdxDataset(dir, {split: 'train'});
    test = datasets.loadIdxDataset(dir, {split: 'test'});
  } catch (e) {
    throw new CliError(`${e.message} (\`apt-get install dataset-fashion-mnist\`, or pass --data DIR)`);
  }
  const order = permutation(train.n, opts.seed);
  const nVal = Math.min(opts.validation, train.n - 1);
  const nTrain = Math.min(opts.limitTrain ?? Infinity, train.n - nVal);
  const val = takeRows(train, order, 0, nVal);
  const fit = takeRows(train, order, nVal, nVal + nTrain);
  const nTest = Math.min(opts.limitTest ?? Infinity, test.n);
  const testSet = takeRows(test, Int32Array.from({length: test.n}, (_, i) => i), 0, nTest);  // file order
  const mnist = datasets.loadEmbeddedMnist({split: 'all', count: Math.min(opts.limitTest ?? Infinity, datasets.EMBEDDED_MNIST_SIZE)});
  return {dir, train: fit, val, test: testSet, ood: mnist};
}

function toTensors(set, imageShape) {
  return {
    x: tf.tensor(set.images, [set.n, ...imageShape]),
    y: tf.tidy(() => tf.oneHot(tf.tensor1d(set.labels, 'int32'), CLASSES)),
    labels: tf.tensor1d(set.labels, 'int32'),
  };
}

// ---------------------------------------------------------------------------
// Models

/** Seeds of the initializers and the weight noise, distinct per layer. */
function seeder(seed) {
  let k = 0;
  return () => seed * 1000 + ++k;
}

/** Arguments shared by every Bayesian layer of the run. */
function bayesArgs(opts, nTrain, nextSeed) {
  return {
    numExamples: nTrain,
    prior: tfv.priors.scaleMixture(PRIOR),
    estimator: opts.estimator,
    seed: nextSeed(),
    kernelLocInitializer: tfl.initializers.glorotNormal({seed: nextSeed()}),
    kernelUntransformedScaleInitializer: tfl.initializers.randomNormal({mean: opts.rho, stddev: 0.1, seed: nextSeed()}),
  };
}

function mlp(bayesian, opts, nTrain) {
  const nextSeed = seeder(opts.seed + 1);
  const layer = (name, units, activation, first) => {
    const shape = first ? {inputShape: [784]} : {};
    return bayesian ?
      tfv.layers.bayesianDense({name, units, activation, ...shape, ...bayesArgs(opts, nTrain, nextSeed)}) :
      tfl.layers.dense({name, units, activation, ...shape, kernelInitializer: tfl.initializers.glorotNormal({seed: nextSeed()})});
  };
  return tfl.sequential({
    name: bayesian ? 'mlp_bnn' : 'mlp_det',
    layers: [layer('hidden1', 400, 'relu', true), layer('hidden2', 400, 'relu'), layer('output', CLASSES, 'softmax')],
  });
}

function cnn(bayesian, opts, nTrain) {
  const nextSeed = seeder(opts.seed + 2);
  if (bayesian && typeof tfv.layers.bayesianConv2d !== 'function') {
    throw new CliError('--model cnn needs tfv.layers.bayesianConv2d, which this build of tfjs-variational does not have');
  }
  const conv = (name, filters, first) => {
    const args = {name, filters, kernelSize: 5, padding: 'same', activation: 'relu', ...(first ? {inputShape: [28, 28, 1]} : {})};
    return bayesian ? tfv.layers.bayesianConv2d({...args, ...bayesArgs(opts, nTrain, nextSeed)}) :
      tfl.layers.conv2d({...args, kernelInitializer: tfl.initializers.glorotNormal({seed: nextSeed()})});
  };
  const head = bayesian ? tfv.layers.bayesianDense({name: 'output', units: CLASSES, activation: 'softmax', ...bayesArgs(opts, nTrain, nextSeed)}) :
    tfl.layers.dense({name: 'output', units: CLASSES, activation: 'softmax', kernelInitializer: tfl.initializers.glorotNormal({seed: nextSeed()})});
  return tfl.sequential({
    name: bayesian ? 'cnn_bnn' : 'cnn_det',
    layers: [
      conv('conv1', 16, true), tfl.layers.maxPooling2d({poolSize: 2}),
      conv('conv2', 32, false), tfl.layers.maxPooling2d({poolSize: 2}),
      tfl.layers.flatten(), head,
    ],
  });
}

// ---------------------------------------------------------------------------
// Training

/**
 * A line of `fit`'s logs. Bayesian nets: the loss is the negative ELBO per
 * example, the data term (logged by the library as `reconstruction`) plus
 * each layer's KL/N (logged under the layer's name).
 */
function logLine(logs, klKeys) {
  const acc = `accuracy ${fmt(logs.acc, 4)}`;
  if (klKeys.length === 0) return `loss (NLL) ${fmt(logs.loss, 4)}  ${acc}`;
  const kl = klKeys.reduce((s, k) => s + logs[k], 0);
  return `loss (−ELBO/N) ${fmt(logs.loss, 4)} = NLL ${fmt(logs.reconstruction, 4)} + KL/N ${fmt(kl, 4)}  ${acc}`;
}

async function train(model, name, data, opts) {
  model.compile({optimizer: tf.train.adam(opts.lr), loss: tfv.losses.categoricalNLL(), metrics: ['accuracy']});
  const epochTimes = [];
  const history = [];
  for (let epoch = 0; epoch < opts.epochs; epoch++) {
    // The same order per epoch for both nets of a pair: a seeded permutation, applied by gather.
    const order = tf.tensor1d(permutation(data.train.n, opts.seed * 7919 + epoch + 1), 'int32');
    const x = tf.gather(data.trainT.x, order);
    const y = tf.gather(data.trainT.y, order);
    order.dispose();
    const t0 = performance.now();
    const h = await model.fit(x, y, {epochs: 1, batchSize: opts.batchSize, shuffle: false, verbose: 0});
    const seconds = (performance.now() - t0) / 1000;
    x.dispose();
    y.dispose();
    const logs = Object.fromEntries(Object.entries(h.history).map(([k, v]) => [k, Number(v[0])]));
    let val = '';
    if (data.val.n > 0) {
      const probs = tf.tidy(() => model.predict(data.valT.x, {batchSize: 1000}));
      logs.val_accuracy = await scalar(tfv.metrics.accuracy(probs, data.valT.labels));
      probs.dispose();
      val = `  val accuracy ${fmt(logs.val_accuracy, 4)} (one sample)`;
    }
    epochTimes.push(seconds);
    history.push(logs);
    const klKeys = model.layers.filter((l) => l.name in logs).map((l) => l.name);
    console.log(`${name} epoch ${epoch + 1}/${opts.epochs}  ${logLine(logs, klKeys)}${val}  ${fmt(seconds, 1)} s`);
  }
  return {epochTimes, history};
}

// ---------------------------------------------------------------------------
// Evaluation

/** A number from a metric's result (a number, a scalar tensor, or a promise of one). */
async function scalar(value) {
  const v = await value;
  if (typeof v === 'number') return v;
  const n = (await v.data())[0];
  v.dispose();
  return n;
}

async function arrayOf(t) {
  return Array.from(await t.data());
}

function disposeTensors(result) {
  for (const t of Object.values(result)) if (t instanceof tf.Tensor) t.dispose();
}

/** Monte Carlo predictive, metrics and reliability bins of one model on test and OOD images. */
async function evaluate(model, bayesian, data, opts) {
  const samples = bayesian ? opts.samples : 1;
  const t0 = performance.now();
  const inD = await predictive(model, data.testT.x, {samples, batchSize: 1000, task: 'classification'});
  const ood = await predictive(model, data.oodT.x, {samples, batchSize: 1000, task: 'classification'});
  const seconds = (performance.now() - t0) / 1000;
  const labels = data.testT.labels;
  const m = tfv.metrics;
  const result = {
    samples,
    accuracy: await scalar(m.accuracy(inD.probs, labels)),
    nll: await scalar(m.negativeLogLikelihood(inD.probs, labels)),
    ece: await scalar(m.expectedCalibrationError(inD.probs, labels, {bins: ECE_BINS})),
    aurocEntropy: await scalar(m.auroc(ood.predictiveEntropy, inD.predictiveEntropy)),
    aurocMutualInformation: bayesian ? await scalar(m.auroc(ood.mutualInformation, inD.mutualInformation)) : null,
    reliability: (await m.reliabilityDiagram(inD.probs, labels, {bins: ECE_BINS})).bins,
    entropyTest: await arrayOf(inD.predictiveEntropy),
    entropyOod: await arrayOf(ood.predictiveEntropy),
    meanEntropyTest: 0,
    meanEntropyOod: 0,
    evalSeconds: seconds,
  };
  result.meanEntropyTest = result.entropyTest.reduce((s, v) => s + v, 0) / result.entropyTest.length;
  result.meanEntropyOod = result.entropyOod.reduce((s, v) => s + v, 0) / result.entropyOod.length;
  if (bayesian) {
    // The posterior mean as a point estimate, for comparison.
    setInferenceMode(model, 'mean');
    const probs = tf.tidy(() => model.predict(data.testT.x, {batchSize: 1000}));
    result.posteriorMean = {
      accuracy: await scalar(m.accuracy(probs, labels)),
      nll: await scalar(m.negativeLogLikelihood(probs, labels)),
      ece: await scalar(m.expectedCalibrationError(probs, labels, {bins: ECE_BINS})),
    };
    probs.dispose();
    setInferenceMode(model, 'sample');
  }
  disposeTensors(inD);
  disposeTensors(ood);
  return result;
}

// ---------------------------------------------------------------------------
// Pictures (Vega-Lite specs rendered by examples/shared/charts.mjs)

const SERIES_COLORS = {range: ['#1f77b4', '#d62728']};

function reliabilitySpec(family, results) {
  const rows = [];
  for (const [label, r] of results) {
    for (const b of r.reliability) {
      if (b.count > 0) rows.push({model: `${label} (ECE ${fmt(100 * r.ece, 2)}%)`, confidence: b.confidence, accuracy: b.accuracy, count: b.count});
    }
  }
  const unit = {type: 'quantitative', scale: {domain: [0, 1]}};
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: `${family}: reliability on Fashion-MNIST test (${ECE_BINS} bins)`,
    width: 380,
    height: 380,
    config: {background: 'white', font: 'DejaVu Sans, sans-serif', axis: {grid: true, gridColor: '#e6e6e6'}},
    layer: [
      {data: {values: [{confidence: 0, accuracy: 0}, {confidence: 1, accuracy: 1}]},
        mark: {type: 'line', color: '#888', strokeDash: [4, 4]},
        encoding: {x: {field: 'confidence', ...unit}, y: {field: 'accuracy', ...unit}}},
      {data: {values: rows},
        mark: {type: 'line', point: true},
        encoding: {
          x: {field: 'confidence', ...unit, title: 'mean confidence in bin (top-class probability)'},
          y: {field: 'accuracy', ...unit, title: 'accuracy in bin'},
          color: {field: 'model', type: 'nominal', title: 'model', scale: SERIES_COLORS, legend: {orient: 'bottom-right', labelLimit: 0, fillColor: 'white'}},
        }},
    ],
  };
}

function entropyHistogramSpec(family, results) {
  const bins = 30;
  const maxH = Math.log(CLASSES);
  const rows = [];
  for (const [label, r] of results) {
    for (const [set, values] of [['Fashion-MNIST test', r.entropyTest], ['MNIST digits (OOD)', r.entropyOod]]) {
      const counts = new Array(bins).fill(0);
      for (const v of values) counts[Math.min(bins - 1, Math.max(0, Math.floor((v / maxH) * bins)))]++;
      counts.forEach((c, k) => rows.push({model: label, data: set, b0: (k / bins) * maxH, b1: ((k + 1) / bins) * maxH, fraction: c / values.length}));
    }
  }
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: `${family}: predictive entropy, in-distribution vs out-of-distribution`,
    config: {background: 'white', font: 'DejaVu Sans, sans-serif', axis: {grid: true, gridColor: '#e6e6e6'}},
    data: {values: rows},
    facet: {column: {field: 'model', type: 'nominal', title: null, sort: results.map(([l]) => l)}},
    spec: {
      width: 340,
      height: 240,
      mark: {type: 'bar', opacity: 0.55, binSpacing: 0},
      encoding: {
        x: {field: 'b0', bin: {binned: true}, type: 'quantitative', title: `predictive entropy (nats; max log ${CLASSES} = ${fmt(maxH, 2)})`},
        x2: {field: 'b1'},
        y: {field: 'fraction', type: 'quantitative', title: 'fraction of images (square-root scale)', stack: null, scale: {type: 'sqrt'}},
        color: {field: 'data', type: 'nominal', title: 'images', scale: SERIES_COLORS, legend: {orient: 'top'}},
      },
    },
  };
}

// ---------------------------------------------------------------------------

/** A path as printed: relative to the working directory when inside it. */
function shown(file) {
  const rel = path.relative(process.cwd(), file);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : file;
}

function printTable(rows) {
  const header = '| model | test accuracy | NLL | ECE (15 bins) | AUROC entropy | AUROC MI | MC samples |';
  console.log(`\n${header}\n|---|---|---|---|---|---|---|`);
  for (const r of rows) {
    const mi = r.aurocMutualInformation === null ? '–' : fmt(r.aurocMutualInformation, 4);
    console.log(`| ${r.name} | ${fmt(100 * r.accuracy, 2)}% | ${fmt(r.nll, 4)} | ${fmt(100 * r.ece, 2)}% | ${fmt(r.aurocEntropy, 4)} | ${mi} | ${r.samples} |`);
  }
}

async function runFamily(family, data, opts) {
  const build = family === 'mlp' ? mlp : cnn;
  const pairs = [];
  for (const bayesian of [true, false]) {
    const model = build(bayesian, opts, data.train.n);
    const name = `${family}-${bayesian ? 'bnn' : 'det'}`;
    console.log(`\n${name}: ${model.countParams()} parameters` +
        (bayesian ? `, prior scaleMixture(π ${PRIOR.pi}, σ₁ e^${fmt(Math.log(PRIOR.scale1), 0)}, σ₂ e^${fmt(Math.log(PRIOR.scale2), 0)}), ${opts.estimator}, ρ₀ ${opts.rho}` : ''));
    const trained = await train(model, name, data, opts);
    const result = await evaluate(model, bayesian, data, opts);
    console.log(`${name} evaluated (${result.samples} sample${result.samples > 1 ? 's' : ''}) in ${fmt(result.evalSeconds, 1)} s: ` +
        `accuracy ${fmt(100 * result.accuracy, 2)}%  NLL ${fmt(result.nll, 4)}  ECE ${fmt(100 * result.ece, 2)}%  ` +
        `AUROC(entropy) ${fmt(result.aurocEntropy, 4)}` +
        (bayesian ? `  AUROC(MI) ${fmt(result.aurocMutualInformation, 4)}  posterior mean: accuracy ${fmt(100 * result.posteriorMean.accuracy, 2)}% ` +
          `NLL ${fmt(result.posteriorMean.nll, 4)} ECE ${fmt(100 * result.posteriorMean.ece, 2)}%` : ''));
    pairs.push({name, family, bayesian, params: model.countParams(), ...trained, ...result});
    model.optimizer.dispose();
    model.dispose();
  }
  const labelled = pairs.map((p) => [p.bayesian ? `Bayes by Backprop` : `deterministic`, p]);
  const upper = family.toUpperCase();
  const files = [path.join(opts.out, `reliability-${family}.png`), path.join(opts.out, `entropy-${family}.png`)];
  await writeChartPng(reliabilitySpec(upper, labelled), files[0]);
  await writeChartPng(entropyHistogramSpec(upper, labelled), files[1]);
  for (const f of files) console.log(`wrote ${shown(f)}`);
  return pairs;
}

async function main(argv) {
  const opts = parseOptions(argv);
  if (opts.help) {
    console.log(USAGE);
    return;
  }
  const data = loadData(opts);
  const {backend, reason} = await chooseBackend(opts.backend).catch((e) => {
    throw new CliError(e.message);
  });
  console.log(`backend ${backend} (${reason}); tfjs-core ${tf.version_core}, tfjs-layers ${tfl.version_layers}; ` +
      `Node ${process.versions.node}, ${os.cpus().length} cores`);
  console.log(`Fashion-MNIST from ${data.dir}: ${data.train.n} training, ${data.val.n} validation, ${data.test.n} test images; ` +
      `OOD: ${data.ood.n} MNIST digits; epochs ${opts.epochs}, batch ${opts.batchSize}, Adam lr ${opts.lr}, seed ${opts.seed}`);
  const families = opts.model === 'both' ? ['mlp', 'cnn'] : [opts.model];
  const rows = [];
  const t0 = performance.now();
  for (const family of families) {
    const shape = family === 'mlp' ? [784] : [28, 28, 1];
    data.trainT = toTensors(data.train, shape);
    data.valT = toTensors(data.val, shape);
    data.testT = toTensors(data.test, shape);
    data.oodT = toTensors(data.ood, shape);
    rows.push(...await runFamily(family, data, opts));
    for (const k of ['trainT', 'valT', 'testT', 'oodT']) for (const t of Object.values(data[k])) t.dispose();
  }
  printTable(rows);
  fs.mkdirSync(opts.out, {recursive: true});
  for (const family of families) {
    const strip = ({entropyTest, entropyOod, ...rest}) => rest;
    const summary = {
      command: `node examples/bayes-by-backprop/train.mjs ${argv.join(' ')}`.trim(),
      backend, tfjsCore: tf.version_core, tfjsLayers: tfl.version_layers, node: process.versions.node, cores: os.cpus().length,
      options: {...opts, out: undefined, data: undefined},
      prior: PRIOR,
      data: {train: data.train.n, validation: data.val.n, test: data.test.n, ood: data.ood.n},
      models: rows.filter((r) => r.family === family).map(strip),
    };
    const file = path.join(opts.out, `results-${family}.json`);
    fs.writeFileSync(file, `${JSON.stringify(summary, null, 1)}\n`);
    console.log(`wrote ${shown(file)}`);
  }
  console.log(`total ${fmt((performance.now() - t0) / 1000, 0)} s; tensors left ${tf.memory().numTensors}`);
}

runMain(main, USAGE);
