/**
 * Local reparameterization's kernel terms as one op: for the kernel's
 * posterior `N(μ, σ²)`, σ = 10⁻⁵ + softplus(ρ), held as `[rows, out]`
 * (`out` the output channels, the last axis),
 *
 *     s_j = max(σ_b,j, max_i σ_ij)   (1 where that is not positive; σ_b only with a Bayesian bias),
 *     t = (σ/s)²,
 *     KL = Σ_i KL(N(μ_i, σ_i²) ‖ N(m, s_p²))        (a Gaussian prior with number parameters), or
 *     KL ≈ Σ_i [log q(w_i) − log p(w_i)], w = μ + σ ⊙ ε   (the scale mixture, one Monte Carlo draw),
 *
 * which `localReparameterizationOutput` (`estimators.ts`) turns into the
 * output's variance `s²·(op(x², t) + (σ_b/s)²)`; s is a rescaling the result
 * does not depend on (its gradient is zero), there so that σ² cannot
 * overflow float32. On tfjs's wasm backend with the fast kernels on, the
 * forward is two SIMD passes (σ, sigmoid(ρ), the column maxima and the KL;
 * then t) and the backward one (`src/perf/variance_kernels.wat`),
 *
 *     dρ = (dt·2(σ/s)/s + g·(σ/s_p² − 1/σ))·sigmoid(ρ),   dμ = dm + g·(μ − m)/s_p²
 *
 * (the mixture: `a = −g·∂ log p/∂w`, `dρ = (dt·2(σ/s)/s + a·ε − g/σ)·sigmoid(ρ)`,
 * `dμ = dm + a`), with `dm` the gradient of the mean product `op(x, μ)`, which
 * takes μ from the op (`loc`) so that the two join in that pass; the tfjs
 * path takes about twenty passes (softplus, max, the scaled square and its
 * custom gradient, the divergence and its sum, and the sums joining the
 * gradients). `localOutputSample` is the output `m + (√v·s) ⊙ ζ` as one more
 * op (one pass each way where the tfjs ops take about twelve). Elsewhere —
 * other backends, the fast kernels off, prior parameters outside the fused
 * range, other dtypes, fewer than 4 output channels — the same arithmetic
 * runs as tfjs ops (`softplusScale`, `columnScale`, `scaledSquare`,
 * `normalKL` or `divergenceOf`'s Monte Carlo terms, `tf.sum`, `safeSqrt`),
 * which is also what the Bayesian layers ran before.
 */
import * as tf from '@tensorflow/tfjs-core';

import {HALF_LOG_TWO_PI, normalKL, normalLogProbOfNoise, normalSampleFromNoise, SCALE_FLOOR, softplusScale} from '../../distributions/normal';
import {MixturePassPrior, NormalPassPrior, varianceKernels} from '../../perf/variance_kernels';
import type {ScaleMixturePrior} from '../../priors/scale_mixture';
import type {NumberNormalPrior} from './fused_sample';

/** `tf.customGrad` for a function of one tensor (its typing wants a variadic function). */
function customGrad1(
    f: (x: tf.Tensor, save: tf.GradSaveFunc) => {value: tf.Tensor, gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor[]}):
    (x: tf.Tensor) => tf.Tensor {
  return tf.customGrad(f as unknown as Parameters<typeof tf.customGrad>[0]) as (x: tf.Tensor) => tf.Tensor;
}

/**
 * `sqrt(v)` for v ≥ 0 whose gradient is `dy/(2√v)` where v > 0 and 0 at
 * v = 0 (a pre-activation variance of 0: an all-zero input patch with a
 * deterministic bias), where autodiff would give `∞ · 0 = NaN`. The standard
 * deviation `sqrt(Σ x²σ²)` has derivative 0 in σ there, and 0 is the
 * symmetric subgradient of |x|·σ in x.
 */
export const safeSqrt = customGrad1((v: tf.Tensor, save: tf.GradSaveFunc) => {
  const value = tf.sqrt(v);
  save([value]);
  return {
    value,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [root] = saved as [tf.Tensor];
      const positive = tf.greater(root, 0);
      return [tf.where(positive, tf.div(dy, tf.mul(2, tf.where(positive, root, tf.onesLike(root)))), tf.zerosLike(dy))];
    },
  };
});

/**
 * Each output channel's largest entry of a positive `[rows, out]` tensor,
 * `[out]` (1 for an all-zero column), with a zero gradient: a rescaling
 * factor the result does not depend on (see `localReparameterizationOutput`).
 */
export const columnScale = customGrad1((t: tf.Tensor, save: tf.GradSaveFunc) => {
  save([t]);
  const m = tf.max(t, 0);
  return {value: tf.where(tf.greater(m, 0), m, tf.onesLike(m)), gradFunc: (_dy: tf.Tensor, saved: tf.Tensor[]) => [tf.zerosLike(saved[0])]};
});

/**
 * `(σ/s)²` for σ > 0 and a per-output-channel s (broadcast over the rows)
 * with σ's gradient `(dy·2(σ/s))/s` — the ops autodiff forms through
 * `tf.square(tf.div(σ, s))` — and a zero gradient for s. s is `columnScale`'s
 * output, whose own gradient is zero, so the result is the same; but tfjs's
 * Div gradient would form `−dy·σ/s²` over the whole kernel and sum it over the
 * rows (four passes per step) only for that zero to discard it.
 */
export const scaledSquare = tf.customGrad(((sigma: tf.Tensor, s: tf.Tensor, save: tf.GradSaveFunc) => {
  const t = tf.div(sigma, s);
  save([t, s]);
  return {
    value: tf.square(t),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [st, ss] = saved;
      return [tf.div(tf.mul(dy, tf.mul(st, 2)), ss), tf.zerosLike(ss)];
    },
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as (sigma: tf.Tensor, s: tf.Tensor) => tf.Tensor;

/** The kernel's terms of local reparameterization. */
export interface LocalVarianceTerms {
  /** `(σ/s)²`, the kernel's shape. */
  scaledSquare: tf.Tensor;
  /** s, `[out]` (no gradient). */
  scale: tf.Tensor;
  /** The divergence's sum, or null without a prior. */
  kl: tf.Scalar|null;
  /**
   * μ again (the same values, a new tensor), for the mean product `op(x, μ)`: on
   * the fused path with a prior an output of the op, so that the product's gradient in μ joins the
   * divergence's in the op's backward pass (no pass of its own to add them).
   */
  loc: tf.Tensor;
}

/**
 * The scale-mixture prior with the noise ε (the kernel's shape) of its one-draw
 * Monte Carlo divergence `Σ [log q(w) − log p(w)]` at `w = μ + σ ⊙ ε`.
 */
export interface MixtureDivergence {
  mixture: ScaleMixturePrior;
  eps: tf.Tensor;
}

/** The divergence `localVarianceTerms` adds: a Gaussian prior with number parameters, the scale mixture's Monte Carlo one, or none. */
export type VarianceDivergence = NumberNormalPrior|MixtureDivergence|null;

function isMixture(prior: VarianceDivergence): prior is MixtureDivergence {
  return prior !== null && 'mixture' in prior;
}

/** The prior parameters the fused pass takes (those of `normalSampleAndKL`). */
function inFusedRange(prior: NumberNormalPrior): boolean {
  return Number.isFinite(prior.loc) && Math.abs(prior.loc) < 1e30 && prior.scale >= 1e-30 && prior.scale <= 1e30;
}

let fusedCalls = 0;

/** How many times `localVarianceTerms` has run its fused forward pass (for tests and benchmarks). */
export function fusedVarianceCalls(): number {
  return fusedCalls;
}

/** `[rows, out]` for a kernel of `shape` (the output channels last). */
function rows2d(shape: number[]): [number, number] {
  const out = shape[shape.length - 1]!;
  return [out === 0 ? 0 : tf.util.sizeFromShape(shape) / out, out];
}

/** Whether the fused passes take (μ, ρ, σ_b, prior): float32 on the wasm backend, ≥ 4 output channels, a prior in range. */
function fusable(mu: tf.Tensor, rho: tf.Tensor, biasScale: tf.Tensor|null, prior: VarianceDivergence): boolean {
  if (rho.rank < 1 || rho.size === 0 || rho.shape[rho.rank - 1]! < 4) return false;
  const tensors = prior === null ? [rho] : [mu, rho];
  if (isMixture(prior)) {
    if (prior.mixture.fusedLogProbParams() === null || !tf.util.arraysEqual(prior.eps.shape, rho.shape)) return false;
    tensors.push(prior.eps);
  } else if (prior !== null && !inFusedRange(prior)) {
    return false;
  }
  return varianceKernels(...(biasScale === null ? tensors : [...tensors, biasScale])) !== null;
}

/** The pass parameters of a fusable divergence (ε as `[rows, out]`). */
function passPrior(prior: VarianceDivergence, eps2: tf.Tensor|null): NormalPassPrior|MixturePassPrior|null {
  if (prior === null) return null;
  if (isMixture(prior)) return {kind: 'mixture', eps: eps2!, ...prior.mixture.fusedLogProbParams()!, kq: HALF_LOG_TWO_PI};
  return {kind: 'normal', m: prior.loc, c: 1 / prior.scale, ls: Math.log(prior.scale)};
}

/** Whether `localVarianceTerms(mu, rho, biasScale, prior)` would run the fused passes. */
export function fusedVarianceAvailable(mu: tf.Tensor, rho: tf.Tensor, biasScale: tf.Tensor|null, prior: VarianceDivergence): boolean {
  return tf.util.arraysEqual(mu.shape, rho.shape) && fusable(mu, rho, biasScale, prior);
}

interface EngineInternals {
  runKernelFunc(params: {
    forwardFunc: (backend: unknown, save: tf.GradSaveFunc) => tf.Tensor[],
    backwardsFunc: (dys: tf.Tensor[], saved: tf.Tensor[]) => Record<string, () => tf.Tensor>,
    inputs: Record<string, tf.Tensor>,
  }): tf.Tensor[];
}

/** The tfjs ops of the same arithmetic (the layers' path before the fused op). */
function unfused(mu: tf.Tensor, rho: tf.Tensor, biasScale: tf.Tensor|null, prior: VarianceDivergence): LocalVarianceTerms {
  const [t, s, kl] = tf.tidy(() => {
    const sigma = softplusScale(rho);
    const out = sigma.shape[sigma.rank - 1]!;
    const kernelRows = tf.reshape(sigma, [-1, out]);
    const scale = columnScale(biasScale !== null ? tf.concat([kernelRows, tf.reshape(biasScale, [1, out])], 0) : kernelRows);
    const terms = [scaledSquare(sigma, scale), scale];
    if (isMixture(prior)) {
      // `divergenceOf`'s one-draw Monte Carlo estimate at w = μ + σ ⊙ ε.
      const w = normalSampleFromNoise(mu, sigma, prior.eps);
      terms.push(tf.sub(tf.sum(normalLogProbOfNoise(prior.eps, sigma)), tf.sum(prior.mixture.logProb(w))));
    } else if (prior !== null) {
      terms.push(tf.sum(normalKL(mu, sigma, prior.loc, prior.scale)));
    }
    return terms;
  });
  return {scaledSquare: t!, scale: s!, kl: kl === undefined ? null : kl as tf.Scalar, loc: tf.clone(mu)};
}

/**
 * `{scaledSquare: (σ/s)², scale: s, kl, loc}` for the kernel's μ and ρ (one shape,
 * the output channels last), σ = 10⁻⁵ + softplus(ρ), s each output channel's
 * largest scale (with `biasScale` σ_b `[out]` when the bias is Bayesian), and
 * `kl` the divergence of `prior`: `Σ KL(N(μ, σ²) ‖ N(m, s_p²))` for a Gaussian
 * prior with number parameters, the scale mixture's one-draw Monte Carlo
 * `Σ [log q(w) − log p(w)]` at `w = μ + σ ⊙ ε` for `{mixture, eps}` (what
 * `divergenceOf` computes from that ε), null without a prior (μ is then not
 * read). Differentiable in μ and ρ (and ε), with zero gradients for s and σ_b
 * (s is a constant rescaling). One fused op on wasm (see the module's
 * comment), the tfjs ops elsewhere.
 */
export function localVarianceTerms(
    mu: tf.Tensor, rho: tf.Tensor, biasScale: tf.Tensor|null, prior: VarianceDivergence): LocalVarianceTerms {
  if (!tf.util.arraysEqual(mu.shape, rho.shape) || rho.rank < 1) {
    throw new Error(`localVarianceTerms: expected mu and rho of one shape of rank ≥ 1. Received: mu [${mu.shape}], rho [${rho.shape}]`);
  }
  const out = rho.shape[rho.rank - 1];
  if (biasScale !== null && !tf.util.arraysEqual(biasScale.shape, [out])) {
    throw new Error(`localVarianceTerms: expected biasScale of shape [${out}] (the kernel's output channels). ` +
        `Received: [${biasScale.shape}]`);
  }
  if (isMixture(prior) && !tf.util.arraysEqual(prior.eps.shape, rho.shape)) {
    throw new Error(`localVarianceTerms: expected the mixture's eps of the kernel's shape [${rho.shape}]. Received: [${prior.eps.shape}]`);
  }
  if (!fusable(mu, rho, biasScale, prior)) return unfused(mu, rho, biasScale, prior);
  const [t, s, kl, loc] = tf.tidy(() => {
    const shape = rows2d(rho.shape);
    const eps2 = isMixture(prior) ? tf.reshape(prior.eps, shape) : null;
    const terms = fusedTerms(prior === null ? null : tf.reshape(mu, shape), tf.reshape(rho, shape), biasScale, passPrior(prior, eps2), eps2);
    const t = tf.reshape(terms[0]!, rho.shape);
    return prior === null ? [t, terms[1]!] : [t, terms[1]!, terms[2]!, tf.reshape(terms[3]!, rho.shape)];
  });
  return {scaledSquare: t!, scale: s!, kl: kl === undefined ? null : kl as tf.Scalar, loc: loc ?? tf.clone(mu)};
}

/**
 * The op on the `[rows, out]` views: `[t, s, kl, μ]` (`[t, s, kl]` without a
 * prior), one node on the tape (inputs μ and, for the mixture, ε — only with a
 * prior —, ρ and σ_b; σ_b's gradient zero). The backward runs the passes of the forward's backend even
 * if the fast kernels were switched off in between.
 */
function fusedTerms(mu: tf.Tensor|null, rho: tf.Tensor, biasScale: tf.Tensor|null,
    fusedPrior: NormalPassPrior|MixturePassPrior|null, eps: tf.Tensor|null): tf.Tensor[] {
  const kernels = varianceKernels(rho);
  if (kernels === null) throw new Error('the fused local-reparameterization passes are not available for these tensors');
  const engine = tf.engine() as unknown as EngineInternals;
  const backend = tf.engine().backend;
  const inputs: Record<string, tf.Tensor> = {rho};
  if (mu !== null) inputs['mu'] = mu;
  if (eps !== null) inputs['eps'] = eps;
  if (biasScale !== null) inputs['biasScale'] = biasScale;
  return engine.runKernelFunc({
    forwardFunc: (_backend, save) => {
      fusedCalls++;
      const r = kernels.localVariance(mu, rho, biasScale, SCALE_FLOOR, fusedPrior);
      // σ and sigmoid(ρ) for the backward (kept by `save`; not outputs), then μ and ε.
      const keep = [r.sigma, r.sigmoid, r.s];
      if (mu !== null) keep.push(mu);
      if (eps !== null) keep.push(eps);
      save(keep);
      tf.dispose([r.sigma, r.sigmoid]);
      // With μ an input, μ again as an output (zero-copy) for the mean product.
      return mu === null ? [r.t, r.s, tf.scalar(r.kl)] : [r.t, r.s, tf.scalar(r.kl), tf.clone(mu)];
    },
    backwardsFunc: (dys, saved) => {
      const [dt, , dkl, dm] = dys as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor|undefined];
      const [sSigma, sSigmoid, sS, sMu, sEps] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor|undefined, tf.Tensor|undefined];
      if (tf.engine().backend !== backend || dt.dtype !== 'float32' || !tf.util.arraysEqual(dt.shape, rho.shape)) {
        throw new Error(`the fused local-reparameterization terms' gradient must be float32 of shape [${rho.shape}] on its backend. ` +
            `Received: ${dt.dtype} [${dt.shape}] on ${tf.getBackend()}`);
      }
      const g = fusedPrior === null ? 0 : dkl.dataSync()[0]!;
      const pass = fusedPrior !== null && fusedPrior.kind === 'mixture' ? {...fusedPrior, eps: sEps!} : fusedPrior;
      const [dmu, drho] = kernels.localVarianceGrad(dt, dm ?? null, sMu ?? null, sSigma, sSigmoid, sS, g, pass);
      const grads: Record<string, () => tf.Tensor> = {rho: () => drho};
      if (dmu !== null) grads['mu'] = () => dmu;
      // ∂/∂ε = a·σ − g·ε with a = −g·∂ log p/∂w = dμ − dm (rarely needed: the noise is no variable).
      if (sEps !== undefined) grads['eps'] = () => tf.sub(tf.mul(tf.sub(dmu!, dm!), sSigma), tf.mul(sEps, g));
      if (biasScale !== null) grads['biasScale'] = () => tf.zerosLike(biasScale);
      return grads;
    },
    inputs,
  });
}

let outputCalls = 0;

/** How many times `localOutputSample` has run its fused forward pass (for tests and benchmarks). */
export function fusedOutputCalls(): number {
  return outputCalls;
}

/**
 * Local reparameterization's output `y = m + (√v·s) ⊙ ζ` for the mean `m`, the
 * variance over s² `v` and the noise `ζ` (one shape, the output channels last)
 * and the column scale `s` `[out]`, as `normalSampleFromNoise(m, safeSqrt(v)·s, ζ)`:
 * the gradients `dm = dy`, `dv = ((dy·ζ)·s)/(2√v)` where v > 0 (0 at v = 0),
 * none for s (a constant rescaling, see `localVarianceTerms`) and `dζ = dy·√v·s`.
 * On wasm with the fast kernels on (and at least 4 output channels) one SIMD
 * pass each way where the tfjs ops take about twelve; elsewhere those ops.
 */
export function localOutputSample(mean: tf.Tensor, variance: tf.Tensor, s: tf.Tensor, zeta: tf.Tensor): tf.Tensor {
  const out = variance.shape[variance.rank - 1];
  const same = tf.util.arraysEqual(mean.shape, variance.shape) && tf.util.arraysEqual(zeta.shape, variance.shape) &&
    out !== undefined && out >= 4 && variance.size > 0 && tf.util.arraysEqual(s.shape, [out]);
  if (!same || varianceKernels(mean, variance, s, zeta) === null) {
    return tf.tidy(() => tf.add(mean, tf.mul(tf.mul(safeSqrt(variance), s), zeta)));
  }
  const kernels = varianceKernels(variance)!;
  const engine = tf.engine() as unknown as EngineInternals;
  const backend = tf.engine().backend;
  const [y] = engine.runKernelFunc({
    forwardFunc: (_backend, save) => {
      outputCalls++;
      save([variance, s, zeta]);
      return [kernels.localOutput(mean, variance, s, zeta)];
    },
    backwardsFunc: (dys, saved) => {
      // (An op of one output gets its gradient alone, not in an array.)
      const dy = (Array.isArray(dys) ? dys[0] : dys) as tf.Tensor;
      const [sV, sS, sZ] = saved as [tf.Tensor, tf.Tensor, tf.Tensor];
      if (tf.engine().backend !== backend || dy.dtype !== 'float32' || !tf.util.arraysEqual(dy.shape, variance.shape)) {
        throw new Error(`the fused local-reparameterization output's gradient must be float32 of shape [${variance.shape}] on its backend. ` +
            `Received: ${dy.dtype} [${dy.shape}] on ${tf.getBackend()}`);
      }
      return {
        mean: () => tf.clone(dy),
        variance: () => kernels.localOutputGrad(dy, sV, sS, sZ),
        s: () => tf.zerosLike(sS),
        zeta: () => tf.mul(dy, tf.mul(tf.sqrt(sV), sS)),
      };
    },
    inputs: {mean, variance, s, zeta},
  });
  return y!;
}
