/**
 * The counters of what the fast wasm kernels did, incremented by the kernel
 * wrappers and read by `getFastWasmKernelsStats`.
 */

/** Counts of the rewrites done since the process started (for tests and benchmarks). */
export interface FastWasmKernelsStats {
  /** Products whose flagged operands were transposed into temporaries. */
  transposed: number;
  /** Products with a broadcast right operand run as one 2-D product. */
  folded: number;
  /** Flagged `BatchMatMul` products left to the original kernel because they were too small to gain. */
  passedThrough: number;
  /** `_FusedMatMul` products with a batched right operand, run as product, bias add and activation. */
  unfused: number;
  /** `GatherV2` and `Slice` calls done by copying rows of the wasm heap; `Identity` and same-dtype `Cast` calls that shared memory. */
  copied: number;
  /** Products, `Transpose`, `Sum` and `Softplus` calls done by the SIMD module (`simd_kernels.wat`). */
  simd: number;
  /** Variables updated by the one-pass Adam kernel (`fused_adam.ts`). */
  adam: number;
}

/** The counters the kernel wrappers increment (`adam` is counted by `fused_adam.ts`). */
export const stats: Omit<FastWasmKernelsStats, 'adam'> =
    {transposed: 0, folded: 0, passedThrough: 0, unfused: 0, copied: 0, simd: 0};
