/**
 * The fused element-wise passes of the weight posterior
 * (`posterior_kernels.wat`, bytes in `posterior_kernels_wasm.ts`) on tfjs's
 * wasm backend: each takes float32 tensors the backend holds and returns new
 * ones, computed in one SIMD pass over the backend's own memory.
 *
 * `posteriorKernels()` gives them for the active backend, or `null` — on
 * another backend, where WebAssembly SIMD or the backend's memory is not
 * available, or while the fast wasm kernels are off
 * (`disableFastWasmKernels`) — and the callers (`src/distributions/normal.ts`,
 * the scale-mixture prior, the Bayesian layers' fused sample and divergence in
 * `src/layers/variational/fused_sample.ts`) then run the same arithmetic as tfjs ops. The
 * per-backend binding and the memory accesses are `tensor_kernels.ts`'s.
 */
import * as tf from '@tensorflow/tfjs-core';

import {POSTERIOR_KERNELS_WASM, POSTERIOR_KERNELS_WASM_SHARED} from './posterior_kernels_wasm';
import {HeapAccess, TensorKernels} from './tensor_kernels';
import {WasmModule} from './wasm_module';

interface Exports {
  softplus_scale(x: number, out: number, n: number, floor: number): void;
  sigmoid_mul(dy: number, x: number, out: number, n: number): void;
  normal_kl(mu: number, sigma: number, out: number, n: number, m: number, c: number, ls: number): void;
  normal_kl_grad(dy: number, mu: number, sigma: number, dmu: number, dsigma: number, n: number, m: number, c: number): void;
  noise_log_prob(eps: number, sigma: number, out: number, n: number, k: number): void;
  noise_log_prob_grad(dy: number, eps: number, sigma: number, deps: number, dsigma: number, n: number): void;
  mixture_log_prob(w: number, out: number, n: number, cw: number, k: number, offset: number, root: number, bound: number): void;
  mixture_log_prob_grad(dy: number, w: number, out: number, n: number, cw: number, offset: number, root: number, bound: number): void;
  sample_normal_kl(mu: number, rho: number, eps: number, out: number, a: number, s: number, t: number, n: number, floor: number,
      centered: number, m: number, c: number, save: number): [number, number, number];
  sample_mixture_kl(mu: number, rho: number, eps: number, out: number, a: number, s: number, t: number, n: number, floor: number,
      centered: number, cw: number, kp: number, offset: number, root: number, bound: number, kq: number, save: number): [number, number, number];
  mul(a: number, b: number, out: number, n: number): void;
  mul_add(m: number, p: number, r: number, out: number, n: number): void;
  sample_kl_grad(dw: number, a: number, e: number, t: number, base: number, dmu: number, drho: number, n: number,
      withBase: number, g: number): void;
}

/** The fused passes; every tensor argument is float32 and of one shape (the first one's). */
export interface PosteriorKernels extends SignProductKernels {
  /** `softplus(ρ) + floor`. */
  softplusScale(rho: tf.Tensor, floor: number): tf.Tensor;
  /** `dy · sigmoid(x)`. */
  sigmoidMul(dy: tf.Tensor, x: tf.Tensor): tf.Tensor;
  /** `KL(N(μ, σ²) ‖ N(m, s²))` with `c = 1/s` and `ls = log s`. */
  normalKL(mu: tf.Tensor, sigma: tf.Tensor, m: number, c: number, ls: number): tf.Tensor;
  /** `[dy·(μ − m)c², dy·σc² − dy/σ]`. */
  normalKLGrad(dy: tf.Tensor, mu: tf.Tensor, sigma: tf.Tensor, m: number, c: number): [tf.Tensor, tf.Tensor];
  /** `−ε·(½ε) − log σ − k`. */
  noiseLogProb(eps: tf.Tensor, sigma: tf.Tensor, k: number): tf.Tensor;
  /** `[−dy·ε, −dy/σ]`. */
  noiseLogProbGrad(dy: tf.Tensor, eps: tf.Tensor, sigma: tf.Tensor): [tf.Tensor, tf.Tensor];
  /** `(k − z·(½z)) + softplus(offset − u²)`, `z = w·cw`, `u = clip(w, ±bound)·root`. */
  mixtureLogProb(w: tf.Tensor, cw: number, k: number, offset: number, root: number, bound: number): tf.Tensor;
  /** `dy·(−z·cw − sigmoid(offset − u²)·2u·root·[|w| ≤ bound])`. */
  mixtureLogProbGrad(dy: tf.Tensor, w: tf.Tensor, cw: number, offset: number, root: number, bound: number): tf.Tensor;
  /**
   * With σ = softplus(ρ) + floor: the sample `μ + σ·ε` (or `σ·ε` when `centered`) and
   * `Σ KL(N(μ, σ²) ‖ N(m, s²))` (summed in float64) with `c = 1/s`, `ls = log s`, in one pass;
   * with `save`, also the three factors of its gradient (`sampleKLGrad`): `a = (μ − m)/s²`,
   * `e = ε·sigmoid(ρ)` and `t = (σ/s² − 1/σ)·sigmoid(ρ)`. `mu.size` ≥ 16.
   */
  sampleNormalKL(mu: tf.Tensor, rho: tf.Tensor, eps: tf.Tensor, floor: number, centered: boolean,
      m: number, c: number, ls: number, save: boolean): FusedSample;
  /**
   * The sample as `sampleNormalKL` and the scale mixture's one-draw Monte Carlo KL
   * `Σ [log q(w) − log p(w)]` at `w = μ + σ·ε` (log q through the noise, `kq = ½ log 2π`;
   * log p as `mixtureLogProb` with `kp` its k), in one pass; `save` as `sampleNormalKL`, with
   * `a = −∂ log p/∂w` at the sample and `t = (a·ε − 1/σ)·sigmoid(ρ)`.
   */
  sampleMixtureKL(mu: tf.Tensor, rho: tf.Tensor, eps: tf.Tensor, floor: number, centered: boolean,
      p: MixturePassParams, kq: number, save: boolean): FusedSample;
  /**
   * The gradients `[dμ, dρ]` of either fused sample from the sample's `dw`, the sum's `g`
   * and the factors `[a, e, t]` it saved: `dμ = b + g·a`, `dρ = dw·e + g·t`, where `b`,
   * the gradient already flowing to μ, is `dw` for the sample μ + σ·ε and, for the centered
   * σ·ε, `base` (the gradient of a pass-through of μ) or none.
   */
  sampleKLGrad(dw: tf.Tensor, factors: tf.Tensor[], centered: boolean, g: number, base?: tf.Tensor): [tf.Tensor, tf.Tensor];
}

/** Flipout's sign products; tensors of one shape with at least 4 elements. */
export interface SignProductKernels {
  /** `a ⊙ b` (as tfjs's Multiply, bit for bit). */
  mul(a: tf.Tensor, b: tf.Tensor): tf.Tensor;
  /** `m + p ⊙ r` (as tfjs's Multiply then Add, bit for bit). */
  mulAdd(m: tf.Tensor, p: tf.Tensor, r: tf.Tensor): tf.Tensor;
}

/** A fused sample pass's results: the sample, the divergence's sum, and the gradient's factors when asked for. */
export interface FusedSample {
  sample: tf.Tensor;
  kl: number;
  factors: tf.Tensor[]|null;
}

/** The scale mixture's constants of `mixtureLogProb` (see `ScaleMixturePrior.fusedLogProbParams`). */
export interface MixturePassParams {
  cw: number;
  k: number;
  offset: number;
  root: number;
  bound: number;
}

const KERNELS = new TensorKernels<Exports, PosteriorKernels>(
    new WasmModule<Exports>(POSTERIOR_KERNELS_WASM, POSTERIOR_KERNELS_WASM_SHARED), build);

/** Number of tensors the fused passes have produced since the process started (for tests and benchmarks). */
export function posteriorKernelPasses(): number {
  return KERNELS.tensorsMade;
}

/**
 * The fused passes for the active backend, or `null` where they cannot run.
 * `tensors`: the inputs of the call about to be made; `null` too unless all
 * are float32 tensors of one shape on the active backend.
 */
export function posteriorKernels(...tensors: tf.Tensor[]): PosteriorKernels|null {
  const active = KERNELS.active(tensors);
  if (active === null) return null;
  if (tensors.some((t) => !tf.util.arraysEqual(t.shape, tensors[0].shape))) return null;
  return active.kernels;
}

/** The smallest tensor the fused sample passes take (four vectors per iteration, the last ones overlapping those before). */
export const FUSED_SAMPLE_MIN_SIZE = 16;

function checkFusedSize(t: tf.Tensor, min = FUSED_SAMPLE_MIN_SIZE): void {
  if (t.size < min) {
    throw new Error(`the fused passes need at least ${min} elements. Received: ${t.size}`);
  }
}

function build(x: Exports, {at, make, wrap}: HeapAccess): PosteriorKernels {
  const f = Math.fround;
  return {
    softplusScale(rho, floor) {
      const out = make(rho.shape);
      if (rho.size > 0) x.softplus_scale(at(rho), at(out), rho.size, f(floor));
      return wrap(out);
    },
    sigmoidMul(dy, v) {
      const out = make(dy.shape);
      if (dy.size > 0) x.sigmoid_mul(at(dy), at(v), at(out), dy.size);
      return wrap(out);
    },
    normalKL(mu, sigma, m, c, ls) {
      const out = make(mu.shape);
      if (mu.size > 0) x.normal_kl(at(mu), at(sigma), at(out), mu.size, f(m), f(c), f(ls));
      return wrap(out);
    },
    normalKLGrad(dy, mu, sigma, m, c) {
      const dmu = make(mu.shape);
      const dsigma = make(mu.shape);
      if (mu.size > 0) x.normal_kl_grad(at(dy), at(mu), at(sigma), at(dmu), at(dsigma), mu.size, f(m), f(c));
      return [wrap(dmu), wrap(dsigma)];
    },
    noiseLogProb(eps, sigma, k) {
      const out = make(eps.shape);
      if (eps.size > 0) x.noise_log_prob(at(eps), at(sigma), at(out), eps.size, f(k));
      return wrap(out);
    },
    noiseLogProbGrad(dy, eps, sigma) {
      const deps = make(eps.shape);
      const dsigma = make(eps.shape);
      if (eps.size > 0) x.noise_log_prob_grad(at(dy), at(eps), at(sigma), at(deps), at(dsigma), eps.size);
      return [wrap(deps), wrap(dsigma)];
    },
    mixtureLogProb(w, cw, k, offset, root, b) {
      const out = make(w.shape);
      if (w.size > 0) x.mixture_log_prob(at(w), at(out), w.size, f(cw), f(k), f(offset), f(root), f(b));
      return wrap(out);
    },
    mixtureLogProbGrad(dy, w, cw, offset, root, b) {
      const out = make(w.shape);
      if (w.size > 0) x.mixture_log_prob_grad(at(dy), at(w), at(out), w.size, f(cw), f(offset), f(root), f(b));
      return wrap(out);
    },
    sampleNormalKL(mu, rho, eps, floor, centered, m, c, ls, save) {
      checkFusedSize(mu);
      const out = make(mu.shape);
      const factors = save ? [make(mu.shape), make(mu.shape), make(mu.shape)] : null;
      const [a, s, t] = factors === null ? [0, 0, 0] : factors.map(at);
      const [quadratic, exponent, mantissa] = x.sample_normal_kl(at(mu), at(rho), at(eps), at(out), a, s, t, mu.size, f(floor),
          centered ? 1 : 0, f(m), f(c), save ? 1 : 0);
      const n = mu.size;
      // Σ KL = Σ (r·(½r) + d·(½d)) − n/2 − Σ log σ + n·log s, with Σ log σ = e·ln 2 + log p.
      const kl = quadratic - n / 2 - (exponent * Math.LN2 + Math.log(mantissa)) + n * ls;
      return {sample: wrap(out), kl, factors: factors === null ? null : factors.map(wrap)};
    },
    sampleMixtureKL(mu, rho, eps, floor, centered, p, kq, save) {
      checkFusedSize(mu);
      const out = make(mu.shape);
      const factors = save ? [make(mu.shape), make(mu.shape), make(mu.shape)] : null;
      const [a, s, t] = factors === null ? [0, 0, 0] : factors.map(at);
      const [terms, exponent, mantissa] = x.sample_mixture_kl(at(mu), at(rho), at(eps), at(out), a, s, t, mu.size, f(floor),
          centered ? 1 : 0, f(p.cw), f(p.k), f(p.offset), f(p.root), f(p.bound), f(kq), save ? 1 : 0);
      // Σ [log q − log p] = Σ [−ε·(½ε) − kq − log p(w)] − Σ log σ.
      const kl = terms - (exponent * Math.LN2 + Math.log(mantissa));
      return {sample: wrap(out), kl, factors: factors === null ? null : factors.map(wrap)};
    },
    mul(a, b) {
      checkFusedSize(a, 4);
      const out = make(a.shape);
      x.mul(at(a), at(b), at(out), a.size);
      return wrap(out);
    },
    mulAdd(m, p, r) {
      checkFusedSize(m, 4);
      const out = make(m.shape);
      x.mul_add(at(m), at(p), at(r), at(out), m.size);
      return wrap(out);
    },
    sampleKLGrad(dw, [a, e, t], centered, g, base) {
      checkFusedSize(dw, 4);
      const dmu = make(dw.shape);
      const drho = make(dw.shape);
      const b = centered ? base : dw;
      x.sample_kl_grad(at(dw), at(a), at(e), at(t), at(b ?? dw), at(dmu), at(drho), dw.size, b === undefined ? 0 : 1, f(g));
      return [wrap(dmu), wrap(drho)];
    },
  };
}
