/**
 * One-pass Adam updates on the wasm backend.
 *
 * tfjs-core's `AdamOptimizer.applyGradients` updates each variable with
 * thirteen elementwise ops (two moments, bias corrections, square root,
 * division, step) — thirteen passes over memory and thirteen kernel calls per
 * variable and step. For the 784-512-2 VAE that is about 11 ms of a 90 ms
 * training step on wasm. Here the same arithmetic runs as one SIMD loop
 * (`adam` in `simd_kernels.wat`) over the four operands in the backend's
 * memory, with every float32 operation in tfjs's order, so the new weights and
 * moments are bit for bit those of the op sequence.
 *
 * The method is replaced on `tf.AdamOptimizer.prototype` (so every Adam, made
 * by `tf.train.adam()` or by name in `model.compile`, is covered) by
 * `enableFastWasmKernels`, and only where its version check allows it
 * (tfjs-core and tfjs-layers 4.22.x, `src/util/tfjs_version.ts`). The
 * replacement does the fused update only when the active backend has the
 * kernel `TfvAdamUpdate` registered, which the fast wasm kernels do for `wasm`
 * alone; otherwise, and for any variable that is not float32 or whose gradient
 * has another shape, it runs tfjs's own code. Everything else — moment
 * variables and their names, `accBeta1`/`accBeta2`, the iteration count,
 * `getWeights`/`setWeights` — is tfjs's.
 */
import * as tf from '@tensorflow/tfjs-core';

import {heapOffset, simdKernelsFor, WasmBackendLike} from './simd_kernels';

/** Name of the kernel the fused update runs. */
export const ADAM_KERNEL = 'TfvAdamUpdate';

/** Marks the replacement method and holds the method it replaced (a registered symbol: shared by every copy of this library). */
const ORIGINAL_METHOD: unique symbol = Symbol.for('tfjs-variational.fusedAdam.original');

/** The private state of tfjs's AdamOptimizer that its applyGradients uses. */
interface AdamInternals {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
  accumulatedFirstMoment: Array<{originalName: string; variable: tf.Variable}|undefined>;
  accumulatedSecondMoment: Array<{originalName: string; variable: tf.Variable}|undefined>;
  incrementIterations(): void;
}

/** tfjs-core's `{name, tensor}` gradient entry (not exported by its index). */
interface NamedTensor {
  name: string;
  tensor: tf.Tensor;
}

type ApplyGradients = (this: tf.AdamOptimizer, variableGradients: tf.NamedTensorMap|NamedTensor[]) => void;

let fusedUpdates = 0;

/** Number of variable updates done by the fused kernel since the process started. */
export function fusedAdamUpdates(): number {
  return fusedUpdates;
}

/** Registers the fused kernel for `backendName` and patches AdamOptimizer once. */
export function enableFusedAdam(backendName: string): void {
  if (tf.getKernel(ADAM_KERNEL, backendName) == null) {
    tf.registerKernel({kernelName: ADAM_KERNEL, backendName, kernelFunc: adamKernel});
  }
  const proto = tf.AdamOptimizer.prototype as unknown as {applyGradients: ApplyGradients & {[ORIGINAL_METHOD]?: ApplyGradients}};
  if (proto.applyGradients[ORIGINAL_METHOD] == null) {
    const original = proto.applyGradients;
    const replacement = function(this: tf.AdamOptimizer, variableGradients: tf.NamedTensorMap|NamedTensor[]) {
      if (!canFuse()) {
        original.call(this, variableGradients);
        return;
      }
      fusedApplyGradients(this as unknown as AdamInternals, variableGradients);
    } as ApplyGradients & {[ORIGINAL_METHOD]?: ApplyGradients};
    Object.defineProperty(replacement, ORIGINAL_METHOD, {value: original});
    proto.applyGradients = replacement;
  }
}

/** Unregisters the fused kernel; Adam then runs tfjs's own code on that backend. */
export function disableFusedAdam(backendName: string): void {
  if (tf.getKernel(ADAM_KERNEL, backendName) != null) tf.unregisterKernel(ADAM_KERNEL, backendName);
}

function canFuse(): boolean {
  const engine = tf.engine();
  return tf.getKernel(ADAM_KERNEL, engine.backendName) != null && simdKernelsFor(engine.backend) != null;
}

/** tfjs-core 4.22's AdamOptimizer.applyGradients with the per-variable arithmetic in one kernel. */
function fusedApplyGradients(adam: AdamInternals, variableGradients: tf.NamedTensorMap|NamedTensor[]): void {
  const varNames = Array.isArray(variableGradients) ? variableGradients.map((v) => v.name) :
                                                      Object.keys(variableGradients);
  tf.tidy(() => {
    const oneMinusAccBeta1 = tf.sub(1, adam.accBeta1);
    const oneMinusAccBeta2 = tf.sub(1, adam.accBeta2);
    varNames.forEach((name, i) => {
      const value = tf.engine().registeredVariables[name];
      const trainable = false;
      if (adam.accumulatedFirstMoment[i] == null) {
        adam.accumulatedFirstMoment[i] = {
          originalName: `${name}/m`,
          variable: tf.tidy(() => tf.zerosLike(value).variable(trainable)),
        };
      }
      if (adam.accumulatedSecondMoment[i] == null) {
        adam.accumulatedSecondMoment[i] = {
          originalName: `${name}/v`,
          variable: tf.tidy(() => tf.zerosLike(value).variable(trainable)),
        };
      }
      const gradient = Array.isArray(variableGradients) ? variableGradients[i].tensor : variableGradients[name];
      if (gradient == null) return;
      const firstMoment = adam.accumulatedFirstMoment[i]!.variable;
      const secondMoment = adam.accumulatedSecondMoment[i]!.variable;
      if (value.dtype === 'float32' && gradient.dtype === 'float32' && firstMoment.dtype === 'float32' &&
          secondMoment.dtype === 'float32' && tf.util.arraysEqual(gradient.shape, value.shape) &&
          tf.util.arraysEqual(firstMoment.shape, value.shape) && tf.util.arraysEqual(secondMoment.shape, value.shape)) {
        const [m, v, w] = tf.engine().runKernel(
            ADAM_KERNEL, {gradient, firstMoment, secondMoment, value, oneMinusAccBeta1, oneMinusAccBeta2},
            {beta1: adam.beta1, beta2: adam.beta2, epsilon: adam.epsilon, learningRate: adam.learningRate}) as
            tf.Tensor[];
        firstMoment.assign(m);
        secondMoment.assign(v);
        value.assign(w);
        fusedUpdates++;
        return;
      }
      // tfjs's arithmetic, op by op.
      const newFirstMoment = tf.add(tf.mul(firstMoment, adam.beta1), tf.mul(gradient, 1 - adam.beta1));
      const newSecondMoment = tf.add(tf.mul(secondMoment, adam.beta2), tf.mul(tf.square(gradient), 1 - adam.beta2));
      const biasCorrectedFirstMoment = tf.div(newFirstMoment, oneMinusAccBeta1);
      const biasCorrectedSecondMoment = tf.div(newSecondMoment, oneMinusAccBeta2);
      firstMoment.assign(newFirstMoment);
      secondMoment.assign(newSecondMoment);
      const newValue = tf.add(
          tf.mul(tf.div(biasCorrectedFirstMoment, tf.add(tf.sqrt(biasCorrectedSecondMoment), adam.epsilon)),
                 -adam.learningRate),
          value);
      value.assign(newValue);
    });
    adam.accBeta1.assign(tf.mul(adam.accBeta1, adam.beta1));
    adam.accBeta2.assign(tf.mul(adam.accBeta2, adam.beta2));
  });
  adam.incrementIterations();
}

/**
 * Kernel `TfvAdamUpdate` (wasm): inputs gradient, firstMoment, secondMoment,
 * value (same shape, float32) and the scalars 1 − beta1^t, 1 − beta2^t;
 * attributes beta1, beta2, epsilon, learningRate; outputs the new first
 * moment, second moment and value.
 */
function adamKernel(params: Parameters<tf.KernelFunc>[0]): tf.TensorInfo[] {
  const backend = params.backend as unknown as WasmBackendLike;
  const simd = simdKernelsFor(backend);
  if (simd == null) throw new Error(`${ADAM_KERNEL}: WebAssembly SIMD kernels are not available on this backend`);
  const {gradient, firstMoment, secondMoment, value, oneMinusAccBeta1, oneMinusAccBeta2} =
      params.inputs as Record<string, tf.TensorInfo|undefined>;
  const attrs = (params.attrs ?? {}) as {beta1: number; beta2: number; epsilon: number; learningRate: number};
  // The SIMD loop reads value.size elements of each operand: check them all (runKernel callers included).
  if (value == null || value.dtype !== 'float32') {
    throw new Error(`${ADAM_KERNEL}: expected the input value, a float32 tensor; received ${describe(value)}`);
  }
  for (const [name, t] of [['gradient', gradient], ['firstMoment', firstMoment], ['secondMoment', secondMoment]] as const) {
    if (t == null || t.dtype !== 'float32' || !tf.util.arraysEqual(t.shape, value.shape)) {
      throw new Error(`${ADAM_KERNEL}: expected the input ${name}, float32 of value's shape [${value.shape}]; ` +
                      `received ${describe(t)}`);
    }
  }
  for (const [name, t] of [['oneMinusAccBeta1', oneMinusAccBeta1], ['oneMinusAccBeta2', oneMinusAccBeta2]] as const) {
    if (t == null || t.dtype !== 'float32' || tf.util.sizeFromShape(t.shape) !== 1) {
      throw new Error(`${ADAM_KERNEL}: expected the input ${name}, a float32 scalar; received ${describe(t)}`);
    }
  }
  for (const name of ['beta1', 'beta2', 'epsilon', 'learningRate'] as const) {
    if (typeof attrs[name] !== 'number') {
      throw new Error(`${ADAM_KERNEL}: expected the attribute ${name}, a number; received ${String(attrs[name])}`);
    }
  }
  const shape = value.shape;
  const outputs = [0, 1, 2].map(() => backend.makeOutput(shape, 'float32'));
  const n = tf.util.sizeFromShape(shape);
  if (n > 0) {
    // Offsets after every allocation: an allocation may grow (and so move) the heap's views, not its offsets.
    const d1 = backend.typedArrayFromHeap(oneMinusAccBeta1!)[0];
    const d2 = backend.typedArrayFromHeap(oneMinusAccBeta2!)[0];
    const at = (t: tf.TensorInfo) => heapOffset(backend, t);
    // f32 parameters round JavaScript numbers as tfjs's scalar tensors do (Math.fround).
    simd.adam(at(gradient!), at(firstMoment!), at(secondMoment!), at(value),
              at(outputs[0]), at(outputs[1]), at(outputs[2]), n,
              attrs.beta1, 1 - attrs.beta1, attrs.beta2, 1 - attrs.beta2, d1, d2, attrs.epsilon, -attrs.learningRate);
  }
  return outputs;
}

function describe(t: tf.TensorInfo|undefined): string {
  return t == null ? 'none' : `${t.dtype} of shape [${t.shape}]`;
}
