/**
 * What the kernel wrappers of `fast_wasm_kernels.ts` share: the backend they
 * act on, the parts of it they use, and the signature of a wrapper.
 */
import * as tf from '@tensorflow/tfjs-core';

export const BACKEND = 'wasm';

/** The parts of the wasm backend the wrappers use (public methods of its `BackendWasm`). */
export interface WasmBackend {
  disposeData(dataId: tf.DataId, force?: boolean): boolean|void;
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array|Int32Array|Uint8Array;
}

export type KernelParams = Parameters<tf.KernelFunc>[0];
export type Wrapper = (original: tf.KernelConfig, params: KernelParams) => tf.TensorInfo|tf.TensorInfo[];

/** The dtypes whose tensors the wasm backend keeps in its heap, copied or shared as they are. */
export const HEAP_DTYPES: readonly tf.DataType[] = ['float32', 'int32', 'bool'];
