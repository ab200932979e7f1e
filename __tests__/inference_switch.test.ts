/**
 * tfv.setInferenceMode / tfv.getInferenceModes: one switch for every
 * stochastic layer of a model, nested models included, found by the
 * stochastic-layer contract (marker or inferenceMode accessor), kept by
 * model.save. Every draw here is seeded (layer seeds; Math.random reseeded
 * per test); no statistical assertions.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

import * as tfv from '../src';
import {isStochasticLayer} from '../src/layers/inference_mode';
import {expectClose, NODE_BACKENDS, useBackend} from './helpers/backends';
import {roundTripInMemory} from './helpers/io';
import {uniform, useSeededMathRandom} from './helpers/random';

useSeededMathRandom(0x1f5);

/**
 * x [N, 3] → bayesianDense(4) → reparameterize (mu, logVar = the two halves) → nested
 * sequential [bayesianDense(3), gumbelSoftmax] → [N, 3].
 */
function buildModel(): tfl.LayersModel {
  const x = tfl.input({shape: [3]});
  const h = tfv.layers.bayesianDense({units: 4, numExamples: 50, seed: 1, name: 'bd'}).apply(x);
  const z = tfv.layers.reparameterize({seed: 2, name: 'rep'}).apply(h);
  const inner = tfl.sequential({name: 'inner', layers: [
    tfv.layers.bayesianDense({inputShape: [2], units: 3, numExamples: 50, seed: 3, name: 'inner_bd'}),
    tfv.layers.gumbelSoftmax({seed: 4, name: 'gs'}),
  ]});
  return tfl.model({inputs: x, outputs: inner.apply(z) as tfl.SymbolicTensor});
}

/** A layer of another author that follows the contract by its accessor alone (no marker). */
class NoisyLayer extends tfl.layers.Layer {
  static className = 'NoisyTestLayer';
  private mode = 'sample';
  constructor(private readonly accepts: string[] = ['sample', 'mean']) {
    super({name: 'noisy'});
  }
  get inferenceMode(): string {
    return this.mode;
  }
  set inferenceMode(m: string) {
    if (!this.accepts.includes(m)) throw new Error(`noisy: no mode '${m}'`);
    this.mode = m;
  }
  override call(inputs: tf.Tensor|tf.Tensor[]): tf.Tensor {
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    return this.mode === 'mean' ? tf.clone(x) : tf.tidy(() => tf.add(x, tf.randomNormal(x.shape, 0, 1, 'float32', 9)));
  }
}

/** The layer's weight `name` (tfjs appends `_1`, `_2`, … to weight names already used in the process). */
function weight(layer: tfl.layers.Layer, name: string): tf.Tensor {
  return layer.weights.find((w) => new RegExp(`/${name}(_\\d+)?$`).test(w.name))!.read();
}

describe.each(NODE_BACKENDS)('setInferenceMode on %s', (backend) => {
  beforeAll(async () => useBackend(backend));

  const x = () => tf.tensor2d(uniform(15, 3, -1, 1), [5, 3]);

  it('lists every stochastic layer, nested models included, and no deterministic one', () => {
    const model = buildModel();
    expect(tfv.getInferenceModes(model)).toEqual([
      {name: 'bd', className: 'BayesianDense', mode: 'sample'},
      {name: 'rep', className: 'Reparameterize', mode: 'sample'},
      {name: 'inner_bd', className: 'BayesianDense', mode: 'sample'},
      {name: 'gs', className: 'GumbelSoftmax', mode: 'sample'},
    ]);
    expect(tfv.getInferenceModes(tfl.sequential({layers: [tfl.layers.dense({inputShape: [2], units: 1})]}))).toEqual([]);
    model.dispose();
  });

  it("'mean' makes predict deterministic and equal to the posterior-mean network; 'sample' draws again", () => {
    const model = buildModel();
    const xs = x();
    const [s1, s2] = [model.predict(xs) as tf.Tensor, model.predict(xs) as tf.Tensor];
    expect(tf.max(tf.abs(tf.sub(s1, s2))).dataSync()[0]).toBeGreaterThan(1e-3);

    const after = tfv.setInferenceMode(model, 'mean');
    expect(after.map((l) => l.mode)).toEqual(['mean', 'mean', 'mean', 'mean']);
    const [m1, m2] = [model.predict(xs) as tf.Tensor, model.predict(xs) as tf.Tensor];
    expect(Array.from(m1.dataSync())).toEqual(Array.from(m2.dataSync()));
    // The posterior-mean network: x μ₁ + b₁ → mu (first half) → z = mu → l = z μ₂ + b₂ → softmax(l)
    // (GumbelSoftmax's 'mean' is the class probabilities).
    const bd = model.getLayer('bd');
    const inner = model.getLayer('inner') as tfl.Sequential;
    const innerBd = inner.getLayer('inner_bd');
    const expected = tf.tidy(() => {
      const h = tf.add(tf.matMul(xs, weight(bd, 'kernel_loc')), weight(bd, 'bias_loc'));
      const mu = tf.slice(h, [0, 0], [-1, 2]);
      return tf.softmax(tf.add(tf.matMul(mu, weight(innerBd, 'kernel_loc')), weight(innerBd, 'bias_loc')));
    });
    expectClose(m1, expected, 1e-5, 1e-6);

    tfv.setInferenceMode(model, 'sample');
    const [t1, t2] = [model.predict(xs) as tf.Tensor, model.predict(xs) as tf.Tensor];
    expect(tf.max(tf.abs(tf.sub(t1, t2))).dataSync()[0]).toBeGreaterThan(1e-3);
    tf.dispose([xs, s1, s2, m1, m2, t1, t2, expected]);
    model.dispose();
  });

  it("maps GumbelSoftmax's third mode: 'mode' is left by either switch", () => {
    const model = buildModel();
    const gs = (model.getLayer('inner') as tfl.Sequential).getLayer('gs') as tfv.layers.GumbelSoftmax;
    gs.inferenceMode = 'mode';
    expect(tfv.getInferenceModes(model).find((l) => l.name === 'gs')!.mode).toBe('mode');
    tfv.setInferenceMode(model, 'mean');
    expect(gs.inferenceMode).toBe('mean');
    tfv.setInferenceMode(model, 'sample');
    expect(gs.inferenceMode).toBe('sample');
    model.dispose();
  });

  it('covers FlowPosterior and layers that only follow the accessor contract', () => {
    const x0 = tfl.input({shape: [4]});
    const mu = tfl.layers.dense({units: 2}).apply(x0);
    const lv = tfl.layers.dense({units: 2}).apply(x0);
    const fp = tfv.flows.flowPosterior({flows: [tfv.flows.planarFlow()], seed: 5, name: 'fp'});
    const noisy = new NoisyLayer();
    const model = tfl.model({inputs: x0, outputs: noisy.apply(fp.apply([mu, lv])) as tfl.SymbolicTensor});
    expect(isStochasticLayer(fp)).toBe(true);
    expect(isStochasticLayer(noisy)).toBe(true);
    expect(isStochasticLayer(model.layers[1])).toBe(false);
    expect(tfv.getInferenceModes(model)).toEqual([
      {name: 'fp', className: 'FlowPosterior', mode: 'sample'},
      {name: 'noisy', className: 'NoisyTestLayer', mode: 'sample'},
    ]);
    const xs = tf.tensor2d(uniform(8, 11, -1, 1), [2, 4]);
    tfv.setInferenceMode(model, 'mean');
    expect([fp.inferenceMode, noisy.inferenceMode]).toEqual(['mean', 'mean']);
    const [a, b] = [model.predict(xs) as tf.Tensor, model.predict(xs) as tf.Tensor];
    expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()));
    tf.dispose([xs, a, b]);
    model.dispose();
  });

  it('covers BayesianConv2D (found by its inferenceMode accessor, no marker needed)', () => {
    const model = tfl.sequential({layers: [
      tfv.layers.bayesianConv2d({inputShape: [4, 4, 1], filters: 2, kernelSize: 3, numExamples: 10, seed: 6, name: 'conv'}),
    ]});
    expect(tfv.getInferenceModes(model)).toEqual([{name: 'conv', className: 'BayesianConv2D', mode: 'sample'}]);
    const xs = tf.tensor4d(uniform(16, 17, -1, 1), [1, 4, 4, 1]);
    const [s1, s2] = [model.predict(xs) as tf.Tensor, model.predict(xs) as tf.Tensor];
    expect(tf.max(tf.abs(tf.sub(s1, s2))).dataSync()[0]).toBeGreaterThan(1e-4);
    tfv.setInferenceMode(model, 'mean');
    const [m1, m2] = [model.predict(xs) as tf.Tensor, model.predict(xs) as tf.Tensor];
    expect(Array.from(m1.dataSync())).toEqual(Array.from(m2.dataSync()));
    tf.dispose([xs, s1, s2, m1, m2]);
    model.dispose();
  });

  it('restores every layer when one refuses, and names it', () => {
    const x0 = tfl.input({shape: [2]});
    const rep = tfv.layers.reparameterize({seed: 1});
    const picky = new NoisyLayer(['sample']);
    const model = tfl.model({inputs: x0, outputs: picky.apply(rep.apply(x0)) as tfl.SymbolicTensor});
    expect(() => tfv.setInferenceMode(model, 'mean')).toThrow(/setInferenceMode: layer 'noisy' \(NoisyTestLayer\) refused inferenceMode 'mean': noisy: no mode 'mean'/);
    expect(rep.inferenceMode).toBe('sample');
    model.dispose();
  });

  it('keeps the modes through model.save and tf.loadLayersModel', async () => {
    const model = buildModel();
    tfv.setInferenceMode(model, 'mean');
    const loaded = await roundTripInMemory(model);
    expect(tfv.getInferenceModes(loaded).map((l) => [l.name, l.mode])).toEqual(
        [['bd', 'mean'], ['rep', 'mean'], ['inner_bd', 'mean'], ['gs', 'mean']]);
    const xs = x();
    const [a, b] = [model.predict(xs) as tf.Tensor, loaded.predict(xs) as tf.Tensor];
    expectClose(b, a, 1e-6, 1e-7);
    tfv.setInferenceMode(loaded, 'sample');
    const back = await roundTripInMemory(loaded);
    expect(tfv.getInferenceModes(back).every((l) => l.mode === 'sample')).toBe(true);
    tf.dispose([xs, a, b]);
    [model, loaded, back].forEach((m) => m.dispose());
  });

  it('rejects a mode other than sample or mean, and a non-model, naming the argument; leaks nothing', () => {
    const model = buildModel();
    const xs = x();
    tf.dispose(model.predict(xs) as tf.Tensor);  // builds the layers before counting
    const before = tf.memory().numTensors;
    tfv.setInferenceMode(model, 'mean');
    tf.dispose(model.predict(xs) as tf.Tensor);
    tfv.setInferenceMode(model, 'sample');
    expect(tf.memory().numTensors).toBe(before);
    expect(() => tfv.setInferenceMode(model, 'mode' as never)).toThrow(/setInferenceMode: expected mode to be one of 'sample', 'mean'. Received: mode='mode'/);
    expect(() => tfv.setInferenceMode(null as never, 'mean')).toThrow(/setInferenceMode: expected model to be a tf.LayersModel/);
    expect(() => tfv.getInferenceModes({} as never)).toThrow(/getInferenceModes: expected model/);
    expect(tfv.getInferenceModes(model).every((l) => l.mode === 'sample')).toBe(true);
    xs.dispose();
    model.dispose();
  });
});
