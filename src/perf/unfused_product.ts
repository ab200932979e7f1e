/**
 * `_FusedMatMul` computed as the cpu backend does: `BatchMatMul`, then `Add`
 * and the activation's kernel (see `wasm_products.ts`).
 */
import * as tf from '@tensorflow/tfjs-core';

import {stats} from './kernel_stats';
import type {Product} from './kernel_validation';
import {BACKEND, KernelParams, WasmBackend} from './wasm_backend';

/** Whether `shape`, without its leading 1s, is the end of `of` (so that it repeats over the flat `of`). */
function isTrailingShape(shape: number[], of: number[]): boolean {
  let start = 0;
  while (start < shape.length && shape[start] === 1) start++;
  const rest = shape.slice(start);
  return rest.length <= of.length && tf.util.arraysEqual(rest, of.slice(of.length - rest.length));
}

/** `_FusedMatMul` as `BatchMatMul`, then `Add` and the activation kernel (used for batched right operands). */
export function unfused(params: KernelParams, p: Product): tf.TensorInfo {
  const {inputs, backend} = params;
  const attrs = params.attrs ?? {};
  const run = (kernelName: string, kernelInputs: tf.NamedTensorInfoMap, kernelAttrs: tf.NamedAttrMap = {}) => {
    const kernel = tf.getKernel(kernelName, BACKEND);
    if (kernel == null) throw new Error(`kernel '${kernelName}' is not registered for backend '${BACKEND}'`);
    return kernel.kernelFunc({inputs: kernelInputs, backend, attrs: kernelAttrs}) as tf.TensorInfo;
  };
  stats.unfused++;
  let out = run(tf.BatchMatMul, {a: p.a, b: p.b}, {transposeA: p.transposeA, transposeB: p.transposeB});
  const finalShape = inputs.bias == null ? out.shape : tf.broadcast_util.assertAndGetBroadcastShape(out.shape, inputs.bias.shape);
  if (tf.util.sizeFromShape(finalShape) === 0) {
    // No values: the bias and activation kernels have nothing to do (the wasm Prelu kernel traps on them).
    (backend as WasmBackend).disposeData(out.dataId);
    return (backend as WasmBackend).makeOutput(finalShape, 'float32');
  }
  const then = (kernelName: string, kernelInputs: tf.NamedTensorInfoMap, kernelAttrs?: tf.NamedAttrMap) => {
    let next: tf.TensorInfo;
    try {
      next = run(kernelName, kernelInputs, kernelAttrs);
    } catch (e) {
      (backend as WasmBackend).disposeData(out.dataId);
      throw e;
    }
    if (next.dataId !== out.dataId) (backend as WasmBackend).disposeData(out.dataId);
    out = next;
  };
  if (inputs.bias != null) then(tf.Add, {a: out, b: inputs.bias});
  const activation = attrs.activation ?? 'linear';
  switch (activation) {
    case 'linear':
      break;
    case 'relu':
      then(tf.Relu, {x: out});
      break;
    case 'relu6':
      then(tf.Relu6, {x: out});
      break;
    case 'elu':
      then(tf.Elu, {x: out});
      break;
    case 'sigmoid':
      then(tf.Sigmoid, {x: out});
      break;
    case 'leakyrelu':
      // As the wasm kernel reads it (the op always passes one; 0.2 by default).
      then(tf.LeakyRelu, {x: out}, {alpha: (attrs.leakyreluAlpha as number|undefined) || 0});
      break;
    case 'prelu': {
      const alpha = inputs.preluActivationWeights!;
      if (isTrailingShape(alpha.shape, out.shape) ||
          !tf.util.arraysEqual(tf.broadcast_util.assertAndGetBroadcastShape(out.shape, alpha.shape), out.shape)) {
        // The wasm Prelu kernel applies the weights to the flat output modulo their size: right when
        // they are the output's trailing axes. (Weights that enlarge the output: its result as well.)
        then(tf.Prelu, {x: out, alpha});
      } else {
        // Weights broadcast along other axes (e.g. one per row): select(x < 0, alpha·x, x), which also
        // keeps NaN as the cpu kernel does.
        const zero = (backend as WasmBackend).makeOutput([], 'float32');
        (backend as WasmBackend).typedArrayFromHeap(zero)[0] = 0;
        const x = out;
        let scaled: tf.TensorInfo|null = null;
        let negative: tf.TensorInfo|null = null;
        try {
          try {
            scaled = run(tf.Multiply, {a: x, b: alpha});
            negative = run(tf.Less, {a: x, b: zero});
          } catch (e) {
            (backend as WasmBackend).disposeData(x.dataId);
            throw e;
          }
          then(tf.Select, {condition: negative, t: scaled, e: x});
        } finally {
          for (const t of [zero, scaled, negative]) if (t != null) (backend as WasmBackend).disposeData(t.dataId);
        }
      }
      break;
    }
    default:
      (backend as WasmBackend).disposeData(out.dataId);
      throw new Error(`_FusedMatMul: unknown activation '${String(activation)}'`);
  }
  return out;
}
