/**
 * tfv.callbacks.terminateOnNaN: one NaN pixel in the data stops fit at the
 * batch that holds it, and says where (without it, training goes on and every
 * weight turns NaN silently). Seeded: fixed initializers, no shuffling.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

import * as tfv from '../src';
import {NODE_BACKENDS, useBackend} from './helpers/backends';
import {binaryData, buildVae} from './helpers/vae';
import {useSeededMathRandom} from './helpers/random';

// Unseeded initializers and fit's shuffling draw from Math.random: reseeded before each test.
useSeededMathRandom(0x7a1);

/** 40 binary images of 20 pixels, one pixel of image `at` NaN. */
function dataWithNaN(at: number): tf.Tensor2D {
  const x = binaryData(40, 20, 21);
  const values = x.dataSync().slice();
  x.dispose();
  values[at * 20 + 7] = NaN;
  return tf.tensor2d(values, [40, 20]);
}

function anyNaNWeight(model: tfl.LayersModel): boolean {
  return model.getWeights().some((w) => w.dataSync().some((v) => Number.isNaN(v)));
}

describe.each(NODE_BACKENDS)('terminateOnNaN on %s', (backend) => {
  beforeAll(async () => useBackend(backend));

  it('without it, one NaN pixel turns the loss and the weights NaN and fit runs on', async () => {
    const vae = buildVae({inputDim: 20, hidden: 8, latent: 2, seed: 4});
    vae.compile({optimizer: tf.train.adam(1e-3), loss: tfv.losses.bernoulliNLL({fromLogits: true})});
    const x = dataWithNaN(25);
    const h = await vae.fit(x, x, {epochs: 2, batchSize: 10, shuffle: false, verbose: 0});
    expect(h.epoch).toEqual([0, 1]);
    expect(Number.isNaN(h.history['loss'][1] as number)).toBe(true);
    expect(anyNaNWeight(vae)).toBe(true);
    x.dispose();
  });

  it('stops fit at the batch holding the NaN pixel, warns with epoch and batch, and records where', async () => {
    const vae = buildVae({inputDim: 20, hidden: 8, latent: 2, seed: 4});
    vae.compile({optimizer: tf.train.adam(1e-3), loss: tfv.losses.bernoulliNLL({fromLogits: true})});
    const x = dataWithNaN(25);  // image 25: batch 2 of batches of 10
    const guard = tfv.callbacks.terminateOnNaN();
    const batches: number[] = [];
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    try {
      const h = await vae.fit(x, x, {
        epochs: 3, batchSize: 10, shuffle: false, verbose: 0,
        callbacks: [guard, new tfl.CustomCallback({onBatchEnd: async (batch) => { batches.push(batch); }})],
      });
      expect(h.epoch).toEqual([0]);
      expect(batches).toEqual([0, 1, 2]);
      expect(guard.stoppedAt).toEqual({epoch: 0, batch: 2, loss: NaN});
      expect(warn).toHaveBeenCalledWith('terminateOnNaN: the loss of epoch 0, batch 2 is NaN; training stopped.');
    } finally {
      warn.mockRestore();
    }
    x.dispose();
  });

  it("action 'throw' makes fit reject with the same message; a clean run leaves stoppedAt null", async () => {
    const vae = buildVae({inputDim: 20, hidden: 8, latent: 2, seed: 4});
    vae.compile({optimizer: tf.train.adam(1e-3), loss: tfv.losses.bernoulliNLL({fromLogits: true})});
    const x = dataWithNaN(3);
    await expect(vae.fit(x, x, {epochs: 1, batchSize: 10, shuffle: false, verbose: 0,
                                callbacks: [tfv.callbacks.terminateOnNaN({action: 'throw'})]}))
        .rejects.toThrow('terminateOnNaN: the loss of epoch 0, batch 0 is NaN; training stopped.');
    const clean = binaryData(20, 20, 22);
    const guard = tfv.callbacks.terminateOnNaN();
    const fresh = buildVae({inputDim: 20, hidden: 8, latent: 2, seed: 4});
    fresh.compile({optimizer: 'adam', loss: tfv.losses.bernoulliNLL({fromLogits: true})});
    const h = await fresh.fit(clean, clean, {epochs: 2, batchSize: 10, verbose: 0, callbacks: [guard]});
    expect(h.epoch).toEqual([0, 1]);
    expect(guard.stoppedAt).toBeNull();
    tf.dispose([x, clean]);
  });

  it('rejects bad options naming them', () => {
    expect(() => tfv.callbacks.terminateOnNaN({action: 'halt' as 'stop'}))
        .toThrow("terminateOnNaN: expected action to be one of 'stop', 'throw'. Received: action=halt");
    expect(() => tfv.callbacks.terminateOnNaN({acton: 'stop'} as unknown as {action: 'stop'}))
        .toThrow("terminateOnNaN: unknown option 'acton'. Known options: action");
  });
});
