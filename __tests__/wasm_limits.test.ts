/**
 * What the wasm backend of tfjs 4.22 cannot do, as README.md and
 * docs/performance.md tell users: it has no `Conv2DBackpropFilter` kernel, so
 * a convolutional layer runs forward (inference) but cannot train there,
 * while the cpu backend trains the same model. If a tfjs release adds the
 * kernel, these tests fail and the docs must change with them.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

import '../src';
import {useBackend} from './helpers/backends';

function convModel(): tfl.Sequential {
  const model = tfl.sequential({
    layers: [
      tfl.layers.conv2d({inputShape: [8, 8, 1], filters: 4, kernelSize: 3, activation: 'relu'}),
      tfl.layers.flatten(),
      tfl.layers.dense({units: 2}),
    ],
  });
  model.compile({optimizer: 'sgd', loss: 'meanSquaredError'});
  return model;
}

afterAll(async () => useBackend('cpu'));

it('the wasm backend has no Conv2DBackpropFilter kernel; cpu has one', () => {
  expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeUndefined();
  expect(tf.getKernel('Conv2DBackpropFilter', 'cpu')).toBeDefined();
  // the other convolution kernels exist on wasm
  expect(tf.getKernel('Conv2D', 'wasm')).toBeDefined();
  expect(tf.getKernel('Conv2DBackpropInput', 'wasm')).toBeDefined();
});

it('a convolutional model predicts on wasm but fails to train there, naming the missing kernel', async () => {
  await useBackend('wasm');
  const model = convModel();
  const x = tf.ones([3, 8, 8, 1]);
  const y = tf.zeros([3, 2]);
  const prediction = model.predict(x) as tf.Tensor;
  expect(prediction.shape).toEqual([3, 2]);
  expect(Array.from(prediction.dataSync()).every(Number.isFinite)).toBe(true);
  await expect(model.fit(x, y, {epochs: 1, verbose: 0})).rejects.toThrow(/Conv2DBackpropFilter.*wasm/);
  model.dispose();
  tf.dispose([x, y, prediction]);
});

it('the same model trains on cpu', async () => {
  await useBackend('cpu');
  const model = convModel();
  const x = tf.ones([3, 8, 8, 1]);
  const y = tf.zeros([3, 2]);
  const history = await model.fit(x, y, {epochs: 2, verbose: 0});
  expect(history.history.loss.every((v) => Number.isFinite(v as number))).toBe(true);
  model.dispose();
  tf.dispose([x, y]);
});
