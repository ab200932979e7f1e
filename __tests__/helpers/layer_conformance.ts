/**
 * A conformance harness for the Bayesian layers (Keras's `run_layer_test` in
 * spirit): given a factory and inputs, it declares the checks every such
 * layer must pass, on each Node backend:
 *
 * - **config round trip**: `fromConfig(getConfig())` has the same config (as
 *   JSON, so the config is plain data);
 * - **tf.io round trip** of a trained model containing the layer: the same
 *   weights, the same outputs at `inferenceMode: 'mean'`, and the same seeded
 *   draws at `'sample'` after `resetSeed`;
 * - **model.fit** lowers the loss (seeded: initialisers, noise, no shuffle);
 * - **no tensor leak** across fit steps, predicts and evaluates
 *   (`tf.memory().numTensors` flat);
 * - **unknown options** are rejected, naming the option; one loss closure per layer.
 *
 * Every draw is seeded (the layer's `seed`, the initialisers' seeds passed by
 * the case, and the caller's `useSeededMathRandom`), so each outcome is fixed
 * on a backend.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

import type {InferenceMode} from '../../src/layers/inference_mode';
import {expectClose, NODE_BACKENDS, useBackend} from './backends';
import {roundTripInMemory} from './io';

/** What the harness needs of a Bayesian layer. */
export type BayesianLayer = tfl.layers.Layer & {inferenceMode: InferenceMode, resetSeed(): void};

/** A layer class as tfjs's registry holds it. */
type LayerClass = tf.serialization.SerializableConstructor<tfl.layers.Layer>;

export interface ConformanceCase {
  /** The case's title (e.g. `'flipout, scaleMixture prior'`). */
  title: string;
  /** Makes a fresh layer from the case's arguments plus `extra` (seed, name, inferenceMode, inputShape, …). */
  make: (extra: Record<string, unknown>) => BayesianLayer;
  /** The layer's class (for `fromConfig`). */
  cls: LayerClass;
  /** Input shape without the batch axis. */
  inputShape: number[];
  /** Inputs `[batch, ...inputShape]` (a new tensor per call). */
  x: () => tf.Tensor;
  /** Targets of the fit check for `x()`: the shape of the layer's output. */
  y: () => tf.Tensor;
  /** Epochs of the fit check (default 30) and the required ratio of the last 5 epochs' mean loss to the first (default 0.7). */
  epochs?: number;
  lossRatio?: number;
}

function singleLayerModel(layer: tfl.layers.Layer, inputShape: number[]): tfl.LayersModel {
  const input = tfl.input({shape: inputShape});
  return tfl.model({inputs: input, outputs: layer.apply(input) as tfl.SymbolicTensor});
}

async function fitQuietly(model: tfl.LayersModel, x: tf.Tensor, y: tf.Tensor, epochs: number, batchSize: number) {
  return model.fit(x, y, {epochs, batchSize, verbose: 0, shuffle: false});
}

/** Declares the conformance tests of `cases` (call inside a test file, at the top level). */
export function describeLayerConformance(name: string, cases: ConformanceCase[]): void {
  describe(`${name} conformance: configuration`, () => {
    beforeAll(async () => useBackend('cpu'));

    it.each(cases.map((c) => [c.title, c] as const))('%s: fromConfig(getConfig()) has the same config, as plain JSON', (_t, c) => {
      for (const extra of [{}, {seed: 7, inferenceMode: 'mean', name: 'conformance_layer'}]) {
        const layer = c.make(extra);
        expect(layer.losses).toHaveLength(1);  // one loss closure, registered once (not per call)
        const config = layer.getConfig();
        const json = JSON.parse(JSON.stringify(config));
        expect(json).toEqual(config);
        const copy = c.cls.fromConfig(c.cls, json) as tfl.layers.Layer;
        expect(copy).toBeInstanceOf(c.cls);
        expect(copy.getConfig()).toEqual(config);
      }
    });

    it.each(cases.map((c) => [c.title, c] as const))('%s: rejects an unknown option, naming it', (_t, c) => {
      expect(() => c.make({estimater: 'flipout'})).toThrow(/unknown option 'estimater'. Known options: .*estimator/);
    });
  });

  describe.each(NODE_BACKENDS)(`${name} conformance on %s`, (backend) => {
    beforeAll(async () => useBackend(backend));

    it.each(cases.map((c) => [c.title, c] as const))(
        '%s: a trained model round-trips through tf.io (weights, mean outputs, seeded draws)', async (_t, c) => {
          const layer = c.make({seed: 11, name: 'conformance_layer', inferenceMode: 'mean'});
          const model = singleLayerModel(layer, c.inputShape);
          model.compile({optimizer: tf.train.adam(0.01), loss: 'meanSquaredError'});
          const x = c.x();
          const y = c.y();
          await fitQuietly(model, x, y, 2, 4);
          const loaded = await roundTripInMemory(model);
          const again = loaded.getLayer('conformance_layer') as BayesianLayer;
          expect(again).toBeInstanceOf(c.cls);
          expect(again.getConfig()).toEqual(layer.getConfig());
          const wa = model.getWeights();
          const wb = loaded.getWeights();
          expect(wb.map((w) => w.shape)).toEqual(wa.map((w) => w.shape));
          wa.forEach((w, i) => expectClose(wb[i], w, 0, 0));
          // Posterior mean: deterministic, so equal outputs.
          const meanA = model.predict(x) as tf.Tensor;
          const meanB = loaded.predict(x) as tf.Tensor;
          expectClose(meanB, meanA, 0, 0);
          // Sampling from the same seed position: the same draws, and a second draw differs.
          layer.inferenceMode = 'sample';
          again.inferenceMode = 'sample';
          layer.resetSeed();
          again.resetSeed();
          const sA = model.predict(x) as tf.Tensor;
          const sB = loaded.predict(x) as tf.Tensor;
          expectClose(sB, sA, 0, 0);
          expect(Array.from(sA.dataSync())).not.toEqual(Array.from(meanA.dataSync()));
          tf.dispose([x, y, meanA, meanB, sA, sB]);
          model.dispose();
          loaded.dispose();
        });

    it.each(cases.map((c) => [c.title, c] as const))('%s: model.fit lowers the loss', async (_t, c) => {
      const model = singleLayerModel(c.make({seed: 3}), c.inputShape);
      model.compile({optimizer: tf.train.adam(0.05), loss: 'meanSquaredError'});
      const x = c.x();
      const y = c.y();
      // Seeded (layer seed, the case's initialiser seeds, no shuffling): the curve is fixed on a backend.
      const h = await fitQuietly(model, x, y, c.epochs ?? 30, 4);
      const loss = h.history['loss'] as number[];
      expect(loss.every(Number.isFinite)).toBe(true);
      const tail = loss.slice(-5).reduce((s, v) => s + v, 0) / 5;
      expect(tail).toBeLessThan((c.lossRatio ?? 0.7) * loss[0]);
      tf.dispose([x, y]);
      model.dispose();
    });

    it.each(cases.map((c) => [c.title, c] as const))(
        '%s: no tensor leak across fit steps, predicts and evaluates', async (_t, c) => {
          const model = singleLayerModel(c.make({seed: 5}), c.inputShape);
          model.compile({optimizer: tf.train.adam(0.01), loss: 'meanSquaredError'});
          const x = c.x();
          const y = c.y();
          // A warm-up epoch creates the optimizer's slots; then the count is the same after every step
          // (within one epoch: tfjs-layers itself keeps one tensor per finished epoch on wasm).
          await fitQuietly(model, x, y, 1, 4);
          const counts: number[] = [];
          await model.fit(x, y, {epochs: 1, batchSize: 1, verbose: 0, shuffle: false,
            callbacks: {onBatchEnd: async () => { counts.push(tf.memory().numTensors); }}});
          expect(counts.length).toBe(x.shape[0]);
          expect(new Set(counts).size).toBe(1);
          const before = tf.memory().numTensors;
          for (let i = 0; i < 5; i++) {
            tf.dispose(model.predict(x) as tf.Tensor);
            tf.dispose(model.evaluate(x, y, {batchSize: 4}) as tf.Scalar);
          }
          expect(tf.memory().numTensors).toBe(before);
          tf.dispose([x, y]);
          model.dispose();
        });
  });
}
