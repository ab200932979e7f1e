#!/usr/bin/env node
/**
 * Trains a variational autoencoder on MNIST digits with plain `model.fit`.
 *
 *   npm run example                       # builds the package, then runs this file
 *   node examples/mnist-vae/train.mjs --epochs 20 --latent 8 --save /tmp/vae
 *   node examples/mnist-vae/train.mjs --help
 *
 * The model (Kingma & Welling 2014): encoder 784-512-(mu, logVar), a KL
 * divergence layer adding KL(q(z|x) || N(0, I)) through `addLoss`, a
 * reparameterized sample z, decoder latent-512-784 giving Bernoulli logits,
 * compiled with the Bernoulli negative log-likelihood. The loss `fit` reports
 * is the negative ELBO in nats per example; because the package is imported,
 * `val_loss` and `evaluate` include the KL too.
 */
import {createRequire} from 'node:module';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {performance} from 'node:perf_hooks';
import {parseArgs} from 'node:util';

import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

import * as tfv from '../../dist/tfjs-variational.mjs';
import {BACKENDS, chooseBackend} from './backend.mjs';
import {CliError, fmt, nonNegativeInteger, positiveInteger, runMain, UsageError} from '../shared/cli.mjs';

const require = createRequire(import.meta.url);
const datasets = require('../shared/datasets.cjs');

const USAGE = `Usage: node examples/mnist-vae/train.mjs [options]

Trains a VAE on MNIST with model.fit and reports the negative ELBO (nats per example).

Options:
  --epochs N         training epochs (default 10: about a minute on wasm with 2 cores)
  --batch-size N     examples per step (default 128)
  --latent N         latent dimensions (default 2)
  --hidden N         units of the encoder's and decoder's hidden layer (default 512)
  --train-count N    training examples (default: the whole training split)
  --test-count N     validation examples (default: the whole test split)
  --backend NAME     auto | tensorflow | wasm | cpu (default auto: tfjs-node if installed, else wasm, else cpu)
  --seed N           seed of the weight initialisers and the sampling noise (default 0)
  --data DIR         an MNIST-format (IDX) directory instead of the embedded digits;
                     'fashion' = Fashion-MNIST ($FASHION_MNIST_DIR or Debian's dataset-fashion-mnist),
                     'mnist' = $MNIST_DIR
  --save DIR         save the trained model to DIR, then reload it with tf.loadLayersModel
  --quiet            print only the final results
  -h, --help         show this help`;

function nonEmpty(flag, value) {
  if (value.trim() === '') {
    throw new UsageError(`--${flag} must not be empty`);
  }
  return value;
}

/** Parses and validates the command line. */
function parseOptions(argv) {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        'epochs': {type: 'string'},
        'batch-size': {type: 'string'},
        'latent': {type: 'string'},
        'hidden': {type: 'string'},
        'train-count': {type: 'string'},
        'test-count': {type: 'string'},
        'backend': {type: 'string'},
        'seed': {type: 'string'},
        'data': {type: 'string'},
        'save': {type: 'string'},
        'quiet': {type: 'boolean'},
        'help': {type: 'boolean', short: 'h'},
      },
    });
  } catch (e) {
    throw new UsageError(e.message);
  }
  const v = parsed.values;
  const backend = v.backend ?? 'auto';
  if (!BACKENDS.includes(backend)) {
    throw new UsageError(`--backend must be one of ${BACKENDS.join(', ')}. Received: --backend=${backend}`);
  }
  return {
    help: v.help ?? false,
    epochs: v.epochs === undefined ? 10 : positiveInteger('epochs', v.epochs),
    batchSize: v['batch-size'] === undefined ? 128 : positiveInteger('batch-size', v['batch-size']),
    latent: v.latent === undefined ? 2 : positiveInteger('latent', v.latent),
    hidden: v.hidden === undefined ? 512 : positiveInteger('hidden', v.hidden),
    trainCount: v['train-count'] === undefined ? undefined : positiveInteger('train-count', v['train-count']),
    testCount: v['test-count'] === undefined ? undefined : positiveInteger('test-count', v['test-count']),
    backend,
    seed: v.seed === undefined ? 0 : nonNegativeInteger('seed', v.seed),
    data: v.data === undefined ? undefined : nonEmpty('data', v.data),
    save: v.save === undefined ? undefined : nonEmpty('save', v.save),
    quiet: v.quiet ?? false,
  };
}

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
    if (dir == null) {
      throw new UsageError('--data mnist: set MNIST_DIR to a directory holding the MNIST IDX files');
    }
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

/** Loads the train and test splits as {train, test, pixels, name}. */
function loadData(opts) {
  const dir = dataDirectory(opts.data);
  let train;
  let test;
  let name;
  if (dir == null) {
    train = takeFirst(datasets.loadEmbeddedMnist({split: 'train'}), opts.trainCount, 'train-count', 'train');
    test = takeFirst(datasets.loadEmbeddedMnist({split: 'test'}), opts.testCount, 'test-count', 'test');
    name = 'MNIST digits embedded in the mnist package';
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
  return {train, test, pixels, name};
}

/** The VAE of DESIGN.md §1: a functional tf.model trained by model.fit. */
function buildVae({pixels, hidden, latent, seed}) {
  // Seeded initialisers: the same --seed gives the same initial weights.
  let n = 0;
  const init = () => tfl.initializers.glorotUniform({seed: seed * 16 + n++});
  const dense = (units, activation, name) =>
    tfl.layers.dense({units, activation, name, kernelInitializer: init()});

  const x = tfl.input({shape: [pixels], name: 'image'});
  const h = dense(hidden, 'relu', 'encoder_hidden').apply(x);
  let zMu = dense(latent, undefined, 'z_mu').apply(h);
  let zLogVar = dense(latent, undefined, 'z_log_var').apply(h);
  [zMu, zLogVar] = tfv.layers.klDivergence({name: 'kl'}).apply([zMu, zLogVar]);
  const z = tfv.layers.reparameterize({seed, name: 'z'}).apply([zMu, zLogVar]);
  const g = dense(hidden, 'relu', 'decoder_hidden').apply(z);
  const logits = dense(pixels, undefined, 'logits').apply(g);
  const vae = tfl.model({inputs: x, outputs: logits, name: 'vae'});
  compile(vae);
  return vae;
}

function compile(model) {
  // checkTargets: every batch's pixels must lie in [0, 1] (raw 0-255 values or a NaN throw, naming the range seen);
  // about 1 ms per step for a batch of 256 images.
  model.compile({optimizer: tf.train.adam(1e-3), loss: tfv.losses.bernoulliNLL({fromLogits: true, checkTargets: true})});
}

async function main(argv) {
  const opts = parseOptions(argv);
  if (opts.help) {
    console.log(USAGE);
    return;
  }
  const log = opts.quiet ? () => {} : (...a) => console.log(...a);

  const data = loadData(opts);
  if (opts.batchSize > data.train.n) {
    log(`note: --batch-size ${opts.batchSize} is larger than the ${data.train.n} training examples; each epoch is one step`);
  }
  let chosen;
  try {
    chosen = await chooseBackend(opts.backend);
  } catch (e) {
    throw new CliError(e.message);
  }
  const {backend, reason} = chosen;
  log(`backend: ${backend} (${reason})`);
  log(`data: ${data.name}: ${data.train.n} train, ${data.test.n} validation, ${data.pixels} pixels`);
  log(`model: ${data.pixels}-${opts.hidden}-${opts.latent} encoder, ${opts.latent}-${opts.hidden}-${data.pixels} decoder, ` +
      `Bernoulli likelihood, Adam 1e-3, batch ${opts.batchSize}, seed ${opts.seed}`);

  const xTrain = tf.tensor2d(data.train.images, [data.train.n, data.pixels]);
  const xTest = tf.tensor2d(data.test.images, [data.test.n, data.pixels]);
  const vae = buildVae({pixels: data.pixels, hidden: opts.hidden, latent: opts.latent, seed: opts.seed});

  log('negative ELBO in nats per example (val includes the KL term)');
  const width = String(opts.epochs).length;
  let epochStart = 0;
  let epochCpu = process.cpuUsage();
  const tStart = performance.now();
  const cpuStart = process.cpuUsage();
  await vae.fit(xTrain, xTrain, {
    epochs: opts.epochs,
    batchSize: opts.batchSize,
    shuffle: true,
    validationData: [xTest, xTest],
    verbose: 0,
    callbacks: {
      onEpochBegin: async () => {
        epochStart = performance.now();
        epochCpu = process.cpuUsage();
      },
      onEpochEnd: async (epoch, logs) => {
        const seconds = (performance.now() - epochStart) / 1000;
        const cpu = process.cpuUsage(epochCpu);
        const cpuSeconds = (cpu.user + cpu.system) / 1e6;
        // negative_elbo, reconstruction and kl: the per-term logs every model with a divergence layer gets.
        log(`epoch ${String(epoch + 1).padStart(width)}/${opts.epochs}  train -ELBO ${fmt(logs.negative_elbo)}  ` +
            `val -ELBO ${fmt(logs.val_negative_elbo)} (reconstruction ${fmt(logs.val_reconstruction)} + KL ${fmt(logs.val_kl)})  ` +
            `time ${fmt(seconds, 1)} s (cpu ${fmt(cpuSeconds, 1)} s)`);
        if (!Number.isFinite(logs.loss) || !Number.isFinite(logs.val_loss)) {
          throw new Error(`training diverged at epoch ${epoch + 1}: loss=${logs.loss}, val_loss=${logs.val_loss}`);
        }
      },
    },
  });
  const trainSeconds = (performance.now() - tStart) / 1000;
  const cpuTotal = process.cpuUsage(cpuStart);
  log(`trained ${opts.epochs} epoch(s) in ${fmt(trainSeconds, 1)} s, ${fmt(trainSeconds / opts.epochs, 1)} s per epoch ` +
      `(cpu ${fmt((cpuTotal.user + cpuTotal.system) / 1e6, 1)} s)`);

  const objective = await tfv.evaluateObjective(vae, xTest, xTest, {batchSize: 256});
  console.log(`validation objective (tfv.evaluateObjective, ${objective.numExamples} examples): ` +
      `-ELBO ${fmt(objective.loss)} = reconstruction ${fmt(objective.dataTerm)} + KL ${fmt(objective.layerLosses)} nats`);

  if (opts.save !== undefined) {
    const dir = path.resolve(opts.save);
    const url = `file://${dir}`;
    await vae.save(url);
    console.log(`saved: ${path.join(dir, 'model.json')}`);
    const loaded = await tfl.loadLayersModel(`file://${path.join(dir, 'model.json')}`);
    // Same weights, bit for bit?
    const a = vae.getWeights();
    const b = loaded.getWeights();
    let identical = a.length === b.length;
    for (let i = 0; identical && i < a.length; i++) {
      const [va, vb] = [a[i].dataSync(), b[i].dataSync()];
      identical = va.length === vb.length && va.every((x, j) => x === vb[j]);
    }
    compile(loaded);
    const reloaded = await tfv.evaluateObjective(loaded, xTest, xTest, {batchSize: 256});
    console.log(`reloaded with tf.loadLayersModel: ${loaded.layers.length} layers, weights ${identical ? 'identical' : 'DIFFERENT'}; ` +
        `validation -ELBO ${fmt(reloaded.loss)} = reconstruction ${fmt(reloaded.dataTerm)} + KL ${fmt(reloaded.layerLosses)} nats ` +
        '(a fresh noise draw)');
    if (!identical) {
      throw new Error('the reloaded model has different weights');
    }
    loaded.dispose();
  }
  tf.dispose([xTrain, xTest]);
  vae.dispose();
}

runMain(main, USAGE);
