import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

import * as tfv from '../src';
import {KLDivergenceLayer} from '../src/layers/kl_divergence';
import {Reparameterize} from '../src/layers/reparameterize';
import {expectClose, NODE_BACKENDS, useBackend} from './helpers/backends';
import {roundTripInMemory} from './helpers/io';
import {useSeededMathRandom} from './helpers/random';
import {binaryData, buildVae} from './helpers/vae';

// Every draw in this file is seeded: layers and initializers get seeds where
// they matter, and Math.random (the seed of tfjs's unseeded draws and of
// model.fit's shuffling) is reseeded before each test, so the trained weights
// and every outcome are fixed on a given backend (docs/testing.md).
useSeededMathRandom(0x5e);

function expectSameWeights(a: tfl.LayersModel, b: tfl.LayersModel): void {
  const wa = a.getWeights();
  const wb = b.getWeights();
  expect(wb.map((w) => w.shape)).toEqual(wa.map((w) => w.shape));
  wa.forEach((w, i) => expectClose(wb[i], w, 0, 0));
}

describe.each(NODE_BACKENDS)('saving and loading models with our layers on %s', (backend) => {
  beforeAll(async () => useBackend(backend));

  it('round-trips a trained VAE through tf.io: same weights, config, annealed β and seeded outputs', async () => {
    const vae = buildVae({inputDim: 20, hidden: 8, latent: 3, seed: 21});
    vae.compile({optimizer: tf.train.adam(1e-2), loss: tfv.losses.bernoulliNLL({fromLogits: true})});
    const x = binaryData(30, 20);
    await vae.fit(x, x, {epochs: 2, batchSize: 10, verbose: 0});
    (vae.getLayer('kl') as KLDivergenceLayer).setKLWeight(0.3);

    const loaded = await roundTripInMemory(vae);
    expect(loaded.layers.map((l) => l.getClassName())).toEqual(vae.layers.map((l) => l.getClassName()));
    expect(loaded.getLayer('kl')).toBeInstanceOf(KLDivergenceLayer);
    expect(loaded.getLayer('z')).toBeInstanceOf(Reparameterize);
    expect(loaded.getLayer('z').getConfig()).toEqual(vae.getLayer('z').getConfig());
    expect(loaded.getLayer('kl').getConfig()).toEqual(vae.getLayer('kl').getConfig());
    expectSameWeights(vae, loaded);
    expect((loaded.getLayer('kl') as KLDivergenceLayer).getKLWeight()).toBeCloseTo(0.3, 7);

    // Same seed, same position in the noise sequence → identical outputs.
    (vae.getLayer('z') as Reparameterize).resetSeed();
    const before = vae.predict(x) as tf.Tensor;
    const after = loaded.predict(x) as tf.Tensor;
    expectClose(after, before, 0, 0);

    loaded.compile({optimizer: 'adam', loss: tfv.losses.bernoulliNLL({fromLogits: true})});
    const r = await tfv.evaluateObjective(loaded, x, x);
    expect(Number.isFinite(r.loss)).toBe(true);
    expect(r.layerLosses).toBeGreaterThan(0);
  });

  it('round-trips through file:// without tfjs-node, and a tf.sequential VAE using one [mu | logVar] tensor', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tfv-ser-'));
    try {
      const vae = tfl.sequential({layers: [
        tfl.layers.dense({inputShape: [12], units: 8, activation: 'relu'}),
        tfl.layers.dense({units: 4}),
        tfv.layers.klDivergence({freeBits: 0.1}),
        tfv.layers.reparameterize({seed: 4, samples: 2}),
        tfl.layers.dense({units: 12}),
      ]});
      vae.compile({optimizer: 'adam', loss: tfv.losses.bernoulliNLL({fromLogits: true})});
      const x = binaryData(16, 12);
      const h = await vae.fit(x, x, {epochs: 2, batchSize: 8, verbose: 0, validationData: [x, x]});
      expect(h.history['val_loss'].every((v) => Number.isFinite(v as number))).toBe(true);
      await vae.save(`file://${dir}`);
      expect(fs.existsSync(path.join(dir, 'model.json'))).toBe(true);
      const loaded = await tfl.loadLayersModel(`file://${path.join(dir, 'model.json')}`);
      expectSameWeights(vae, loaded);
      (vae.layers[3] as Reparameterize).resetSeed();
      const a = vae.predict(x) as tf.Tensor;
      expect(a.shape).toEqual([32, 12]);
      expectClose(loaded.predict(x) as tf.Tensor, a, 0, 0);
    } finally {
      fs.rmSync(dir, {recursive: true, force: true});
    }
  });

  it('writes our class names into model.json and registers them under the tfv package', async () => {
    const vae = buildVae({inputDim: 6, hidden: 4});
    let topology: unknown;
    await vae.save(tf.io.withSaveHandler(async (a) => {
      topology = a.modelTopology;
      return {modelArtifactsInfo: {dateSaved: new Date(), modelTopologyType: 'JSON'}};
    }));
    const text = JSON.stringify(topology);
    expect(text).toContain('"class_name":"KLDivergenceLayer"');
    expect(text).toContain('"class_name":"Reparameterize"');
    expect(tf.serialization.getRegisteredName(Reparameterize)).toBe('tfv>Reparameterize');
  });

  it('writes BayesianDense and BayesianConv2D into model.json by class name, with snake_case configs that load back', async () => {
    const model = tfl.sequential({layers: [
      tfv.layers.bayesianConv2d({inputShape: [5, 5, 1], filters: 2, kernelSize: [2, 3], strides: [1, 2], padding: 'same',
        estimator: 'flipout', bayesianBias: true, numExamples: 10, seed: 1, inferenceMode: 'mean', name: 'bc'}),
      tfl.layers.flatten(),
      tfv.layers.bayesianDense({units: 1, estimator: 'localReparameterization', prior: 'scaleMixture', klWeight: 0.1,
        inferenceMode: 'mean', name: 'bd'}),
    ]});
    let topology: unknown;
    await model.save(tf.io.withSaveHandler(async (a) => {
      topology = a.modelTopology;
      return {modelArtifactsInfo: {dateSaved: new Date(), modelTopologyType: 'JSON'}};
    }));
    const text = JSON.stringify(topology);
    expect(text).toContain('"class_name":"BayesianConv2D"');
    expect(text).toContain('"class_name":"BayesianDense"');
    expect(text).toContain('"kernel_size":[2,3]');
    expect(text).toContain('"kernel_untransformed_scale_initializer"');
    const loaded = await roundTripInMemory(model);
    for (const name of ['bc', 'bd']) expect(loaded.getLayer(name).getConfig()).toEqual(model.getLayer(name).getConfig());
    const x = tf.ones([2, 5, 5, 1]);
    expectClose(loaded.predict(x) as tf.Tensor, model.predict(x) as tf.Tensor, 0, 0);
    x.dispose();
  });
});
