/**
 * The common frame of our tensor-level wasm kernels (`posterior_kernels.ts`,
 * `variance_kernels.ts`): one set of kernels per instance of tfjs's wasm
 * backend, built on first use from a module instantiated on the backend's
 * memory, and offered only while the fast kernels are on and the call's
 * tensors are float32 tensors that backend holds; and the three accesses a
 * wrapper needs — a tensor's byte offset in the backend's memory, a new
 * float32 output there, and the tensor made from it.
 */
import * as tf from '@tensorflow/tfjs-core';

import {isFastWasmKernelsActive} from './fast_wasm_kernels';
import {backendMemory, WasmModule} from './wasm_module';

/** The parts of tfjs's wasm backend used here (public methods of its `BackendWasm`). */
export interface WasmBackendLike {
  wasm?: {asm?: {memory?: unknown}; wasmMemory?: unknown};
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array|Int32Array|Uint8Array;
}

/** A wrapper's access to the backend's memory. */
export interface HeapAccess {
  /** The byte offset of a tensor's data. */
  at(info: tf.TensorInfo): number;
  /** A new float32 output of `shape` (its data uninitialised). */
  make(shape: number[]): tf.TensorInfo;
  /** The tensor of an output made by `make`. */
  wrap(info: tf.TensorInfo): tf.Tensor;
}

/** Kernels of type `K` over a module's exports, per wasm backend instance. */
export class TensorKernels<Exports, K> {
  private readonly bound = new WeakMap<object, K|null>();
  private made = 0;

  constructor(private readonly module: WasmModule<Exports>, private readonly build: (x: Exports, heap: HeapAccess) => K) {}

  /** Number of tensors the kernels have made since the process started (for tests and benchmarks). */
  get tensorsMade(): number {
    return this.made;
  }

  /**
   * The kernels and the backend for the active backend, or `null`: not the
   * wasm backend, the module cannot run on its memory, the fast kernels are
   * off, or one of `tensors` is not a float32 tensor on that backend.
   */
  active(tensors: tf.Tensor[]): {kernels: K, backend: object}|null {
    const engine = tf.engine();
    if (engine.backendName !== 'wasm') return null;
    const backend = engine.backend as unknown as object;
    let kernels = this.bound.get(backend);
    if (kernels === undefined) {
      kernels = this.instantiate(backend as WasmBackendLike);
      this.bound.set(backend, kernels);
    }
    if (kernels === null || !isFastWasmKernelsActive()) return null;
    const info = (engine as unknown as {state: {tensorInfo: WeakMap<object, {backend: object}>}}).state.tensorInfo;
    if (!tensors.every((t) => t.dtype === 'float32' && info.get(t.dataId)?.backend === backend)) return null;
    return {kernels, backend};
  }

  private instantiate(backend: WasmBackendLike): K|null {
    const memory = backendMemory(backend);
    const x = memory === null ? null : this.module.on(memory);
    if (x === null) return null;
    return this.build(x, {
      at: (info) => backend.typedArrayFromHeap(info).byteOffset,
      make: (shape) => backend.makeOutput(shape, 'float32'),
      wrap: (info) => {
        this.made++;
        return tf.engine().makeTensorFromTensorInfo(info, backend as unknown as tf.KernelBackend);
      },
    });
  }
}
