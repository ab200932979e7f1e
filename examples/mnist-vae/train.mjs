#!/usr/bin/env node
/**
 * The main job: trains the Keras write-up's VAE on MNIST with plain `model.fit`,
 * shows a progress bar per epoch, writes pictures, metrics and the model.
 *
 *   npm run example                                  # builds the package, then runs this file with the defaults
 *   npm run mnist-vae -- --posterior planar          # options after --
 *   node examples/mnist-vae/train.mjs --help         # dist/ must be built (npm run build)
 *
 * Model, data and outputs: see README.md beside this file. The loss `fit`
 * reports is the negative ELBO in nats per image; because the package is
 * imported, `val_loss` and `evaluate` include the KL too, and `fit`'s logs
 * carry `reconstruction`, `kl` and `negative_elbo` with their `val_` twins.
 */
import {createRequire} from 'node:module';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {performance} from 'node:perf_hooks';

import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

import * as tfv from '../../dist/tfjs-variational.mjs';
import {chooseBackend} from './backend.mjs';
import {ARCHITECTURE_KEYS, buildVae, compileVae, parts, setKLWeight} from './model.mjs';
import {parseOptions, SHORT_USAGE} from './options.mjs';
import {writeLatentPlot, writeLossPlot, writeManifold} from './pictures.mjs';
import {EpochProgress} from './progress.mjs';
import {CliError, fmt, runMain, UsageError} from '../shared/cli.mjs';

const require = createRequire(import.meta.url);
const datasets = require('../shared/datasets.cjs');

/** The embedded digits' split used here: 8,000 train, 2,000 test (fixed; see datasets.cjs). */
const EMBEDDED_TEST_SIZE = 2000;
const METRICS_VERSION = 1;
/** Fashion-MNIST's classes, by label (Xiao et al. 2017). */
const FASHION_CLASSES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];

/** Resolves --data to a directory of IDX files (or null for the embedded digits). */
function dataDirectory(data) {
  if (data === undefined) return null;
  if (data === 'fashion') {
    const dir = datasets.fashionMnistDir();
    if (dir == null) {
      throw new UsageError('--data fashion: Fashion-MNIST not found; set FASHION_MNIST_DIR to a directory of its IDX files ' +
          '(or install the Debian package dataset-fashion-mnist)');
    }
    return dir;
  }
  if (data === 'mnist') {
    const dir = datasets.mnistIdxDir();
    if (dir == null) throw new UsageError('--data mnist: set MNIST_DIR to a directory holding the MNIST IDX files');
    return dir;
  }
  const dir = path.resolve(data);
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
    throw new UsageError(`--data must be a directory of IDX files, 'fashion' or 'mnist'. Received: --data=${data}`);
  }
  return dir;
}

function takeFirst(set, count, flag, splitName) {
  if (count === undefined) return set;
  if (count > set.n) {
    throw new UsageError(`--${flag} must be at most ${set.n} (the size of the ${splitName} split). Received: --${flag}=${count}`);
  }
  const pixels = set.images.length / set.n;
  return {...set, images: set.images.subarray(0, count * pixels), labels: set.labels.subarray(0, count), n: count};
}

/** Loads the train and test splits as {train, test, pixels, name, fashion}. */
function loadData(opts) {
  const dir = dataDirectory(opts.data);
  let train;
  let test;
  let name;
  if (dir == null) {
    const load = (split) => datasets.loadEmbeddedMnist({split, testSize: EMBEDDED_TEST_SIZE});
    train = takeFirst(load('train'), opts.trainCount, 'train-count', 'train');
    test = takeFirst(load('test'), opts.testCount, 'test-count', 'test');
    name = 'the 10,000 MNIST digits embedded in the mnist package (fixed 8,000/2,000 split)';
  } else {
    const load = (split) => {
      try {
        return datasets.loadIdxDataset(dir, {split});
      } catch (e) {
        throw new CliError(`--data ${opts.data}: ${e.message}`);
      }
    };
    train = takeFirst(load('train'), opts.trainCount, 'train-count', 'train');
    test = takeFirst(load('test'), opts.testCount, 'test-count', 'test');
    name = `IDX files in ${dir}`;
  }
  const pixels = train.rows * train.cols;
  if (test.rows * test.cols !== pixels) {
    throw new CliError(`--data ${opts.data}: train images are ${train.rows}x${train.cols} but test images are ${test.rows}x${test.cols}`);
  }
  return {train, test, pixels, rows: train.rows, cols: train.cols, name, fashion: dir != null && /fashion/i.test(dir)};
}

function readJson(file, what) {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new CliError(`--resume: cannot read ${what} ${file} (${e.code === 'ENOENT' ? 'no such file' : e.message})`);
  }
}

/**
 * --resume DIR: the earlier run's metrics and options. Architecture options come from it (giving a
 * different one is an error); the data options too unless given again; --out defaults to DIR.
 */
function resumeFrom(opts, explicit) {
  const dir = path.resolve(opts.resume);
  const metricsFile = path.join(dir, 'metrics.json');
  const modelFile = path.join(dir, 'model', 'model.json');
  const previous = readJson(metricsFile, 'the metrics');
  if (!fs.existsSync(modelFile)) throw new CliError(`--resume: no saved model ${modelFile}`);
  if (previous.version !== METRICS_VERSION || !Array.isArray(previous.epochs) || previous.options == null) {
    throw new CliError(`--resume: ${metricsFile} is not a metrics file of this example (version ${METRICS_VERSION})`);
  }
  const merged = {...opts};
  for (const key of ARCHITECTURE_KEYS) {
    const saved = previous.options[key];
    if (explicit.has(key) && opts[key] !== saved) {
      const flag = key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
      throw new UsageError(`--${flag} must match the resumed model (${saved}). Received: --${flag}=${opts[key]}`);
    }
    merged[key] = saved;
  }
  for (const key of ['data', 'trainCount', 'testCount', 'seed']) {
    if (!explicit.has(key)) merged[key] = previous.options[key];
  }
  if (!explicit.has('out')) merged.out = dir;
  return {opts: merged, previous, modelFile};
}

function termsOf(logs, prefix) {
  const pick = (k) => logs[prefix + k];
  return {loss: pick('loss'), negativeElbo: pick('negative_elbo'), reconstruction: pick('reconstruction'), kl: pick('kl')};
}

function cpuSecondsSince(start) {
  const c = process.cpuUsage(start);
  return (c.user + c.system) / 1e6;
}

async function main(argv) {
  const parsed = parseOptions(argv);
  if (parsed.help) return;  // commander printed it
  let {opts} = parsed;
  const tStart = performance.now();
  const cpuStart = process.cpuUsage();
  let resumed = null;
  if (opts.resume !== undefined) {
    resumed = resumeFrom(opts, parsed.explicit);
    opts = resumed.opts;
  }
  const log = opts.quiet ? () => {} : (...a) => console.log(...a);
  const out = path.resolve(opts.out);

  const data = loadData(opts);
  let chosen;
  try {
    chosen = await chooseBackend(opts.backend);
  } catch (e) {
    throw new CliError(e.message);
  }
  log(`backend: ${chosen.backend} (${chosen.reason})`);
  log(`data: ${data.name}: ${data.train.n} train, ${data.test.n} test (the validation data of fit), ${data.pixels} pixels`);

  const xTrain = tf.tensor2d(data.train.images, [data.train.n, data.pixels]);
  const xTest = tf.tensor2d(data.test.images, [data.test.n, data.pixels]);
  const arch = {pixels: data.pixels, ...opts};
  let vae;
  let initialEpoch = 0;
  const history = resumed ? [...resumed.previous.epochs] : [];
  if (resumed) {
    vae = await tfl.loadLayersModel(`file://${resumed.modelFile}`);
    compileVae(vae, arch);
    setKLWeight(vae, opts.klWeight);
    initialEpoch = history.length;
    log(`resumed: ${resumed.modelFile} after ${initialEpoch} epoch(s); the weights are the saved ones, the Adam optimizer ` +
        'starts afresh (tfjs cannot save it with our loss), so the first steps may move the loss a little');
  } else {
    vae = buildVae(arch);
  }
  const posterior = opts.posterior === 'gaussian' ? 'Gaussian q(z|x)' :
    `${opts.posterior === 'planar' ? 'planar' : 'IAF'} flow posterior (K = ${opts.flows})`;
  const objective = opts.objective === 'iwae' ? `IWAE bound, k = ${opts.samples}` :
    opts.samples > 1 ? `${opts.samples}-sample ELBO` : 'ELBO';
  log(`model: ${data.pixels}-${opts.hidden}-${opts.latent} encoder, ${posterior}, ${opts.latent}-${opts.hidden}-${data.pixels} ` +
      `decoder, Bernoulli likelihood; ${objective}${opts.klWeight !== 1 ? `, KL weight ${opts.klWeight}` : ''}; ` +
      `Adam ${opts.lr}, batch ${opts.batchSize}, seed ${opts.seed}`);
  if (opts.batchSize > data.train.n) {
    log(`note: --batch-size ${opts.batchSize} is larger than the ${data.train.n} training images; each epoch is one step`);
  }

  // ---- training ----
  const lastEpoch = initialEpoch + opts.epochs;
  const steps = Math.ceil(data.train.n / opts.batchSize);
  const progress = new EpochProgress({enabled: opts.progress && !opts.quiet, epochs: lastEpoch, steps});
  const bound = opts.objective === 'iwae' ? `-L_${opts.samples}` : null;
  log(`training ${opts.epochs} epoch(s) of ${steps} steps; figures in nats per image, validation on the test images`);
  const width = String(lastEpoch).length;
  let epochStart = 0;
  let epochCpu = null;
  const tTrain = performance.now();
  const cpuTrain = process.cpuUsage();
  try {
    await vae.fit(xTrain, xTrain, {
      epochs: lastEpoch,
      initialEpoch,
      batchSize: opts.batchSize,
      shuffle: true,
      validationData: [xTest, xTest],
      verbose: 0,
      callbacks: {
        onEpochBegin: async (epoch) => {
          epochStart = performance.now();
          epochCpu = process.cpuUsage();
          progress.start(epoch + 1);
        },
        onBatchEnd: async (batch, logs) => progress.step(logs.loss),
        onEpochEnd: async (epoch, logs) => {
          progress.stop();
          const seconds = (performance.now() - epochStart) / 1000;
          const entry = {epoch: epoch + 1, train: termsOf(logs, ''), validation: termsOf(logs, 'val_'),
            seconds, cpuSeconds: cpuSecondsSince(epochCpu)};
          history.push(entry);
          const t = entry.train;
          const v = entry.validation;
          const boundText = bound ? `  train ${bound} ${fmt(t.loss)}  val ${bound} ${fmt(v.loss)}` : '';
          log(`epoch ${String(epoch + 1).padStart(width)}/${lastEpoch}${boundText}  ` +
              `train -ELBO ${fmt(t.negativeElbo)} (reconstruction ${fmt(t.reconstruction)} + KL ${fmt(t.kl)})  ` +
              `val -ELBO ${fmt(v.negativeElbo)} (reconstruction ${fmt(v.reconstruction)} + KL ${fmt(v.kl)})  ` +
              `time ${fmt(seconds, 1)} s (cpu ${fmt(entry.cpuSeconds, 1)} s)`);
          if (!Number.isFinite(logs.loss) || !Number.isFinite(logs.val_loss)) {
            throw new CliError(`training diverged at epoch ${epoch + 1}: loss=${logs.loss}, val_loss=${logs.val_loss}`);
          }
        },
      },
    });
  } finally {
    progress.stop();
  }
  const trainSeconds = (performance.now() - tTrain) / 1000;
  const trainCpu = cpuSecondsSince(cpuTrain);
  log(`trained ${opts.epochs} epoch(s) in ${fmt(trainSeconds, 1)} s, ${fmt(trainSeconds / opts.epochs, 1)} s per epoch ` +
      `(cpu ${fmt(trainCpu, 1)} s)`);

  // ---- evaluation ----
  const tEval = performance.now();
  const objectiveTest = await tfv.evaluateObjective(vae, xTest, xTest, {batchSize: 250});
  // The true bound's terms: negativeElbo = reconstruction + KL, unweighted. (With a bound loss dataTerm is the
  // negative bound, -L_k, not the reconstruction.)
  const testKL = objectiveTest.divergences.kl;
  const testReconstruction = objectiveTest.negativeElbo - testKL;
  const evalSeconds = (performance.now() - tEval) / 1000;
  let ll = null;
  if (opts.llSamples > 0) {
    const count = Math.min(opts.llCount, data.test.n);
    log(`estimating log p(x) on ${count} test images with ${opts.llSamples} importance samples each…`);
    const xLL = tf.slice(xTest, 0, count);
    const tLL = performance.now();
    const est = await tfv.estimateLogLikelihood(vae, xLL, xLL, {samples: opts.llSamples, batchSize: 100});
    xLL.dispose();
    ll = {negativeLogLikelihood: -est.logLikelihood, standardError: est.standardError, negativeElbo: -est.elbo,
      samples: opts.llSamples, images: count, seconds: (performance.now() - tLL) / 1000};
  }

  // ---- pictures ----
  fs.mkdirSync(out, {recursive: true});
  const tPictures = performance.now();
  const {latentMeans, decoder} = parts(vae);
  const means = latentMeans(xTest);
  const latentPlot = await writeLatentPlot(path.join(out, 'latent.png'),
      {means, labels: data.test.labels, latent: opts.latent, posterior: opts.posterior,
        labelTitle: data.fashion ? 'class' : 'digit', labelNames: data.fashion ? FASHION_CLASSES : undefined});
  const manifold = await writeManifold(path.join(out, 'manifold.png'), {decoder, latent: opts.latent, rows: data.rows, cols: data.cols});
  if (opts.latent !== 2) log(`manifold.png: ${manifold.title}`);
  const curves = [
    {name: 'train -ELBO', points: history.map((e) => ({x: e.epoch, y: e.train.negativeElbo}))},
    {name: 'validation -ELBO', points: history.map((e) => ({x: e.epoch, y: e.validation.negativeElbo}))},
  ];
  if (bound) {
    curves.push({name: `train ${bound}`, points: history.map((e) => ({x: e.epoch, y: e.train.loss}))});
    curves.push({name: `validation ${bound}`, points: history.map((e) => ({x: e.epoch, y: e.validation.loss}))});
  }
  const lossPlot = await writeLossPlot(path.join(out, 'loss.png'),
      {series: curves, title: `Negative ELBO per epoch (${objective}${resumed ? `; resumed after epoch ${initialEpoch}` : ''})`});
  const pictureSeconds = (performance.now() - tPictures) / 1000;

  // ---- model ----
  const modelDir = path.join(out, 'model');
  await vae.save(`file://${modelDir}`);
  const loaded = await tfl.loadLayersModel(`file://${path.join(modelDir, 'model.json')}`);
  const a = vae.getWeights();
  const b = loaded.getWeights();
  let identical = a.length === b.length;
  for (let i = 0; identical && i < a.length; i++) {
    const [va, vb] = [a[i].dataSync(), b[i].dataSync()];
    identical = va.length === vb.length && va.every((x, j) => x === vb[j]);
  }
  loaded.dispose();
  if (!identical) throw new Error(`the model reloaded from ${modelDir} has different weights`);

  // ---- metrics ----
  const totalSeconds = (performance.now() - tStart) / 1000;
  const run = {
    command: `node examples/mnist-vae/train.mjs ${argv.join(' ')}`.trim(),
    startedAtEpoch: initialEpoch,
    epochs: opts.epochs,
    backend: chosen,
    resumedFrom: resumed ? path.relative(process.cwd(), path.dirname(path.dirname(resumed.modelFile))) || '.' : null,
    optimizer: resumed ? 'Adam, fresh state (the saved model holds no optimizer state)' : 'Adam',
    times: {totalSeconds, trainSeconds, trainCpuSeconds: trainCpu, secondsPerEpoch: trainSeconds / opts.epochs,
      evaluationSeconds: evalSeconds, logLikelihoodSeconds: ll ? ll.seconds : 0, pictureSeconds,
      cpuSeconds: cpuSecondsSince(cpuStart)},
  };
  const metrics = {
    version: METRICS_VERSION,
    options: Object.fromEntries(Object.entries(opts).filter(([k]) => k !== 'resume')),
    data: {name: data.name, train: data.train.n, test: data.test.n, pixels: data.pixels},
    backend: chosen,
    epochs: history,
    final: {
      test: {negativeElbo: objectiveTest.negativeElbo, loss: objectiveTest.loss, dataTerm: objectiveTest.dataTerm,
        reconstruction: testReconstruction, kl: testKL, images: objectiveTest.numExamples},
      logLikelihood: ll,
    },
    pictures: {latent: latentPlot.title, manifold: manifold.title,
      sizes: Object.fromEntries([latentPlot, manifold, lossPlot].map((p) => [path.basename(p.file), [p.width, p.height]]))},
    runs: [...(resumed?.previous.runs ?? []), run],
  };
  fs.writeFileSync(path.join(out, 'metrics.json'), JSON.stringify(metrics, null, 2) + '\n');

  // ---- report ----
  const rel = (p) => (p.startsWith(process.cwd() + path.sep) ? path.relative(process.cwd(), p) : p);
  console.log(`test -ELBO (tfv.evaluateObjective, ${objectiveTest.numExamples} images): ${fmt(objectiveTest.negativeElbo)} = ` +
      `reconstruction ${fmt(testReconstruction)} + KL ${fmt(testKL)} nats` +
      (bound ? `; ${bound} ${fmt(objectiveTest.loss)}` : ''));
  if (ll) {
    console.log(`test -log p(x) (tfv.estimateLogLikelihood, ${ll.samples} samples, ${ll.images} images): ` +
        `${fmt(ll.negativeLogLikelihood)} ± ${fmt(ll.standardError)} nats (${fmt(ll.seconds, 1)} s)`);
  }
  console.log(`wrote ${rel(path.join(out, 'latent.png'))}, manifold.png, loss.png, metrics.json and the model ` +
      `(${rel(modelDir)}, reloaded: weights identical); total ${fmt(totalSeconds, 1)} s`);
  tf.dispose([xTrain, xTest]);
  vae.dispose();
}

runMain(main, SHORT_USAGE);
