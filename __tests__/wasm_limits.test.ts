/**
 * What tfjs 4.22's own wasm backend cannot do, and what this library adds:
 * tfjs ships no `Conv2DBackpropFilter` kernel for wasm, so with tfjs's kernels
 * alone a convolutional layer runs forward (inference) but cannot train
 * there. Importing tfjs-variational registers ours (src/perf/conv_kernels.ts)
 * with the other fast wasm kernels; `disableFastWasmKernels()` removes it
 * again, and the model fails to train as with tfjs alone. If a tfjs release
 * adds the kernel, the first test fails and the docs must change with it.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

import '../src';
import {disableFastWasmKernels, enableFastWasmKernels} from '../src/perf';
import {useBackend} from './helpers/backends';

function convModel(): tfl.Sequential {
  const model = tfl.sequential({
    layers: [
      tfl.layers.conv2d({inputShape: [8, 8, 1], filters: 4, kernelSize: 3, activation: 'relu', kernelInitializer: tfl.initializers.glorotUniform({seed: 1})}),
      tfl.layers.flatten(),
      tfl.layers.dense({units: 2, kernelInitializer: tfl.initializers.glorotUniform({seed: 2})}),
    ],
  });
  model.compile({optimizer: 'sgd', loss: 'meanSquaredError'});
  return model;
}

afterAll(async () => {
  enableFastWasmKernels();
  await useBackend('cpu');
});

it('without our kernels the wasm backend has no Conv2DBackpropFilter kernel; with them it has one', async () => {
  await useBackend('wasm');
  disableFastWasmKernels();
  expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeUndefined();
  expect(tf.getKernel('Conv2DBackpropFilter', 'cpu')).toBeDefined();
  // the other convolution kernels exist on wasm
  expect(tf.getKernel('Conv2D', 'wasm')).toBeDefined();
  expect(tf.getKernel('Conv2DBackpropInput', 'wasm')).toBeDefined();
  enableFastWasmKernels();
  expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeDefined();
});

it('with tfjs\'s kernels alone a convolutional model predicts on wasm but fails to train, naming the missing kernel', async () => {
  await useBackend('wasm');
  disableFastWasmKernels();
  const model = convModel();
  const x = tf.ones([3, 8, 8, 1]);
  const y = tf.zeros([3, 2]);
  const prediction = model.predict(x) as tf.Tensor;
  expect(prediction.shape).toEqual([3, 2]);
  expect(Array.from(prediction.dataSync()).every(Number.isFinite)).toBe(true);
  await expect(model.fit(x, y, {epochs: 1, verbose: 0})).rejects.toThrow(/Conv2DBackpropFilter.*wasm/);
  enableFastWasmKernels();
  model.dispose();
  tf.dispose([x, y, prediction]);
});

it('with our kernels the same model trains on wasm, with the losses of the cpu backend', async () => {
  const losses: Record<string, number[]> = {};
  for (const backend of ['cpu', 'wasm']) {
    await useBackend(backend);
    const model = convModel();
    const x = tf.ones([3, 8, 8, 1]);
    const y = tf.zeros([3, 2]);
    const history = await model.fit(x, y, {epochs: 3, verbose: 0});
    losses[backend] = history.history.loss as number[];
    model.dispose();
    tf.dispose([x, y]);
  }
  expect(losses.wasm.every(Number.isFinite)).toBe(true);
  expect(losses.wasm[2]).toBeLessThan(losses.wasm[0]);
  losses.wasm.forEach((v, i) => expect(Math.abs(v - losses.cpu[i])).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(losses.cpu[i]))));
});
