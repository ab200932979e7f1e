export {
  FAST_WASM_KERNELS_FLAG,
  applyFastWasmKernelsDefault,
  disableFastWasmKernels,
  enableFastWasmKernels,
  getFastWasmKernelsStats,
  isFastWasmKernelsActive,
  isFastWasmKernelsEnabled,
} from './fast_wasm_kernels';
export type {FastWasmKernelsOptions, FastWasmKernelsStats} from './fast_wasm_kernels';
export {ALLOW_UNTESTED_TFJS_FLAG, TESTED_TFJS} from '../util/tfjs_version';
