import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

import {loadEmbeddedMnist} from '../examples/shared/datasets';
import * as tfv from '../src';
import {expectClose, NODE_BACKENDS, useBackend} from './helpers/backends';
import {useSeededMathRandom} from './helpers/random';
import {binaryData, buildVae} from './helpers/vae';

// Every draw in this file is seeded: layers and initializers get seeds where
// they matter, and Math.random (the seed of tfjs's unseeded draws and of
// model.fit's shuffling) is reseeded before each test, so every outcome —
// "training lowered the loss" included — is fixed on a given backend
// (docs/testing.md).
useSeededMathRandom(0xf0);

/** Negative ELBO per example in float64, from the encoder's mu/logVar and the decoder's logits. */
function independentObjective(x: Float32Array, logits: Float32Array, mu: Float32Array, logVar: Float32Array, n: number) {
  let nll = 0;
  for (let i = 0; i < x.length; i++) {
    const l = logits[i];
    const softplus = l > 0 ? l + Math.log1p(Math.exp(-l)) : Math.log1p(Math.exp(l));
    nll += softplus - x[i] * l;
  }
  let kl = 0;
  for (let i = 0; i < mu.length; i++) kl += 0.5 * (Math.exp(logVar[i]) + mu[i] * mu[i] - 1 - logVar[i]);
  return {data: nll / n, kl: kl / n};
}

describe.each(NODE_BACKENDS)('full objective on %s', (backend) => {
  beforeAll(async () => useBackend(backend));

  it('a VAE trained with model.fit on 2,000 real MNIST digits lowers its validation negative ELBO, ' +
     'which equals an independent computation of data term + KL', async () => {
    const train = loadEmbeddedMnist({count: 2000, split: 'train'});
    const test = loadEmbeddedMnist({count: 500, split: 'test'});
    const xTrain = tf.tensor2d(train.images, [train.n, 784]);
    const xTest = tf.tensor2d(test.images, [test.n, 784]);
    // inferenceMode 'mean' makes evaluation deterministic, so the figures can be compared exactly.
    const vae = buildVae({hidden: 64, latent: 2, inferenceMode: 'mean', seed: 3});
    vae.compile({optimizer: tf.train.adam(2e-3), loss: tfv.losses.bernoulliNLL({fromLogits: true})});
    const h = await vae.fit(xTrain, xTrain, {epochs: 3, batchSize: 100, verbose: 0, validationData: [xTest, xTest]});
    const val = h.history['val_loss'] as number[];
    // Seeded: initializers and training noise (seed 3), fit's shuffling (Math.random, above), and
    // a deterministic validation (inferenceMode 'mean'), so this margin is fixed on a given backend.
    expect(val[2]).toBeLessThan(val[0] - 20);

    const encoder = tfl.model({inputs: vae.inputs, outputs: [vae.getLayer('z_mu').output, vae.getLayer('z_log_var').output] as tfl.SymbolicTensor[]});
    const [mu, logVar] = encoder.predict(xTest) as tf.Tensor[];
    const logits = vae.predict(xTest) as tf.Tensor;
    const ref = independentObjective(test.images, logits.dataSync() as Float32Array, mu.dataSync() as Float32Array,
        logVar.dataSync() as Float32Array, test.n);
    expect(ref.kl).toBeGreaterThan(1);

    const result = await tfv.evaluateObjective(vae, xTest, xTest, {batchSize: 128});
    expectClose(result.dataTerm, ref.data, 1e-4);
    expectClose(result.layerLosses, ref.kl, 1e-4);
    expectClose(result.loss, ref.data + ref.kl, 1e-4);
    expect(result.numExamples).toBe(500);
    expectClose((vae.evaluate(xTest, xTest, {batchSize: 100}) as tf.Scalar).dataSync()[0], ref.data + ref.kl, 1e-4);
    // fit's last validation ran on the final weights.
    expectClose(val[2], ref.data + ref.kl, 1e-4);
    tf.dispose([xTrain, xTest, mu, logVar, logits]);
  }, 400000);

  it('restores tfjs\'s data-only validation when switched off', async () => {
    const vae = buildVae({inputDim: 10, hidden: 6, inferenceMode: 'mean'});
    vae.compile({optimizer: tf.train.sgd(0), loss: tfv.losses.bernoulliNLL({fromLogits: true})});
    const x = binaryData(40, 10);
    expect(tfv.isFullObjectiveEvaluation()).toBe(true);
    const full = await tfv.evaluateObjective(vae, x, x);
    try {
      tfv.setFullObjectiveEvaluation(false);
      expect(tfv.isFullObjectiveEvaluation()).toBe(false);
      expectClose((vae.evaluate(x, x) as tf.Scalar).dataSync()[0], full.dataTerm, 1e-5);
    } finally {
      tfv.setFullObjectiveEvaluation(true);
    }
    expectClose((vae.evaluate(x, x) as tf.Scalar).dataSync()[0], full.loss, 1e-5);
    expect(() => tfv.setFullObjectiveEvaluation('yes' as unknown as boolean)).toThrow(/enabled/);
  });

  it('reports total, per-output losses and metrics in metricsNames order for several outputs, with regularizers', async () => {
    const x = tfl.input({shape: [6]});
    const h = tfl.layers.dense({units: 4, kernelRegularizer: tfl.regularizers.l2({l2: 0.1}), kernelInitializer: 'ones'}).apply(x) as tfl.SymbolicTensor;
    const h2 = tfl.layers.dense({units: 4, kernelInitializer: 'zeros', biasInitializer: 'ones'}).apply(x) as tfl.SymbolicTensor;
    const [mu, lv] = tfv.layers.klDivergence({weight: 0.5}).apply([h, h2]) as tfl.SymbolicTensor[];
    const recon = tfl.layers.dense({units: 6, name: 'recon', kernelInitializer: 'ones'}).apply(mu) as tfl.SymbolicTensor;
    const cls = tfl.layers.dense({units: 3, activation: 'softmax', name: 'cls'}).apply(lv) as tfl.SymbolicTensor;
    const model = tfl.model({inputs: x, outputs: [recon, cls]});
    model.compile({optimizer: 'sgd', loss: [tfv.losses.gaussianNLL(), tfv.losses.categoricalNLL()], metrics: ['accuracy']});
    // tfjs's names, then the per-term log of the one divergence layer (src/patches/term_logs.ts),
    // which fit logs and evaluate leaves out of its result.
    expect(model.metricsNames).toEqual(['loss', 'recon_loss', 'cls_loss', 'recon_acc', 'cls_acc', 'kl']);
    const xs = tf.mul(binaryData(8, 6), 0.1);
    const ys = [xs, tf.oneHot(tf.tensor1d([0, 1, 2, 0, 1, 2, 0, 1], 'int32'), 3)];
    const out = model.evaluate(xs, ys, {batchSize: 8}) as tf.Scalar[];
    const [total, reconLoss, clsLoss, reconAcc, acc] = out.map((t) => t.dataSync()[0]);
    expect(out).toHaveLength(5);
    expect(reconAcc).toBeGreaterThanOrEqual(0);
    const [pr, pc] = model.predict(xs) as tf.Tensor[];
    expectClose(reconLoss, tf.mean(tfv.losses.gaussianNLL()(xs, pr)).dataSync()[0], 1e-5);
    expectClose(clsLoss, tf.mean(tfv.losses.categoricalNLL()(ys[1], pc)).dataSync()[0], 1e-5);
    const hv = tfl.model({inputs: x, outputs: h}).predict(xs) as tf.Tensor;
    const kl = tfv.layers.gaussianKL(hv, tf.onesLike(hv)).dataSync()[0] * 0.5;
    const l2 = 0.1 * 6 * 4;
    expectClose(total, reconLoss + clsLoss + kl + l2, 1e-5);
    expect(acc).toBeGreaterThanOrEqual(0);
    const r = await tfv.evaluateObjective(model, xs, ys, {batchSize: 3});
    expectClose(r.loss, total, 1e-4);
    expectClose(r.layerLosses, kl + l2, 1e-4);
  });

  it('evaluates a dataset of {xs, ys} batches and validates its arguments', async () => {
    const vae = buildVae({inputDim: 10, hidden: 6, inferenceMode: 'mean'});
    vae.compile({optimizer: 'adam', loss: tfv.losses.bernoulliNLL({fromLogits: true})});
    const x = binaryData(30, 10);
    const whole = await tfv.evaluateObjective(vae, x, x, {batchSize: 7});
    const batches = [tf.slice(x, 0, 16), tf.slice(x, 16, 14)];
    const dataset = {
      iterator: async () => {
        let i = 0;
        return {next: async () => i < batches.length ? {done: false, value: {xs: tf.clone(batches[i]), ys: tf.clone(batches[i++])}} :
            {done: true, value: {xs: [], ys: []}}};
      },
    };
    const before = tf.memory().numTensors;
    const viaDataset = await tfv.evaluateObjective(vae, dataset);
    expect(tf.memory().numTensors).toBe(before);
    expectClose(viaDataset.loss, whole.loss, 1e-5);
    expect(viaDataset.numExamples).toBe(30);
    const uncompiled = buildVae({inputDim: 10, hidden: 6});
    await expect(tfv.evaluateObjective(uncompiled, x, x)).rejects.toThrow(/compiled/);
    await expect(tfv.evaluateObjective(vae, x)).rejects.toThrow(/expected y/);
    await expect(tfv.evaluateObjective(vae, x, x, {batchSize: 0})).rejects.toThrow(/batchSize/);
    await expect(tfv.evaluateObjective(vae, x, tf.slice(x, 0, 5))).rejects.toThrow(/same number of examples/);
  });

  it('evaluates a tf.sequential model (its losses live on the model it wraps)', async () => {
    const model = tfl.sequential({layers: [
      tfl.layers.dense({inputShape: [10], units: 4, kernelInitializer: 'ones'}),
      tfv.layers.klDivergence(),
      tfv.layers.reparameterize({inferenceMode: 'mean'}),
      tfl.layers.dense({units: 10}),
    ]});
    model.compile({optimizer: 'adam', loss: tfv.losses.bernoulliNLL({fromLogits: true})});
    const x = binaryData(12, 10);
    const r = await tfv.evaluateObjective(model, x, x);
    expectClose((model.evaluate(x, x) as tf.Scalar).dataSync()[0], r.loss, 1e-5);
    const h = tfl.model({inputs: model.inputs, outputs: model.layers[0].output as tfl.SymbolicTensor}).predict(x) as tf.Tensor;
    const [mu, lv] = tf.split(h, 2, 1);
    expectClose(r.layerLosses, tfv.layers.gaussianKL(mu, lv).dataSync()[0], 1e-5);
  });

  it('leaks no tensor across repeated evaluations', async () => {
    const vae = buildVae({inputDim: 10, hidden: 6});
    vae.compile({optimizer: 'adam', loss: tfv.losses.bernoulliNLL({fromLogits: true})});
    const x = binaryData(30, 10);
    await tfv.evaluateObjective(vae, x, x);
    tf.dispose(vae.evaluate(x, x) as tf.Scalar);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 20; i++) {
      await tfv.evaluateObjective(vae, x, x, {batchSize: 8});
      tf.dispose(vae.evaluate(x, x, {batchSize: 8}) as tf.Scalar);
    }
    expect(tf.memory().numTensors).toBe(before);
  });
});
