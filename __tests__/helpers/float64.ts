/**
 * Float64 references and float32 comparisons for the fused wasm passes'
 * tests (`fused_ops.test.ts`, `fused_variance.test.ts`): softplus, sigmoid,
 * log-add-exp and the scale mixture's log-density in float64, seeded inputs
 * rounded to float32, an element-wise check with absolute and relative
 * tolerances, and the three setups those tests compare.
 */
import {useBackend} from './backends';
import {values as uniformValues} from './random';
import {HALF_LOG_TWO_PI} from '../../src/distributions/normal';
import {disableFastWasmKernels, enableFastWasmKernels} from '../../src/perf';

export const f32 = Math.fround;

/** One float32 ulp at 1. */
export const ULP = 2 ** -24;

export function softplus64(x: number): number {
  return x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x));
}

export function sigmoid64(x: number): number {
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
}

/** log(e^a + e^b) without overflow. */
export function logAddExp(a: number, b: number): number {
  const m = Math.max(a, b);
  return m === -Infinity ? -Infinity : m + Math.log1p(Math.exp(-Math.abs(a - b)));
}

/** The scale mixture π N(0, s1²) + (1 − π) N(0, s2²): log-density and its derivative at w, in log space. */
export function mixture64(w: number, pi: number, s1: number, s2: number): {value: number, grad: number} {
  const a1 = Math.log(pi) - Math.log(s1) - HALF_LOG_TWO_PI - 0.5 * (w / s1) ** 2;
  const a2 = Math.log1p(-pi) - Math.log(s2) - HALF_LOG_TWO_PI - 0.5 * (w / s2) ** 2;
  const value = logAddExp(a1, a2);
  // d/dw = −w·(r1/s1² + r2/s2²), r_c the responsibilities e^{a_c − value}.
  const r1 = Math.exp(a1 - value);
  const r2 = Math.exp(a2 - value);
  return {value, grad: -w * (r1 / (s1 * s1) + r2 / (s2 * s2))};
}

/** n seeded values uniform in [lo, hi], rounded to float32. */
export function randomInputs(n: number, seed: number, lo: number, hi: number): number[] {
  return Array.from(uniformValues(n, seed), (u) => f32(lo + (hi - lo) * (u + 1) / 2));
}

/** |got − want| ≤ atol + rtol·|want| element by element; an infinite f32(want) must be matched exactly. */
export function expectNear(label: string, got: ArrayLike<number>, want: ArrayLike<number>, rtol: number,
    atol: ArrayLike<number>|number = 0): void {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    const w = f32(want[i]);
    const a = typeof atol === 'number' ? atol : atol[i];
    if (Number.isNaN(got[i])) throw new Error(`${label}[${i}]: NaN, expected ${want[i]}`);
    if (!Number.isFinite(w)) {
      if (got[i] !== w) throw new Error(`${label}[${i}]: ${got[i]}, expected ${w}`);
      continue;
    }
    const tol = a + rtol * Math.abs(want[i]);
    if (!(Math.abs(got[i] - want[i]) <= tol)) throw new Error(`${label}[${i}]: ${got[i]}, expected ${want[i]} (tolerance ${tol})`);
  }
}

/** The setups a fused pass is compared across: cpu, wasm with the fast kernels off, wasm with them on. */
export const FUSED_SETUPS = ['cpu', 'wasm-off', 'wasm-fused'] as const;
export type FusedSetup = typeof FUSED_SETUPS[number];

/** Switches to `setup`: its backend, with the fast kernels on for `'wasm-fused'` only. */
export async function useFusedSetup(setup: FusedSetup): Promise<void> {
  await useBackend(setup === 'cpu' ? 'cpu' : 'wasm');
  if (setup === 'wasm-fused') expect(enableFastWasmKernels()).toBe(true); else disableFastWasmKernels();
}
