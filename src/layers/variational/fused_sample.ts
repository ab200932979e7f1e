/**
 * A weight tensor's posterior sample and its Gaussian divergence as one op:
 *
 *     σ = 10⁻⁵ + softplus(ρ),   w = μ + σ ⊙ ε   (centered: Δ = σ ⊙ ε = w − μ),
 *     KL = Σ_i KL(N(μ_i, σ_i²) ‖ N(m, s²))
 *        = Σ_i (r_i·(½r_i) − ½ + d_i·(½d_i)) − (log σ_i − log s),   r = σ/s, d = (μ − m)/s,
 *
 * for a prior `N(m, s²)` with number parameters. On tfjs's wasm backend with
 * the fast kernels on (and at least 16 elements), the forward is one SIMD op
 * over (μ, ρ, ε) writing the sample and the KL's sum (float64, with Σ log σ
 * taken as the logarithm of a float64 product, so no log per weight) and,
 * while a gradient tape records, the three factors of its gradient,
 *
 *     a = (μ − m)/s²,   e = ε·sigmoid(ρ),   t = (σ/s² − 1/σ)·sigmoid(ρ),
 *
 * so that the backward is one multiply-add pass over (dw, a, e, t):
 *
 *     dμ = dw + g·a   (centered: g·a, plus the gradient of μ's pass-through),
 *     dρ = dw·e + g·t,   g = ∂loss/∂KL
 *
 * (`sample_normal_kl` and `sample_kl_grad` in
 * `src/perf/posterior_kernels.wat`), where the tfjs path takes about nine
 * passes (σ, the sample, the KL, its sum, and their gradients and the
 * additions joining them). Elsewhere — other backends, the fast kernels off,
 * prior parameters outside the fused range, tensors of other dtypes or
 * shapes, fewer than 16 elements — the same arithmetic runs as tfjs ops (`softplusScale`,
 * `normalSampleFromNoise`, `normalKL`, `tf.sum`), which is also what the
 * Bayesian layers ran before. The noise ε is the caller's (the layer's seeded
 * stream), so both paths use the same draws.
 *
 * `mixtureSampleAndKL` is the same op for the scale-mixture prior with one
 * Monte Carlo draw: the divergence is `Σ [log q(w) − log p(w)]` at the sample
 * itself (what `divergenceOf` computes from the same ε, in two more passes),
 * and its gradient's factors are a = −∂ log p/∂w at the sample,
 * e = ε·sigmoid(ρ) and t = (a·ε − 1/σ)·sigmoid(ρ), for the same backward pass.
 */
import * as tf from '@tensorflow/tfjs-core';

import {HALF_LOG_TWO_PI, normalKL, normalLogProbOfNoise, normalSampleFromNoise, SCALE_FLOOR, softplusScale} from '../../distributions/normal';
import {FUSED_SAMPLE_MIN_SIZE, FusedSample, PosteriorKernels, posteriorKernels} from '../../perf/posterior_kernels';
import {runTapeOp} from '../../perf/tape_op';
import type {ScaleMixturePrior} from '../../priors/scale_mixture';

/** A normal prior with number parameters, `N(loc, scale²)`. */
export interface NumberNormalPrior {
  loc: number;
  scale: number;
}

/** The sample (or perturbation) and the divergence's sum. */
export interface SampleAndDivergence {
  sample: tf.Tensor;
  kl: tf.Scalar;
  /**
   * With `passLoc` on the fused path: μ itself (the same data), to be used in
   * place of μ downstream, so that the gradient reaching μ there joins the
   * divergence's in the op's one backward pass instead of a separate addition.
   */
  loc?: tf.Tensor;
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

/** The fused passes for these tensors, when `priorFits` and they have at least 16 elements; else null. */
function kernelsFor(mu: tf.Tensor, rho: tf.Tensor, eps: tf.Tensor, priorFits: boolean): PosteriorKernels|null {
  return priorFits && mu.size >= FUSED_SAMPLE_MIN_SIZE ? posteriorKernels(mu, rho, eps) : null;
}

/** Whether `normalSampleAndKL(mu, rho, eps, prior, …)` would run the fused passes. */
export function fusedSampleAvailable(mu: tf.Tensor, rho: tf.Tensor, eps: tf.Tensor, prior: NumberNormalPrior): boolean {
  return kernelsFor(mu, rho, eps, inFusedRange(prior)) !== null;
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
export function normalSampleAndKL(mu: tf.Tensor, rho: tf.Tensor, eps: tf.Tensor, prior: NumberNormalPrior, centered = false,
    passLoc = false): SampleAndDivergence {
  checkShapes('normalSampleAndKL', mu, rho, eps);
  const kernels = kernelsFor(mu, rho, eps, inFusedRange(prior));
  if (kernels === null) return unfused(mu, rho, eps, prior, centered);
  const {loc: m, scale: s} = prior;
  const c = 1 / s;
  const ls = Math.log(s);
  return fusedOp(kernels, mu, rho, eps, centered, passLoc,
      (k, save) => k.sampleNormalKL(mu, rho, eps, SCALE_FLOOR, centered, m, c, ls, save));
}

/** The tfjs ops of the scale mixture's one-draw Monte Carlo KL (`divergenceOf`'s). */
function unfusedMixture(mu: tf.Tensor, rho: tf.Tensor, eps: tf.Tensor, prior: ScaleMixturePrior, centered: boolean): SampleAndDivergence {
  return tf.tidy(() => {
    const sigma = softplusScale(rho);
    const w = normalSampleFromNoise(mu, sigma, eps);
    const kl = tf.sub(tf.sum(normalLogProbOfNoise(eps, sigma)), tf.sum(prior.logProb(w))) as tf.Scalar;
    return {sample: centered ? tf.mul(sigma, eps) : w, kl};
  });
}

/** Whether `mixtureSampleAndKL(mu, rho, eps, prior, …)` would run the fused passes. */
export function fusedMixtureSampleAvailable(mu: tf.Tensor, rho: tf.Tensor, eps: tf.Tensor, prior: ScaleMixturePrior): boolean {
  return kernelsFor(mu, rho, eps, prior.fusedLogProbParams() !== null) !== null;
}

/**
 * The sample as `normalSampleAndKL` and the scale mixture's one-draw Monte
 * Carlo divergence at w = μ + σ ⊙ ε (the same ε),
 *
 *     KL ≈ Σ_i [log q(w_i) − log p(w_i)],   log q(w_i) = −½ε_i² − log σ_i − ½ log 2π,
 *
 * with `ScaleMixturePrior.logProb`'s log-space form of log p; one fused pass
 * each way on wasm (gradient: a = −g·∂ log p/∂w, dμ = dw + a (centered: a),
 * dρ = ((dw + a)·ε − g/σ)·sigmoid(ρ)), the tfjs ops of `divergenceOf` elsewhere.
 */
export function mixtureSampleAndKL(mu: tf.Tensor, rho: tf.Tensor, eps: tf.Tensor, prior: ScaleMixturePrior, centered = false,
    passLoc = false): SampleAndDivergence {
  checkShapes('mixtureSampleAndKL', mu, rho, eps);
  const params = prior.fusedLogProbParams();
  const kernels = kernelsFor(mu, rho, eps, params !== null);
  if (kernels === null || params === null) return unfusedMixture(mu, rho, eps, prior, centered);
  return fusedOp(kernels, mu, rho, eps, centered, passLoc,
      (k, save) => k.sampleMixtureKL(mu, rho, eps, SCALE_FLOOR, centered, params, HALF_LOG_TWO_PI, save));
}

function checkShapes(where: string, mu: tf.Tensor, rho: tf.Tensor, eps: tf.Tensor): void {
  if (!tf.util.arraysEqual(eps.shape, mu.shape) || !tf.util.arraysEqual(rho.shape, mu.shape)) {
    throw new Error(`${where}: expected mu, rho and eps of one shape. ` +
        `Received: mu [${mu.shape}], rho [${rho.shape}], eps [${eps.shape}]`);
  }
}

/**
 * The op of one forward pass `forward` (the sample and the divergence's sum)
 * and one backward pass (dμ and dρ from the sample's gradient dw, the sum's
 * g and the three factors the forward saved), registered on the tape as one
 * node with two outputs (three with `passLoc`: μ's pass-through, whose
 * gradient is added to dμ in the same pass). The forward computes the factors
 * only while a gradient tape records (training), and the node keeps them
 * without a copy (`runTapeOp`); a plain forward pass writes the sample alone. The backward pass runs on the forward's
 * backend even if the fast kernels were switched off in between. The noise ε
 * is a constant to this op: asking for its gradient is an error (the layers
 * never do; the tfjs path, with the fast kernels off, gives it).
 */
function fusedOp(kernels: PosteriorKernels, mu: tf.Tensor, rho: tf.Tensor, eps: tf.Tensor, centered: boolean, passLoc: boolean,
    forward: (k: PosteriorKernels, save: boolean) => FusedSample): SampleAndDivergence {
  const backend = tf.engine().backend;
  const outputs = runTapeOp({mu, rho, eps}, (taping) => {
    fusedCalls++;
    const out = forward(kernels, taping);
    const results = [out.sample, tf.scalar(out.kl)];
    // μ's pass-through shares μ's data (a reshape copies nothing).
    if (passLoc) results.push(tf.reshape(mu, mu.shape));
    return {outputs: results, kept: out.factors ?? []};
  }, (dys, saved) => {
    const [dw, dkl, dloc] = dys;
    const ok = (t: tf.Tensor|undefined) => t !== undefined && t.dtype === 'float32' && tf.util.arraysEqual(t.shape, mu.shape);
    if (tf.engine().backend !== backend || !ok(dw) || (passLoc && !ok(dloc)) || saved.length !== 3) {
      throw new Error(`the fused posterior sample's gradient must be float32 of shape [${mu.shape}] on its backend, ` +
          `from a forward pass recorded by the tape. Received: ${dw.dtype} [${dw.shape}] on ${tf.getBackend()}`);
    }
    const g = dkl.dataSync()[0];
    const grads = kernels.sampleKLGrad(dw, saved, centered, g, passLoc ? dloc : undefined);
    return {
      mu: () => grads[0],
      rho: () => grads[1],
      eps: () => {
        throw new Error('the fused posterior sample treats its noise ε as a constant and gives no gradient for it; ' +
            'with the fast wasm kernels off (disableFastWasmKernels) the tfjs ops give ∂/∂ε');
      },
    };
  });
  return {sample: outputs[0], kl: outputs[1] as tf.Scalar, ...(passLoc ? {loc: outputs[2]} : {})};
}
