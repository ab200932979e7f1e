/**
 * Scheduled scalars (src/callbacks/scheduled_scalar.ts): the one mechanism
 * behind `klAnnealing` (tested with its layers in kl_divergence.test.ts),
 * `temperatureAnnealing` and `scheduledScalar` — values per epoch and per
 * batch, the logs, explicit targets, and bad arguments. Deterministic (no
 * statistical assertion): the schedules are plain functions and Math.random
 * is reseeded before each test.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

import * as tfv from '../src';
import {exponentialTemperatureSchedule} from '../src/callbacks/temperature_annealing';
import {GumbelSoftmax} from '../src/layers/gumbel_softmax';
import {expectClose, useBackend} from './helpers/backends';
import {useSeededMathRandom} from './helpers/random';

useSeededMathRandom(0xca11);

/** Logits [batch, 2, 3] → Dense → two GumbelSoftmax layers → their sum, MSE against zeros; plain SGD with rate 0 (nothing learns). */
function twoLatentModel(): {model: tfl.LayersModel, a: GumbelSoftmax, b: GumbelSoftmax} {
  const x = tfl.input({shape: [2, 3]});
  const h = tfl.layers.dense({units: 3, kernelInitializer: 'identity'}).apply(x) as tfl.SymbolicTensor;
  const a = tfv.layers.gumbelSoftmax({seed: 1, name: 'a'});
  const b = tfv.layers.gumbelSoftmax({seed: 2, temperature: 2, name: 'b'});
  const out = tfl.layers.add().apply([a.apply(h), b.apply(h)]) as tfl.SymbolicTensor;
  const model = tfl.model({inputs: x, outputs: out});
  model.compile({optimizer: tf.train.sgd(0), loss: 'meanSquaredError'});
  return {model, a, b};
}

/** A layer with one settable number, recording every value set. */
class Scaled extends tfl.layers.Layer {
  static className = 'Scaled';
  readonly set: number[] = [];
  setDropRate(rate: number): void {
    this.set.push(rate);
  }
  override call(inputs: tf.Tensor|tf.Tensor[]): tf.Tensor {
    return tf.clone(Array.isArray(inputs) ? inputs[0] : inputs);
  }
}

describe('scheduled scalars', () => {
  beforeAll(async () => useBackend('cpu'));
  const x = () => tf.zeros([8, 2, 3]);
  const y = () => tf.zeros([8, 2, 3]);

  it("Jang et al.'s schedule: max(τ_min, τ₀·e^{−r·N⌊t/N⌋}), defaults τ₀ = 1, r = 1e-5, τ_min = 0.5, every 500 batches", () => {
    const s = exponentialTemperatureSchedule(1, 1e-5, 0.5, 500);
    expect([0, 499, 500, 999, 1000].map(s)).toEqual([1, 1, Math.exp(-5e-3), Math.exp(-5e-3), Math.exp(-1e-2)]);
    expect(s(1e6)).toBe(0.5);  // e^{−10} < 0.5
    const c = tfv.callbacks.temperatureAnnealing();
    expect([c.unit, c.setter, c.logName]).toEqual(['batch', 'setTemperature', 'temperature']);
    expect(tfv.callbacks.temperatureAnnealing({unit: 'epoch'}).unit).toBe('epoch');
  });

  it('temperatureAnnealing per batch across epochs: every layer with setTemperature, the epoch logs, a new fit restarts', async () => {
    const {model, a, b} = twoLatentModel();
    const seen: number[][] = [];
    const cb = tfv.callbacks.temperatureAnnealing({initialTemperature: 2, rate: 0.1, minTemperature: 0.3, every: 3});
    const hist = await model.fit(x(), y(), {
      epochs: 3, batchSize: 2, verbose: 0,
      callbacks: [cb, new tfl.CustomCallback({onBatchEnd: async () => { seen.push([a.getTemperature(), b.getTemperature()]); }})],
    });
    const expected = Array.from({length: 12}, (_, t) => Math.max(0.3, 2 * Math.exp(-0.1 * 3 * Math.floor(t / 3))));
    expectClose(seen.map((r) => r[0]), expected, 1e-6, 0);
    expectClose(seen.map((r) => r[1]), expected, 1e-6, 0);
    expect(hist.history['temperature']).toEqual([expected[3], expected[7], expected[11]]);
    expect(cb.value).toBe(expected[11]);
    const again = await model.fit(x(), y(), {epochs: 1, batchSize: 8, verbose: 0, callbacks: [cb]});
    expect(again.history['temperature']).toEqual([2]);
    expect(a.getTemperature()).toBe(2);
  });

  it('per epoch with a custom schedule, only the layers given; klAnnealing alongside sets β of the same layers', async () => {
    const {model, a, b} = twoLatentModel();
    const hist = await model.fit(x(), y(), {
      epochs: 4, batchSize: 4, verbose: 0,
      callbacks: [tfv.callbacks.temperatureAnnealing({schedule: (e) => 1 / (e + 1), unit: 'epoch', layers: [a]}),
        tfv.callbacks.klAnnealing({schedule: (e) => e / 4})],
    });
    expect(hist.history['temperature']).toEqual([1, 0.5, 1 / 3, 0.25]);
    expect(hist.history['kl_weight']).toEqual([0, 0.25, 0.5, 0.75]);
    expect(a.getTemperature()).toBe(0.25);
    expect(b.getTemperature()).toBe(2);
    expect([a.getKLWeight(), b.getKLWeight()]).toEqual([0.75, 0.75]);
  });

  it('scheduledScalar sets any setter of a custom layer (nested models searched) and logs under its name', async () => {
    const scaled = new Scaled({name: 'scaled'});
    const inner = tfl.sequential({layers: [tfl.layers.dense({inputShape: [2], units: 2}), scaled]});
    const input = tfl.input({shape: [2]});
    const model = tfl.model({inputs: input, outputs: inner.apply(input) as tfl.SymbolicTensor});
    model.compile({optimizer: tf.train.sgd(0), loss: 'meanSquaredError'});
    const hist = await model.fit(tf.zeros([6, 2]), tf.zeros([6, 2]), {
      epochs: 2, batchSize: 2, verbose: 0,
      callbacks: [tfv.callbacks.scheduledScalar({setter: 'setDropRate', logName: 'drop_rate', unit: 'batch',
        schedule: (t) => Math.max(0.1, 0.5 - 0.1 * t)})],
    });
    // Set only when the value changes: steps 4 and 5 repeat 0.1.
    expectClose(scaled.set, [0.5, 0.4, 0.3, 0.2, 0.1], 1e-12, 0);
    expectClose(hist.history['drop_rate'] as number[], [0.3, 0.1], 1e-12, 0);
  });

  it('errors name the callback, the argument and the value', async () => {
    expect(() => tfv.callbacks.temperatureAnnealing({schedule: () => 1, rate: 1e-4})).toThrow(/either schedule or .*Received: schedule and rate/);
    expect(() => tfv.callbacks.temperatureAnnealing({minTemperature: 0})).toThrow(/minTemperature to be a positive number/);
    expect(() => tfv.callbacks.temperatureAnnealing({rate: -1})).toThrow(/rate to be a non-negative number/);
    expect(() => tfv.callbacks.temperatureAnnealing({every: 1.5})).toThrow(/every to be a positive integer/);
    expect(() => tfv.callbacks.temperatureAnnealing({unit: 'step' as 'batch'})).toThrow(/temperatureAnnealing: expected unit/);
    expect(() => tfv.callbacks.temperatureAnnealing({rat: 1} as never)).toThrow(/unknown option 'rat'/);
    expect(() => tfv.callbacks.temperatureAnnealing({layers: [{}] as never})).toThrow(/layers\[0\]/);
    expect(() => tfv.callbacks.klAnnealing({schedule: () => 1, units: 'batch'} as never)).toThrow(/klAnnealing: unknown option 'units'/);
    expect(() => tfv.callbacks.scheduledScalar({schedule: () => 1, setter: '', logName: 'x'})).toThrow(/setter to be a non-empty string/);
    expect(() => tfv.callbacks.scheduledScalar({schedule: 1 as never, setter: 's', logName: 'x'})).toThrow(/scheduledScalar: expected schedule/);

    const {model} = twoLatentModel();
    const fit = (cb: tfl.Callback) => model.fit(tf.zeros([2, 2, 3]), tf.zeros([2, 2, 3]), {epochs: 1, verbose: 0, callbacks: [cb]});
    await expect(fit(tfv.callbacks.temperatureAnnealing({schedule: () => NaN}))).rejects.toThrow(/schedule\(0\) to return a finite number/);
    await expect(fit(tfv.callbacks.temperatureAnnealing({schedule: () => 0}))).rejects.toThrow(/setTemperature: expected temperature to be a positive/);
    const plain = tfl.sequential({layers: [tfl.layers.dense({inputShape: [1], units: 1})]});
    plain.compile({optimizer: 'sgd', loss: 'meanSquaredError'});
    await expect(plain.fit(tf.zeros([2, 1]), tf.zeros([2, 1]), {epochs: 1, verbose: 0, callbacks: [tfv.callbacks.temperatureAnnealing()]}))
        .rejects.toThrow(/temperatureAnnealing: the model '.*' has no layer with a temperature \(setTemperature\) to anneal/);
    await expect(plain.fit(tf.zeros([2, 1]), tf.zeros([2, 1]), {epochs: 1, verbose: 0, callbacks: [tfv.callbacks.klAnnealing({schedule: () => 1})]}))
        .rejects.toThrow(/klAnnealing: the model '.*' has no layer with a divergence multiplier \(setKLWeight\) to anneal/);
  });
});
