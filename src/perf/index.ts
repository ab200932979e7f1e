export {
  FAST_WASM_KERNELS_FLAG,
  applyFastWasmKernelsDefault,
  disableFastWasmKernels,
  enableFastWasmKernels,
  getFastWasmKernelsStats,
  isFastWasmKernelsActive,
  isFastWasmKernelsEnabled,
} from './fast_wasm_kernels';
export type {FastWasmKernelsStats} from './fast_wasm_kernels';
