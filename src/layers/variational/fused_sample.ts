/**
 * A weight tensor's posterior sample and its Gaussian divergence as one op:
 *
 *     σ = 10⁻⁵ + softplus(ρ),   w = μ + σ ⊙ ε   (centered: Δ = σ ⊙ ε = w − μ),
 *     KL = Σ_i KL(N(μ_i, σ_i²) ‖ N(m, s²))
 *        = Σ_i (r_i·(½r_i) − ½ + d_i·(½d_i)) − (log σ_i − log s),   r = σ/s, d = (μ − m)/s,
 *
 * for a prior `N(m, s²)` with number parameters. On tfjs's wasm backend with
 * the fast kernels on, the forward is one SIMD pass over (μ, ρ, ε) writing
 * the sample and returning the KL's sum (accumulated in float64), and the
 * backward one pass over (dw, μ, ρ, ε) writing
 *
 *     dμ = dw + g·(μ − m)/s²   (centered: g·(μ − m)/s²),
 *     dρ = (dw·ε + g·(σ/s² − 1/σ))·sigmoid(ρ),   g = ∂loss/∂KL,
 *
 * with σ and sigmoid(ρ) recomputed from ρ (`sample_normal_kl` in
 * `src/perf/posterior_kernels.wat`), where the tfjs path takes about nine
 * passes (σ, the sample, the KL, its sum, and their gradients and the
 * additions joining them). Elsewhere — other backends, the fast kernels off,
 * prior parameters outside the fused range, tensors of other dtypes or
 * shapes — the same arithmetic runs as tfjs ops (`softplusScale`,
 * `normalSampleFromNoise`, `normalKL`, `tf.sum`), which is also what the
 * Bayesian layers ran before. The noise ε is the caller's (the layer's seeded
 * stream), so both paths use the same draws.
 */
import * as tf from '@tensorflow/tfjs-core';

import {normalKL, normalSampleFromNoise, SCALE_FLOOR, softplusScale} from '../../distributions/normal';
import {posteriorKernels} from '../../perf/posterior_kernels';

/** A normal prior with number parameters, `N(loc, scale²)`. */
export interface NumberNormalPrior {
  loc: number;
  scale: number;
}

/** The sample (or perturbation) and the divergence's sum. */
export interface SampleAndDivergence {
  sample: tf.Tensor;
  kl: tf.Scalar;
}

/** The prior parameters the fused pass takes (those of `normalKL`'s own fused pass). */
function inFusedRange(prior: NumberNormalPrior): boolean {
  return Number.isFinite(prior.loc) && Math.abs(prior.loc) < 1e30 && prior.scale >= 1e-30 && prior.scale <= 1e30;
}

let fusedCalls = 0;

/** How many times `normalSampleAndKL` has run its fused forward pass (for tests and benchmarks). */
export function fusedSampleCalls(): number {
  return fusedCalls;
}

/** Whether `normalSampleAndKL(mu, rho, eps, prior, …)` would run the fused passes. */
export function fusedSampleAvailable(mu: tf.Tensor, rho: tf.Tensor, eps: tf.Tensor, prior: NumberNormalPrior): boolean {
  return inFusedRange(prior) && posteriorKernels(mu, rho, eps) !== null;
}

interface EngineInternals {
  runKernelFunc(params: {
    forwardFunc: (backend: unknown, save: tf.GradSaveFunc) => tf.Tensor[],
    backwardsFunc: (dys: tf.Tensor[], saved: tf.Tensor[]) => Record<string, () => tf.Tensor>,
    inputs: Record<string, tf.Tensor>,
  }): tf.Tensor[];
}

/** The tfjs ops of the same arithmetic (the layers' path before the fused op). */
function unfused(mu: tf.Tensor, rho: tf.Tensor, eps: tf.Tensor, prior: NumberNormalPrior, centered: boolean): SampleAndDivergence {
  return tf.tidy(() => {
    const sigma = softplusScale(rho);
    const sample = centered ? tf.mul(sigma, eps) : normalSampleFromNoise(mu, sigma, eps);
    return {sample, kl: tf.sum(normalKL(mu, sigma, prior.loc, prior.scale)) as tf.Scalar};
  });
}

/**
 * `{sample: μ + σ ⊙ ε (or σ ⊙ ε when centered), kl: Σ KL(N(μ, σ²) ‖ N(m, s²))}`,
 * σ = 10⁻⁵ + softplus(ρ), differentiable in μ and ρ (and ε); one fused pass
 * each way on wasm (see the module's comment), the tfjs ops elsewhere.
 * `mu`, `rho` and `eps` have one shape.
 */
export function normalSampleAndKL(
    mu: tf.Tensor, rho: tf.Tensor, eps: tf.Tensor, prior: NumberNormalPrior, centered = false): SampleAndDivergence {
  if (!tf.util.arraysEqual(eps.shape, mu.shape) || !tf.util.arraysEqual(rho.shape, mu.shape)) {
    throw new Error(`normalSampleAndKL: expected mu, rho and eps of one shape. ` +
        `Received: mu [${mu.shape}], rho [${rho.shape}], eps [${eps.shape}]`);
  }
  if (!fusedSampleAvailable(mu, rho, eps, prior)) return unfused(mu, rho, eps, prior, centered);
  const {loc: m, scale: s} = prior;
  const c = 1 / s;
  const ls = Math.log(s);
  const engine = tf.engine() as unknown as EngineInternals;
  const [sample, kl] = engine.runKernelFunc({
    forwardFunc: (_backend, save) => {
      save([mu, rho, eps]);
      const k = posteriorKernels(mu, rho, eps);
      if (k === null) throw new Error('normalSampleAndKL: the fused passes became unavailable');
      fusedCalls++;
      const out = k.sampleNormalKL(mu, rho, eps, SCALE_FLOOR, centered, m, c, ls);
      return [out.sample, tf.scalar(out.kl)];
    },
    backwardsFunc: (dys, saved) => {
      const [dw, dkl] = dys;
      const [sMu, sRho, sEps] = saved;
      const g = dkl.dataSync()[0];
      const kg = posteriorKernels(dw, sMu, sRho, sEps);
      let grads: tf.Tensor[];
      if (kg !== null) {
        grads = kg.sampleNormalKLGrad(dw, sMu, sRho, sEps, SCALE_FLOOR, centered, g, m, c);
      } else {
        // The fast kernels were switched off between the forward and the backward pass.
        grads = tf.grads((a: tf.Tensor, b: tf.Tensor) => {
          const u = unfused(a, b, sEps, prior, centered);
          return tf.add(tf.sum(tf.mul(u.sample, dw)), tf.mul(u.kl, g));
        })([sMu, sRho]);
      }
      return {
        mu: () => grads[0],
        rho: () => grads[1],
        eps: () => tf.mul(dw, softplusScale(sRho)),
      };
    },
    inputs: {mu, rho, eps},
  });
  return {sample, kl: kl as tf.Scalar};
}
