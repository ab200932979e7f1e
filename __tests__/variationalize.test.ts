/**
 * `tfv.variationalize`: the Bayesian copy of a deterministic model — its
 * topology, the conversion report, MOPED's initial values, options and their
 * errors, training, and the save/load round trip at a fixed seed.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

import * as tfv from '../src';
import {SCALE_FLOOR} from '../src/distributions/normal';
import {BayesianConv2D} from '../src/layers/bayesian_conv2d';
import {BayesianDense} from '../src/layers/bayesian_dense';
import {DENSE_CONVERTER} from '../src/convert/layer_conversions';
import {MopedPrior} from '../src/convert/moped_prior';
import {DivergenceLayer} from '../src/layers/divergence_layer';
import {modelLayers} from '../src/layers/model_layers';
import {deriveSeed} from '../src/util/seed';
import {expectClose, NODE_BACKENDS, useBackend} from './helpers/backends';
import {centralDifference} from './helpers/gradients';
import {roundTripInMemory} from './helpers/io';
import {uniform, useSeededMathRandom} from './helpers/random';
import {binaryData, expectFlatTensorCount} from './helpers/vae';

// Every draw here is seeded: Math.random (the seed of tfjs's unseeded
// initializers and of fit's shuffling) is reseeded before each test, and the
// converted layers get a `seed` where a test compares draws. No assertion is
// statistical.
useSeededMathRandom(0x7a);

// The structural and option tests build models on cpu; the value tests run on every Node backend.
beforeAll(async () => {
  await useBackend('cpu');
});

const softplus64 = (r: number) => (r > 0 ? r + Math.log1p(Math.exp(-r)) : Math.log1p(Math.exp(r)));
const scale64 = (rho: number) => SCALE_FLOOR + softplus64(rho);

/** A weight's name within its layer (`kernel_loc`, …). */
const shortName = (w: {originalName: string}) => w.originalName.split('/').pop()!;

function weightValues(layer: tfl.layers.Layer): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const w of layer.weights) out[shortName(w)] = Array.from(w.read().dataSync());
  return out;
}

/** Every weight of a model (nested ones included) by layer path and weight name, as plain numbers. */
function modelWeights(model: tfl.LayersModel): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const w of model.weights) out[w.originalName] = Array.from(w.read().dataSync());
  return out;
}

function setWeight(layer: tfl.layers.Layer, name: string, values: number[]): void {
  const w = layer.weights.find((v) => shortName(v) === name)!;
  const t = tf.tensor(values, w.shape as number[]);
  w.write(t);
  t.dispose();
}

function resetSeeds(model: tfl.LayersModel): void {
  for (const layer of modelLayers(model.layers)) if (layer instanceof DivergenceLayer) layer.resetSeed();
}

function setInferenceMode(model: tfl.LayersModel, mode: tfv.layers.InferenceMode): void {
  for (const layer of modelLayers(model.layers)) {
    if (layer instanceof BayesianDense || layer instanceof BayesianConv2D) layer.inferenceMode = mode;
  }
}

/** A small trained-looking Sequential: dense → dropout → batch norm → dense, with moving statistics away from 0 and 1. */
function sequentialNet(): tfl.Sequential {
  const net = tfl.sequential({name: 'net', layers: [
    tfl.layers.dense({inputShape: [4], units: 5, activation: 'relu', name: 'hidden'}),
    tfl.layers.dropout({rate: 0.2, name: 'drop'}),
    tfl.layers.batchNormalization({name: 'norm'}),
    tfl.layers.dense({units: 3, name: 'out', activation: 'tanh'}),
  ]});
  const norm = net.getLayer('norm');
  setWeight(norm, 'moving_mean', uniform(5, 11, -1, 1));
  setWeight(norm, 'moving_variance', uniform(5, 12, 0.5, 2));
  setWeight(norm, 'gamma', uniform(5, 13, 0.5, 1.5));
  setWeight(norm, 'beta', uniform(5, 14, -0.5, 0.5));
  setWeight(net.getLayer('hidden'), 'bias', uniform(5, 15, -0.3, 0.3));
  setWeight(net.getLayer('out'), 'bias', uniform(3, 16, -0.3, 0.3));
  return net;
}

/**
 * A functional model with two inputs, a Dense shared by both (applied
 * twice), a branch merged by concatenation, a Flatten, and two outputs.
 */
function functionalNet(): tfl.LayersModel {
  const a = tfl.input({shape: [3], name: 'a'});
  const b = tfl.input({shape: [3], name: 'b'});
  const shared = tfl.layers.dense({units: 4, activation: 'relu', name: 'shared'});
  const ha = shared.apply(a) as tfl.SymbolicTensor;
  const hb = shared.apply(b) as tfl.SymbolicTensor;
  const branch = tfl.layers.dense({units: 2, name: 'branch'}).apply(ha) as tfl.SymbolicTensor;
  const merged = tfl.layers.concatenate({name: 'merge'}).apply([ha, hb, branch]) as tfl.SymbolicTensor;
  const reshaped = tfl.layers.reshape({targetShape: [5, 2], name: 'reshape'}).apply(merged) as tfl.SymbolicTensor;
  const flat = tfl.layers.flatten({name: 'flat'}).apply(reshaped) as tfl.SymbolicTensor;
  const head1 = tfl.layers.dense({units: 2, name: 'head1'}).apply(flat) as tfl.SymbolicTensor;
  const head2 = tfl.layers.dense({units: 1, useBias: false, name: 'head2'}).apply(hb) as tfl.SymbolicTensor;
  const model = tfl.model({inputs: [a, b], outputs: [head1, head2], name: 'fn'});
  for (const name of ['shared', 'branch', 'head1']) {
    const layer = model.getLayer(name);
    setWeight(layer, 'bias', uniform(layer.weights[1].shape[0] as number, name.length, -0.3, 0.3));
  }
  return model;
}

/** Convolutions channels last (with strides and a rectangular kernel, no bias) and channels first, then a dense head. */
function convNet(): tfl.Sequential {
  return tfl.sequential({name: 'convs', layers: [
    tfl.layers.conv2d({inputShape: [6, 6, 2], filters: 3, kernelSize: 3, padding: 'same', activation: 'relu', name: 'c1'}),
    tfl.layers.conv2d({filters: 2, kernelSize: [2, 3], strides: 2, useBias: false, name: 'c2'}),
    tfl.layers.conv2d({filters: 2, kernelSize: 2, dataFormat: 'channelsFirst', activation: 'tanh', name: 'c3'}),
    tfl.layers.flatten({name: 'f'}),
    tfl.layers.dense({units: 2, name: 'd'}),
  ]});
}

describe('variationalize: structure and report', () => {
  it('converts a Sequential: Dense layers become BayesianDense with the same architecture and names; others are copies', () => {
    const net = sequentialNet();
    const {model, converted, unconverted, droppedOptions} = tfv.variationalize(net, {numExamples: 100});
    expect(model).toBeInstanceOf(tfl.Sequential);
    expect(model).not.toBe(net);
    expect(model.layers.map((l) => l.getClassName())).toEqual(['BayesianDense', 'Dropout', 'BatchNormalization', 'BayesianDense']);
    expect(model.layers.map((l) => l.name)).toEqual(['hidden', 'drop', 'norm', 'out']);
    expect(converted).toEqual(['hidden', 'out']);
    expect(unconverted).toEqual([{name: 'norm', className: 'BatchNormalization', reason: expect.stringContaining('no Bayesian counterpart')}]);
    expect(droppedOptions).toEqual([]);
    const hidden = model.getLayer('hidden') as BayesianDense;
    const out = model.getLayer('out') as BayesianDense;
    expect(hidden).toBeInstanceOf(BayesianDense);
    expect(hidden.getConfig()).toMatchObject({units: 5, activation: 'relu', useBias: true, numExamples: 100, bayesianBias: false});
    expect(out.getConfig()).toMatchObject({units: 3, activation: 'tanh', useBias: true});
    expect(model.inputs[0].shape).toEqual([null, 4]);
    expect(model.outputs[0].shape).toEqual([null, 3]);
    expect(model.getLayer('drop').getConfig()).toEqual(net.getLayer('drop').getConfig());
    expect(model.getLayer('norm').getConfig()).toEqual(net.getLayer('norm').getConfig());
    expect(weightValues(model.getLayer('norm'))).toEqual(weightValues(net.getLayer('norm')));
    model.dispose();
    net.dispose();
  });

  it('keeps a functional topology: two inputs, two outputs, a shared Dense (one Bayesian layer applied twice), branch and merge', () => {
    const net = functionalNet();
    const {model, converted, unconverted} = tfv.variationalize(net, {klWeight: 0.01});
    expect(model).not.toBeInstanceOf(tfl.Sequential);
    expect(model.layers.map((l) => [l.name, l.getClassName()])).toEqual(net.layers.map((l) => [
      l.name, l.getClassName() === 'Dense' ? 'BayesianDense' : l.getClassName()]));
    expect(converted).toEqual(['shared', 'branch', 'head1', 'head2']);
    expect(unconverted).toEqual([]);
    const shared = model.getLayer('shared');
    expect(shared.inboundNodes).toHaveLength(2);
    expect(model.inputNames).toEqual(['a', 'b']);
    expect(model.outputs.map((o) => o.shape)).toEqual([[null, 2], [null, 1]]);
    // The same graph: each layer's inbound layers are the original's.
    const inbound = (m: tfl.LayersModel) => m.layers.map((l) => l.inboundNodes.map((n) => n.inboundLayers.map((x) => x.name)));
    expect(inbound(model)).toEqual(inbound(net));
    // head2 has no bias: converted without one, and bayesianBias leaves it so.
    expect((model.getLayer('head2') as BayesianDense).useBias).toBe(false);
    expect(model.getLayer('head2').weights.map(shortName)).toEqual(['kernel_loc', 'kernel_untransformed_scale', 'kl_weight']);
    model.dispose();
    net.dispose();
  });

  it('converts inside nested models (paths outer/inner) and honours exclude by name, by path and by nested model', () => {
    const inner = tfl.sequential({name: 'inner', layers: [
      tfl.layers.dense({inputShape: [4], units: 3, name: 'd1'}),
      tfl.layers.dense({units: 2, name: 'd2'}),
    ]});
    const x = tfl.input({shape: [4], name: 'x'});
    const h = tfl.layers.dense({units: 4, name: 'pre'}).apply(x) as tfl.SymbolicTensor;
    const net = tfl.model({inputs: x, outputs: inner.apply(h) as tfl.SymbolicTensor, name: 'outer'});

    const all = tfv.variationalize(net, {numExamples: 10});
    expect(all.converted).toEqual(['pre', 'inner/d1', 'inner/d2']);
    const innerCopy = all.model.getLayer('inner') as tfl.Sequential;
    expect(innerCopy).toBeInstanceOf(tfl.Sequential);
    expect(innerCopy).not.toBe(inner);
    expect(innerCopy.layers.map((l) => l.getClassName())).toEqual(['BayesianDense', 'BayesianDense']);
    expect(weightValues(innerCopy.getLayer('d2'))['kernel_loc']).toEqual(weightValues(inner.getLayer('d2'))['kernel']);

    const some = tfv.variationalize(net, {numExamples: 10, exclude: ['pre', 'inner/d2']});
    expect(some.converted).toEqual(['inner/d1']);
    expect(some.unconverted).toEqual([
      {name: 'pre', className: 'Dense', reason: 'listed in options.exclude'},
      {name: 'inner/d2', className: 'Dense', reason: 'listed in options.exclude'},
    ]);
    expect(weightValues(some.model.getLayer('pre'))).toEqual(weightValues(net.getLayer('pre')));

    const none = tfv.variationalize(net, {numExamples: 10, exclude: ['inner']});
    expect(none.converted).toEqual(['pre']);
    expect(none.unconverted.map((u) => u.name)).toEqual(['inner/d1', 'inner/d2']);
    for (const r of [all, some, none]) r.model.dispose();
    net.dispose();
  });

  it('reports layers without a Bayesian counterpart and keeps them as exact copies (Conv1D, DepthwiseConv2D)', () => {
    const net = tfl.sequential({layers: [
      tfl.layers.conv1d({inputShape: [6, 2], filters: 3, kernelSize: 2, name: 'c1'}),
      tfl.layers.reshape({targetShape: [5, 3, 1], name: 'r'}),
      tfl.layers.depthwiseConv2d({kernelSize: 2, name: 'dw'}),
      tfl.layers.flatten({name: 'f'}),
      tfl.layers.dense({units: 2, name: 'd'}),
    ]});
    const {model, converted, unconverted} = tfv.variationalize(net, {numExamples: 10});
    expect(converted).toEqual(['d']);
    expect(unconverted).toEqual([
      {name: 'c1', className: 'Conv1D', reason: expect.stringContaining('no Bayesian counterpart for Conv1D')},
      {name: 'dw', className: 'DepthwiseConv2D', reason: expect.stringContaining('no Bayesian counterpart for DepthwiseConv2D')},
    ]);
    expect(weightValues(model.getLayer('c1'))).toEqual(weightValues(net.getLayer('c1')));
    expect(weightValues(model.getLayer('dw'))).toEqual(weightValues(net.getLayer('dw')));
    model.dispose();
    net.dispose();
  });

  it('converts a Dense with regularizers and constraints, reporting what it leaves out', () => {
    const net = tfl.sequential({layers: [
      tfl.layers.dense({inputShape: [3], units: 2, name: 'reg', kernelRegularizer: tfl.regularizers.l2(), biasConstraint: tfl.constraints.nonNeg()}),
      tfl.layers.dense({units: 2, name: 'plain'}),
    ]});
    const {model, converted, droppedOptions} = tfv.variationalize(net, {numExamples: 10});
    expect(converted).toEqual(['reg', 'plain']);
    expect(droppedOptions).toEqual([{name: 'reg', options: ['kernelRegularizer', 'biasConstraint']}]);
    model.dispose();
    net.dispose();
  });

  it('gives each converted layer its options, a distinct derived seed and its own prior', () => {
    const net = functionalNet();
    const prior = tfv.priors.scaleMixture({pi: 0.25});
    const {model, converted} = tfv.variationalize(net, {
      numExamples: 50, estimator: 'flipout', prior, bayesianBias: true, inferenceMode: 'mean', seed: 42,
    });
    const layers = converted.map((n) => model.getLayer(n) as BayesianDense);
    expect(layers.map((l) => l.seed)).toEqual(converted.map((_, k) => deriveSeed(42, 2 * k)));
    expect(new Set(layers.map((l) => l.seed)).size).toBe(layers.length);
    for (const l of layers) {
      expect(l.estimator).toBe('flipout');
      expect(l.numExamples).toBe(50);
      expect(l.inferenceMode).toBe('mean');
      expect(l.prior).not.toBe(prior);
      expect(tfv.priors.serializePrior(l.prior)).toEqual(tfv.priors.serializePrior(prior));
      expect(l.bayesianBias).toBe(l.useBias);
    }
    expect(new Set(layers.map((l) => l.prior)).size).toBe(layers.length);
    const scaled = tfv.variationalize(net, {klWeight: 0.5, priorScale: 0.3});
    expect((scaled.model.getLayer('shared') as BayesianDense).prior.getConfig()).toEqual({loc: 0, scale: 0.3});
    expect(scaled.model.getLayer('shared').getConfig()).toMatchObject({klWeight: 0.5, numExamples: null});
    model.dispose();
    scaled.model.dispose();
    net.dispose();
  });

  it('converts Conv2D to BayesianConv2D with the same filters, kernel size, strides, padding, data format, dilation, activation, bias', () => {
    const net = convNet();
    const {model, converted, unconverted} = tfv.variationalize(net, {numExamples: 10});
    expect(converted).toEqual(['c1', 'c2', 'c3', 'd']);
    expect(unconverted).toEqual([]);
    for (const name of ['c1', 'c2', 'c3']) {
      const orig = net.getLayer(name).getConfig();
      const copy = model.getLayer(name);
      expect(copy).toBeInstanceOf(BayesianConv2D);
      const keys = ['filters', 'kernelSize', 'strides', 'padding', 'dataFormat', 'dilationRate', 'activation', 'useBias', 'name'];
      expect(Object.fromEntries(keys.map((k) => [k, copy.getConfig()[k]]))).toEqual(Object.fromEntries(keys.map((k) => [k, orig[k]])));
    }
    expect(model.outputs[0].shape).toEqual(net.outputs[0].shape);
    // MOPED on convolutions: the kernel [kh, kw, in, filters] and the bias are the means, as they are.
    for (const name of ['c1', 'c2', 'c3']) {
      const orig = weightValues(net.getLayer(name));
      const copy = weightValues(model.getLayer(name));
      expect(copy['kernel_loc']).toEqual(orig['kernel']);
      expect(copy['bias_loc']).toEqual(orig['bias']);
      expectClose(copy['kernel_untransformed_scale'].map(scale64), orig['kernel'].map((v) => Math.max(0.1 * Math.abs(v), 2e-5)), 3e-6, 0);
    }
    model.dispose();
    net.dispose();
  });

  it('copies layers that already are Bayesian (weights and seeds) without converting or reporting them', () => {
    const net = sequentialNet();
    const once = tfv.variationalize(net, {numExamples: 100, seed: 9});
    const twice = tfv.variationalize(once.model, {numExamples: 100});
    expect(twice.converted).toEqual([]);
    expect(twice.unconverted.map((u) => u.name)).toEqual(['norm']);
    expect(modelWeights(twice.model)).toEqual(modelWeights(once.model));
    expect((twice.model.getLayer('hidden') as BayesianDense).seed).toBe((once.model.getLayer('hidden') as BayesianDense).seed);
    once.model.dispose();
    twice.model.dispose();
    net.dispose();
  });

  it('keeps a layer deterministic when its config has an option the Bayesian layer lacks (the converter refuses)', () => {
    const config = {...tfl.layers.dense({units: 2, name: 'd'}).getConfig(), futureOption: 3};
    expect(DENSE_CONVERTER.convert(config, {bayesianBias: false})).toEqual({reason: 'its option \'futureOption\' has no counterpart in BayesianDense'});
    const plain = DENSE_CONVERTER.convert(tfl.layers.dense({units: 2, name: 'd'}).getConfig(), {bayesianBias: false, numExamples: 5});
    expect(plain).toMatchObject({className: 'BayesianDense', config: {units: 2, name: 'd', numExamples: 5}, dropped: []});
  });

  it('refuses a layer class that is not registered for serialization, naming it', () => {
    class Unregistered extends tfl.layers.Layer {
      static className = 'UnregisteredForVariationalize';
      override computeOutputShape(s: tfl.Shape|tfl.Shape[]) { return s; }
      override call(x: tf.Tensor|tf.Tensor[]) { return x; }
    }
    const x = tfl.input({shape: [2]});
    const net = tfl.model({inputs: x, outputs: new Unregistered({name: 'odd'}).apply(x) as tfl.SymbolicTensor});
    expect(() => tfv.variationalize(net, {numExamples: 10}))
        .toThrow(/layer 'odd' is of class UnregisteredForVariationalize, which is not registered for serialization/);
    net.dispose();
  });
});

describe('variationalize: options', () => {
  const net = () => tfl.sequential({layers: [tfl.layers.dense({inputShape: [2], units: 1, name: 'd'})]});
  const cases: [string, unknown, RegExp][] = [
    ['no options', undefined, /expected options to be an options object.*Received: options=undefined/],
    ['neither numExamples nor klWeight', {}, /expected numExamples .* or klWeight/],
    ['both', {numExamples: 10, klWeight: 0.1}, /only one of numExamples and klWeight/],
    ['numExamples', {numExamples: 0}, /expected numExamples to be a positive integer. Received: numExamples=0/],
    ['klWeight', {klWeight: -1}, /expected klWeight to be a non-negative number. Received: klWeight=-1/],
    ['an unknown option', {numExamples: 10, estimater: 'flipout'}, /unknown option 'estimater'. Known options: numExamples, klWeight/],
    ['estimator', {numExamples: 10, estimator: 'mc'}, /expected estimator to be one of 'reparameterization', 'localReparameterization', 'flipout'. Received: estimator='mc'/],
    ['prior', {numExamples: 10, prior: 'laplace'}, /expected prior to be a registered prior .*Received: prior='laplace'/],
    ['priorScale with another prior', {numExamples: 10, prior: 'scaleMixture', priorScale: 2}, /expected priorScale to be given only with the Gaussian prior/],
    ['priorScale', {numExamples: 10, priorScale: 0}, /expected priorScale to be a positive number. Received: priorScale=0/],
    ['bayesianBias', {numExamples: 10, bayesianBias: 'yes'}, /expected bayesianBias to be a boolean. Received: bayesianBias='yes'/],
    ['inferenceMode', {numExamples: 10, inferenceMode: 'mode'}, /expected inferenceMode to be one of 'sample', 'mean'. Received: inferenceMode='mode'/],
    ['seed', {numExamples: 10, seed: -3}, /expected seed to be a non-negative integer. Received: seed=-3/],
    ['initialize', {numExamples: 10, initialize: 'zeros'}, /expected initialize to be one of 'moped', 'fresh'. Received: initialize='zeros'/],
    ['mopedDelta', {numExamples: 10, mopedDelta: 0}, /expected mopedDelta to be a positive number. Received: mopedDelta=0/],
    ['mopedDelta without MOPED', {numExamples: 10, initialize: 'fresh', mopedDelta: 0.1}, /expected mopedDelta to be given only with initialize 'moped'/],
    ['centerPrior', {numExamples: 10, centerPrior: 1}, /expected centerPrior to be a boolean. Received: centerPrior=1/],
    ['centerPrior without MOPED', {numExamples: 10, initialize: 'fresh', centerPrior: true}, /expected centerPrior to be true only with initialize 'moped'/],
    ['centerPrior with a prior', {numExamples: 10, centerPrior: true, prior: 'gaussian'}, /expected no prior with centerPrior .*Received: prior='gaussian'/],
    ['exclude not an array', {numExamples: 10, exclude: 'd'}, /expected exclude to be an array of layer names .*Received: exclude='d'/],
    ['exclude naming no layer', {numExamples: 10, exclude: ['d', 'nope']}, /expected exclude to be names or paths of layers of the model. Received: exclude=\['nope'\]/],
  ];
  it.each(cases)('rejects %s, naming the argument and the value', (_label, options, message) => {
    const m = net();
    const before = tf.memory().numTensors;
    expect(() => tfv.variationalize(m, options as tfv.VariationalizeOptions)).toThrow(message);
    expect(tf.memory().numTensors).toBe(before);
    m.dispose();
  });

  it('rejects a model that is not a LayersModel', () => {
    const layer = tfl.layers.dense({units: 1});
    expect(() => tfv.variationalize(layer as unknown as tfl.LayersModel, {numExamples: 10}))
        .toThrow(/variationalize: expected model to be a tfjs LayersModel/);
  });

  it('rejects a layer shared between two nested models', () => {
    const shared = tfl.layers.dense({units: 2, name: 'twice'});
    const x = tfl.input({shape: [2]});
    const m1 = tfl.model({inputs: x, outputs: shared.apply(x) as tfl.SymbolicTensor, name: 'm1'});
    const y = tfl.input({shape: [2]});
    const m2 = tfl.model({inputs: y, outputs: shared.apply(y) as tfl.SymbolicTensor, name: 'm2'});
    const z = tfl.input({shape: [2]});
    const outer = tfl.model({inputs: z, outputs: m2.apply(m1.apply(z)) as tfl.SymbolicTensor});
    expect(() => tfv.variationalize(outer, {numExamples: 10})).toThrow(/layer 'm2\/twice' is also 'm1\/twice'/);
    outer.dispose();
  });
});

describe.each(NODE_BACKENDS)('variationalize on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });

  it('MOPED: kernel_loc = kernel and bias_loc = bias exactly, σ = max(δ|w|, 2e-5) to float32 rounding', () => {
    const net = tfl.sequential({layers: [
      tfl.layers.dense({inputShape: [3], units: 4, name: 'd', activation: 'relu'}),
      tfl.layers.dense({units: 2, name: 'e'}),
    ]});
    // Weights across the range: zero and tiny ones (σ clamped at 2e-5), ordinary ones, and one so large that δ|w| > 20.
    const kernel = [0, 1e-7, -1e-4, 3e-4, 0.01, -0.3, 0.7, -1.5, 2, 5, -40, 300];
    setWeight(net.getLayer('d'), 'kernel', kernel);
    setWeight(net.getLayer('d'), 'bias', [0.5, -0.25, 0, 1e-3]);
    const delta = 0.1;
    const {model} = tfv.variationalize(net, {numExamples: 10, mopedDelta: delta, bayesianBias: true});
    for (const name of ['d', 'e']) {
      const orig = weightValues(net.getLayer(name));
      const copy = weightValues(model.getLayer(name));
      expect(copy['kernel_loc']).toEqual(orig['kernel']);
      expect(copy['bias_loc']).toEqual(orig['bias']);
      for (const [w, rho] of [[orig['kernel'], copy['kernel_untransformed_scale']], [orig['bias'], copy['bias_untransformed_scale']]]) {
        const want = w.map((v) => Math.max(delta * Math.abs(v), 2e-5));
        // float32: δ|w|, the subtraction of 1e-5, expm1 and log each round once (relative 6e-8);
        // σ's relative error is then at most about |ρ|·6e-8·4 ≤ 3e-6 for |ρ| ≤ 11.5.
        expectClose(rho.map(scale64), want, 3e-6, 0);
      }
    }
    expect(weightValues(model.getLayer('d'))['kl_weight']).toEqual([Math.fround(0.1)]);
    model.dispose();
    net.dispose();
  });

  it('MOPED: the copy in mean mode predicts what the original predicts (same topology, μ = w)', () => {
    for (const make of [sequentialNet, functionalNet, convNet]) {
      const net = make();
      const {model} = tfv.variationalize(net, {numExamples: 100, inferenceMode: 'mean'});
      const inputs = net.inputs.map((input, i) => {
        const shape = [6, ...input.shape.slice(1) as number[]];
        return tf.tensor(uniform(shape.reduce((a, b) => a * b), 40 + i, -2, 2), shape);
      });
      const want = [net.predict(inputs) as tf.Tensor|tf.Tensor[]].flat();
      const got = [model.predict(inputs) as tf.Tensor|tf.Tensor[]].flat();
      expect(got).toHaveLength(want.length);
      got.forEach((g, i) => expectClose(g, want[i], 1e-5, 1e-6));
      tf.dispose([inputs, want, got]);
      model.dispose();
      net.dispose();
    }
  });

  it('centerPrior: each prior is centred on the trained weights (saved, not trained), with the exact KL', async () => {
    const net = tfl.sequential({layers: [
      tfl.layers.dense({inputShape: [3], units: 4, name: 'd', activation: 'relu'}),
      tfl.layers.dense({units: 2, name: 'e', useBias: false}),
    ]});
    setWeight(net.getLayer('d'), 'bias', [0.5, -0.25, 0, 1e-3]);
    const n = 40;
    const s = 0.5;
    const {model} = tfv.variationalize(net, {numExamples: n, centerPrior: true, priorScale: s, bayesianBias: true, mopedDelta: 0.2});
    const orig = {d: weightValues(net.getLayer('d')), e: weightValues(net.getLayer('e'))};
    for (const name of ['d', 'e'] as const) {
      const layer = model.getLayer(name) as BayesianDense;
      expect(layer.prior).toBeInstanceOf(MopedPrior);
      expect(layer.prior.getConfig()).toEqual({scale: s});
      expect(weightValues(layer)['kernel_prior_loc']).toEqual(orig[name]['kernel']);
    }
    expect(weightValues(model.getLayer('d'))['bias_prior_loc']).toEqual(orig.d['bias']);
    expect(weightValues(model.getLayer('e'))['bias_prior_loc']).toBeUndefined();
    // KL(q ‖ p) with μ = m: Σ_i [log(s/σ_i) + σ_i²/(2s²) − ½], reported per example (÷ N) for each layer.
    const kl64 = (name: 'd'|'e') => {
      const w = weightValues(model.getLayer(name));
      const rhos = [...w['kernel_untransformed_scale'], ...(w['bias_untransformed_scale'] ?? [])];
      return rhos.map(scale64).reduce((acc, sigma) => acc + Math.log(s / sigma) + sigma * sigma / (2 * s * s) - 0.5, 0) / n;
    };
    model.compile({optimizer: tf.train.sgd(0.05), loss: 'meanSquaredError'});
    const x = tf.tensor2d(uniform(8 * 3, 31, -1, 1), [8, 3]);
    const y = tf.tensor2d(uniform(8 * 2, 32, -1, 1), [8, 2]);
    const {divergences} = await tfv.evaluateObjective(model, x, y);
    expectClose(divergences['d'], kl64('d'), 1e-4, 1e-6);
    expectClose(divergences['e'], kl64('e'), 1e-4, 1e-6);
    await model.fit(x, y, {epochs: 2, batchSize: 4, verbose: 0});
    expect(weightValues(model.getLayer('d'))['kernel_prior_loc']).toEqual(orig.d['kernel']);
    expect(weightValues(model.getLayer('d'))['kernel_loc']).not.toEqual(orig.d['kernel']);
    const loaded = await roundTripInMemory(model);
    expect((loaded.getLayer('d') as BayesianDense).prior).toBeInstanceOf(MopedPrior);
    expect(modelWeights(loaded)).toEqual(modelWeights(model));
    loaded.compile({optimizer: tf.train.sgd(0.05), loss: 'meanSquaredError'});
    const again = await tfv.evaluateObjective(loaded, x, y);
    const now = await tfv.evaluateObjective(model, x, y);
    expect(again.divergences).toEqual(now.divergences);
    tf.dispose([x, y]);
    loaded.dispose();
    model.dispose();
    net.dispose();
  });

  it('MopedPrior: the bound divergence and its gradients in μ and σ match the float64 closed form', () => {
    const n = 6;
    const s = 0.7;
    const m = uniform(n, 61, -2, 2);
    const mu = uniform(n, 62, -2, 2);
    const sigma = uniform(n, 63, 0.05, 1.5);
    const variables: tfl.LayerVariable[] = [];
    const bound = new MopedPrior({scale: s}).bind({
      name: 'kernel', shape: [n], fanIn: n,
      addWeight: (name, shape, initializer, trainable) => {
        const v = new tfl.LayerVariable(initializer.apply(shape), 'float32', name, trainable);
        variables.push(v);
        return v;
      },
    });
    expect(variables.map((v) => [v.originalName, v.trainable, v.shape])).toEqual([['prior_loc', false, [n]]]);
    const centre = tf.tensor1d(m);
    variables[0].write(centre);
    // Float64 reference: Σ_i log(s/σ_i) + (σ_i² + (μ_i − m_i)²)/(2s²) − ½.
    const kl64 = (mu: number[], sigma: number[]) =>
      mu.reduce((acc, u, i) => acc + Math.log(s / sigma[i]) + (sigma[i] ** 2 + (u - m[i]) ** 2) / (2 * s * s) - 0.5, 0);
    const loc = tf.tensor1d(mu);
    const scale = tf.tensor1d(sigma);
    const noise = {eps: null, draw: () => { throw new Error('no noise needed for a closed form'); }};
    const f = (l: tf.Tensor, sc: tf.Tensor) => bound.divergence(l, sc, noise);
    const value = f(loc, scale);
    expectClose(value, kl64(mu, sigma), 1e-5, 1e-6);
    const [gLoc, gScale] = tf.grads(f)([loc, scale]);
    const fd = (which: number[], i: number) => centralDifference(() => kl64(mu, sigma), () => which[i], (v) => { which[i] = v; });
    expectClose(gLoc, mu.map((_, i) => fd(mu, i)), 1e-4, 1e-5);
    expectClose(gScale, sigma.map((_, i) => fd(sigma, i)), 1e-4, 1e-5);
    tf.dispose([centre, loc, scale, value, gLoc, gScale]);
    variables.forEach((v) => v.dispose());
  });

  it('fresh initialisation: posterior means are not the trained weights; seeded conversions repeat', () => {
    const net = sequentialNet();
    const a = tfv.variationalize(net, {numExamples: 100, initialize: 'fresh', seed: 3});
    const b = tfv.variationalize(net, {numExamples: 100, initialize: 'fresh', seed: 3});
    const c = tfv.variationalize(net, {numExamples: 100, initialize: 'fresh', seed: 4});
    const kernel = weightValues(net.getLayer('hidden'))['kernel'];
    const loc = (r: {model: tfl.LayersModel}) => weightValues(r.model.getLayer('hidden'))['kernel_loc'];
    expect(loc(a)).not.toEqual(kernel);
    expect(weightValues(a.model.getLayer('hidden'))['bias_loc']).toEqual([0, 0, 0, 0, 0]);
    expect(modelWeights(a.model)).toEqual(modelWeights(b.model));
    expect(loc(c)).not.toEqual(loc(a));
    // The layers that are not converted are copies in both modes.
    expect(weightValues(a.model.getLayer('norm'))).toEqual(weightValues(net.getLayer('norm')));
    for (const r of [a, b, c]) r.model.dispose();
    net.dispose();
  });

  it('trains with model.fit (the loss falls), without leaking tensors, and leaves the original untouched', async () => {
    const net = tfl.sequential({layers: [
      tfl.layers.dense({inputShape: [6], units: 8, activation: 'relu', name: 'enc'}),
      tfl.layers.dense({units: 6, name: 'dec'}),
    ]});
    const before = modelWeights(net);
    const {model} = tfv.variationalize(net, {numExamples: 100, seed: 5, estimator: 'flipout'});
    expect(modelWeights(net)).toEqual(before);
    model.compile({optimizer: tf.train.adam(0.02), loss: tfv.losses.bernoulliNLL({fromLogits: true})});
    const x = binaryData(100, 6);
    const shape = await expectFlatTensorCount(model, x);
    expect(shape).toEqual([100, 6]);
    // Training the copy changed its weights, not the original's (they started out sharing values).
    expect(modelWeights(net)).toEqual(before);
    expect(weightValues(model.getLayer('enc'))['kernel_loc']).not.toEqual(before['enc/kernel']);
    x.dispose();
    model.dispose();
    net.dispose();
  });

  it('trains a converted convolutional model with model.fit (the loss falls)', async () => {
    const net = convNet();
    const {model} = tfv.variationalize(net, {numExamples: 32, seed: 8, estimator: 'flipout'});
    model.compile({optimizer: tf.train.adam(0.02), loss: 'meanSquaredError'});
    const x = tf.tensor4d(uniform(32 * 6 * 6 * 2, 51, -1, 1), [32, 6, 6, 2]);
    const y = tf.tensor2d(uniform(32 * 2, 52, -1, 1), [32, 2]);
    const history = await model.fit(x, y, {epochs: 5, batchSize: 8, verbose: 0});
    const losses = history.history['loss'] as number[];
    expect(losses[4]).toBeLessThan(losses[0]);
    tf.dispose([x, y]);
    model.dispose();
    net.dispose();
  });

  it('conversion allocates only the copy\'s weights', () => {
    // (A model with a layer applied twice is not used here: tfjs's own model.dispose keeps such a layer's weights.)
    const net = sequentialNet();
    const start = tf.memory().numTensors;
    const {model} = tfv.variationalize(net, {numExamples: 100, bayesianBias: true});
    expect(tf.memory().numTensors - start).toBe(model.weights.length);
    model.dispose();
    expect(tf.memory().numTensors).toBe(start);
    net.dispose();
  });

  it('acceptance: trained at a fixed seed, saved and loaded (memory and file://), it predicts identically at the same seed', async () => {
    const net = functionalNet();
    const {model} = tfv.variationalize(net, {numExamples: 64, seed: 11, bayesianBias: true});
    model.compile({optimizer: tf.train.adam(0.01), loss: ['meanSquaredError', 'meanSquaredError']});
    const xa = tf.tensor2d(uniform(64 * 3, 21, -1, 1), [64, 3]);
    const xb = tf.tensor2d(uniform(64 * 3, 22, -1, 1), [64, 3]);
    const y1 = tf.tensor2d(uniform(64 * 2, 23, -1, 1), [64, 2]);
    const y2 = tf.tensor2d(uniform(64, 24, -1, 1), [64, 1]);
    const history = await model.fit([xa, xb], [y1, y2], {epochs: 3, batchSize: 16, verbose: 0});
    const losses = history.history['loss'] as number[];
    expect(losses[2]).toBeLessThan(losses[0]);

    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tfv-variationalize-'));
    try {
      await model.save(`file://${dir}`);
      const fromFile = await tfl.loadLayersModel(`file://${path.join(dir, 'model.json')}`);
      const fromMemory = await roundTripInMemory(model);
      for (const loaded of [fromMemory, fromFile]) {
        expect(loaded.layers.map((l) => l.getClassName())).toEqual(model.layers.map((l) => l.getClassName()));
        expect(modelWeights(loaded)).toEqual(modelWeights(model));
        expect(loaded.getLayer('shared').inboundNodes).toHaveLength(2);
        for (const mode of ['sample', 'mean'] as const) {
          setInferenceMode(model, mode);
          setInferenceMode(loaded, mode);
          resetSeeds(model);
          resetSeeds(loaded);
          for (let draw = 0; draw < 2; draw++) {
            const want = model.predict([xa, xb]) as tf.Tensor[];
            const got = loaded.predict([xa, xb]) as tf.Tensor[];
            got.forEach((g, i) => expect(Array.from(g.dataSync())).toEqual(Array.from(want[i].dataSync())));
            tf.dispose([want, got]);
          }
        }
        // Sampling draws differ from the mean (the posterior is not degenerate).
        setInferenceMode(loaded, 'sample');
        const s = loaded.predict([xa, xb]) as tf.Tensor[];
        setInferenceMode(loaded, 'mean');
        const m = loaded.predict([xa, xb]) as tf.Tensor[];
        expect(Array.from(s[0].dataSync())).not.toEqual(Array.from(m[0].dataSync()));
        tf.dispose([s, m]);
        loaded.dispose();
      }
    } finally {
      fs.rmSync(dir, {recursive: true, force: true});
    }
    tf.dispose([xa, xb, y1, y2]);
    model.dispose();
    net.dispose();
  });
});
