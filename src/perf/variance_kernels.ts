/**
 * The fused passes of local reparameterization's variance path
 * (`variance_kernels.wat`, bytes in `variance_kernels_wasm.ts`) on tfjs's wasm
 * backend, for a kernel held as `[rows, out]` (`out ≥ 4`): each takes float32
 * tensors the backend holds and returns new ones, computed in one SIMD pass
 * (two for the forward) over the backend's own memory.
 *
 * `varianceKernels()` gives them for the active backend, or `null` — on
 * another backend, where WebAssembly SIMD or the backend's memory is not
 * available, or while the fast wasm kernels are off (`disableFastWasmKernels`)
 * — and the caller (`src/layers/variational/fused_variance.ts`) then runs the
 * same arithmetic as tfjs ops. The per-backend binding and the memory accesses
 * are `tensor_kernels.ts`'s.
 */
import * as tf from '@tensorflow/tfjs-core';

import {VARIANCE_KERNELS_WASM, VARIANCE_KERNELS_WASM_SHARED} from './variance_kernels_wasm';
import {HeapAccess, TensorKernels} from './tensor_kernels';
import {WasmModule} from './wasm_module';

interface Exports {
  local_variance_kl(mu: number, rho: number, bias: number, t: number, s: number, sigma: number, sgm: number, rows: number, out: number,
      floor: number, m: number, c: number, ls: number): number;
  local_variance_kl_grad(dt: number, dmm: number, mu: number, sigma: number, sgm: number, s: number, dmu: number, drho: number, rows: number,
      out: number, g: number, m: number, c: number): void;
  local_variance(rho: number, bias: number, t: number, s: number, sigma: number, sgm: number, rows: number, out: number, floor: number): void;
  local_variance_grad(dt: number, sigma: number, sgm: number, s: number, drho: number, rows: number, out: number): void;
  local_variance_mixture(mu: number, rho: number, eps: number, bias: number, t: number, s: number, sigma: number, sgm: number,
      rows: number, out: number, floor: number, cw: number, kp: number, offset: number, root: number, bound: number, kq: number): number;
  local_variance_mixture_grad(dt: number, dmm: number, mu: number, eps: number, sigma: number, sgm: number, s: number, dmu: number, drho: number,
      rows: number, out: number, g: number, cw: number, offset: number, root: number, bound: number): void;
  local_output(mean: number, v: number, s: number, zeta: number, y: number, rows: number, out: number): void;
  local_output_grad(dy: number, v: number, s: number, zeta: number, dv: number, rows: number, out: number): void;
}

/**
 * The variance path's forward: `t = (σ/s)²` `[rows, out]`, `s` `[out]`, the KL's
 * sum (0 without a prior), and σ and sigmoid(ρ) `[rows, out]` for the backward.
 */
export interface LocalVariance {
  t: tf.Tensor;
  s: tf.Tensor;
  kl: number;
  sigma: tf.Tensor;
  sigmoid: tf.Tensor;
}

/** A Gaussian prior `N(m, 1/c²)` with `ls = log(1/c)`. */
export interface NormalPassPrior {
  kind: 'normal';
  m: number;
  c: number;
  ls: number;
}

/**
 * The scale mixture's one-draw Monte Carlo divergence at `w = μ + σ·ε` (`eps`
 * `[rows, out]`): its `mixtureLogProb` constants (`MixturePassParams` of
 * `posterior_kernels.ts`) and `kq = ½ log 2π`.
 */
export interface MixturePassPrior {
  kind: 'mixture';
  eps: tf.Tensor;
  cw: number;
  k: number;
  offset: number;
  root: number;
  bound: number;
  kq: number;
}

/**
 * The fused passes. `mu`, `rho` and `dt` are float32 `[rows, out]` with `out ≥ 4`,
 * `biasScale` and `s` float32 `[out]`; σ = softplus(ρ) + floor throughout.
 */
export interface VarianceKernels {
  /**
   * `s_j = max(σ_b,j, max_i σ_ij)` (1 where not positive; σ_b left out when null),
   * `t = (σ/s)²` and the divergence's sum (float64): `Σ KL(N(μ, σ²) ‖ N(m, s_p²))`
   * for a normal prior (`c = 1/s_p`, `ls = log s_p`), or the scale mixture's
   * `Σ [log q(w) − log p(w)]` at `w = μ + σ·ε`; without `prior` (and `mu`) none.
   * `floor` ≥ 2⁻¹²⁶ (σ is then a normal float, whose logarithms the KL sums
   * through exponents and mantissa products).
   */
  localVariance(mu: tf.Tensor|null, rho: tf.Tensor, biasScale: tf.Tensor|null, floor: number,
      prior: NormalPassPrior|MixturePassPrior|null): LocalVariance;
  /**
   * `[dμ, dρ]` from t's gradient `dt`, the divergence's `g` and `dm` (the gradient
   * μ gets elsewhere, added in), with the forward's σ and sigmoid(ρ): for a normal
   * prior `dρ = (dt·2(σ/s)/s + g·(σc² − 1/σ))·sigmoid(ρ)`, `dμ = dm + g·(μ − m)c²`;
   * for the mixture, with `a = −g·∂ log p/∂w`, `dρ = (dt·2(σ/s)/s + (a·ε − g/σ))·sigmoid(ρ)`,
   * `dμ = dm + a`; without `prior` only dρ (of the t term) and `dμ` null.
   */
  localVarianceGrad(dt: tf.Tensor, dm: tf.Tensor|null, mu: tf.Tensor|null, sigma: tf.Tensor, sigmoid: tf.Tensor, s: tf.Tensor, g: number,
      prior: NormalPassPrior|MixturePassPrior|null): [tf.Tensor|null, tf.Tensor];
  /** The output `y = m + (√v·s)·ζ` for `mean`, `v`, `zeta` of one shape `[…, out]` and `s` `[out]`. */
  localOutput(mean: tf.Tensor, v: tf.Tensor, s: tf.Tensor, zeta: tf.Tensor): tf.Tensor;
  /** Its gradient in v: `((dy·ζ)·s)/(√v·2)` where √v > 0, else 0. */
  localOutputGrad(dy: tf.Tensor, v: tf.Tensor, s: tf.Tensor, zeta: tf.Tensor): tf.Tensor;
}

const KERNELS = new TensorKernels<Exports, VarianceKernels>(
    new WasmModule<Exports>(VARIANCE_KERNELS_WASM, VARIANCE_KERNELS_WASM_SHARED), build);

/** Number of tensors the variance passes have produced since the process started (for tests and benchmarks). */
export function varianceKernelPasses(): number {
  return KERNELS.tensorsMade;
}

/**
 * The fused passes for the active backend, or `null` where they cannot run:
 * also `null` unless every tensor of `tensors` (the inputs of the call about to
 * be made; the caller checks their shapes) is float32 on the active backend.
 */
export function varianceKernels(...tensors: tf.Tensor[]): VarianceKernels|null {
  return KERNELS.active(tensors)?.kernels ?? null;
}

function build(x: Exports, {at, make, wrap}: HeapAccess): VarianceKernels {
  const f = Math.fround;
  return {
    localVariance(mu, rho, biasScale, floor, prior) {
      const [rows, out] = rho.shape as [number, number];
      const t = make([rows, out]);
      const s = make([out]);
      const sigma = make([rows, out]);
      const sigmoid = make([rows, out]);
      const bias = biasScale === null ? 0 : at(biasScale);
      let kl = 0;
      if (prior !== null && mu !== null) {
        if (prior.kind === 'normal') {
          kl = x.local_variance_kl(at(mu), at(rho), bias, at(t), at(s), at(sigma), at(sigmoid), rows, out,
              f(floor), f(prior.m), f(prior.c), f(prior.ls));
        } else {
          kl = x.local_variance_mixture(at(mu), at(rho), at(prior.eps), bias, at(t), at(s), at(sigma), at(sigmoid), rows, out,
              f(floor), f(prior.cw), f(prior.k), f(prior.offset), f(prior.root), f(prior.bound), f(prior.kq));
        }
      } else {
        x.local_variance(at(rho), bias, at(t), at(s), at(sigma), at(sigmoid), rows, out, f(floor));
      }
      return {t: wrap(t), s: wrap(s), kl, sigma: wrap(sigma), sigmoid: wrap(sigmoid)};
    },
    localVarianceGrad(dt, dm, mu, sigma, sigmoid, s, g, prior) {
      const [rows, out] = sigma.shape as [number, number];
      const drho = make([rows, out]);
      if (prior !== null && mu !== null) {
        const dmu = make([rows, out]);
        if (prior.kind === 'normal') {
          x.local_variance_kl_grad(at(dt), at(dm!), at(mu), at(sigma), at(sigmoid), at(s), at(dmu), at(drho), rows, out, f(g), f(prior.m), f(prior.c));
        } else {
          x.local_variance_mixture_grad(at(dt), at(dm!), at(mu), at(prior.eps), at(sigma), at(sigmoid), at(s), at(dmu), at(drho), rows, out,
              f(g), f(prior.cw), f(prior.offset), f(prior.root), f(prior.bound));
        }
        return [wrap(dmu), wrap(drho)];
      }
      x.local_variance_grad(at(dt), at(sigma), at(sigmoid), at(s), at(drho), rows, out);
      return [null, wrap(drho)];
    },
    localOutput(mean, v, s, zeta) {
      const out = v.shape[v.rank - 1]!;
      const y = make(v.shape);
      x.local_output(at(mean), at(v), at(s), at(zeta), at(y), v.size / out, out);
      return wrap(y);
    },
    localOutputGrad(dy, v, s, zeta) {
      const out = v.shape[v.rank - 1]!;
      const dv = make(v.shape);
      x.local_output_grad(at(dy), at(v), at(s), at(zeta), at(dv), v.size / out, out);
      return wrap(dv);
    },
  };
}
