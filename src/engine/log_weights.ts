/**
 * The per-step channel of per-sample log-weights (see docs/architecture.md,
 * "Multi-sample objectives").
 *
 * A latent layer that drew k samples per example records, in its forward
 * pass, `log p(z) − log q(z|x)` as a `[batch, k]` tensor; a bound loss
 * (`src/objectives/bounds.ts`), called by tfjs right after the forward pass
 * inside the same gradient tape, takes the sum of what was recorded and adds
 * the likelihood half. The rules follow the loss buffer's
 * (`layer_losses.ts`): recorded tensors are kept (the forward pass may run
 * inside `tidy`) until taken; taken tensors stay alive until the next record,
 * when their gradients have been computed, and are freed then.
 *
 * Also here: the scope in which `estimateLogLikelihood` runs a model — latent
 * layers emit and draw a given number of samples per example — and the
 * marker by which other modules recognise a bound loss.
 */
import * as tf from '@tensorflow/tfjs-core';

/** Unread records beyond this many mean nobody reads them (a model emitting without a bound loss). */
const MAX_PENDING = 64;

let pending: tf.Tensor[] = [];
let consumed: tf.Tensor[] = [];
let warned = false;

/** Records a latent layer's `[batch, k]` log-weights for the bound loss of this step. Takes ownership. */
export function recordLogWeights(owner: string, logWeights: tf.Tensor): void {
  if (logWeights.rank !== 2) {
    throw new Error(`${owner}: log-weights must be [batch, samples]. Received: shape [${logWeights.shape}]`);
  }
  tf.keep(logWeights);
  if (consumed.length > 0) {
    tf.dispose(consumed);
    consumed = [];
  }
  pending.push(logWeights);
  if (pending.length > MAX_PENDING) {
    tf.dispose(pending.shift());
    if (!warned) {
      warned = true;
      console.warn(`${owner}: more than ${MAX_PENDING} per-sample log-weights were recorded and never read ` +
          '(the model emits them for a bound loss, but its loss does not read them).');
    }
  }
}

/**
 * The sum of the log-weights recorded since the last take, `[batch, k]` (a
 * new tensor in the caller's scope), checked against the batch and sample
 * count the bound loss sees. `where` names the bound in errors.
 */
export function takeLogWeights(where: string, batch: number, k: number): tf.Tensor {
  const taken = pending;
  pending = [];
  consumed.push(...taken);
  if (taken.length === 0) {
    throw new Error(
        `${where}: no latent layer recorded per-sample log-weights in this forward pass. A bound loss needs ` +
        'a tfv.layers.reparameterize layer in the model (compile the model with this loss, or call ' +
        'tfv.estimateLogLikelihood, so that it emits them).');
  }
  for (const t of taken) {
    if (t.shape[0] !== batch || t.shape[1] !== k) {
      throw new Error(
          `${where}: the latent layer drew [${t.shape}] samples ([batch, samples]) but the decoder output holds ` +
          `${k} sample(s) for each of ${batch} examples. Every latent layer of a model must draw the same number ` +
          'of samples per example, and the output must keep their example-major rows.');
    }
  }
  return taken.length === 1 ? tf.clone(taken[0]) : tf.addN(taken);
}

/** Frees every recorded and taken tensor (after an estimation run, and in tests). */
export function clearLogWeights(): void {
  tf.dispose([...pending, ...consumed]);
  pending = [];
  consumed = [];
}

/** The sampling scope of `estimateLogLikelihood`: latent layers emit, with this many samples per example. */
interface EstimationScope {
  samples: number;
}

const scopes: EstimationScope[] = [];

/** Runs `fn` with every latent layer emitting log-weights and drawing `samples` samples per example. */
export function withEstimationScope<T>(samples: number, fn: () => T): T {
  scopes.push({samples});
  try {
    return fn();
  } finally {
    scopes.pop();
  }
}

/** The sample count the current estimation scope imposes, or null outside one. */
export function estimationSamples(): number|null {
  return scopes.length === 0 ? null : scopes[scopes.length - 1].samples;
}

/**
 * Marks bound losses (a registered symbol: an ESM and a CJS copy of the
 * library recognise each other's). Their `logTerms` give, for the call just
 * made on the same tensors, the k-sample Monte Carlo terms of the ELBO.
 */
export const BOUND_LOSS: unique symbol = Symbol.for('tfjs-variational.boundLoss');

/** What the logs and `evaluateObjective` read of a bound loss. */
export interface BoundLossTerms {
  /** `mean over samples of −log p(x|z)` per example, `[batch]`. */
  reconstruction: tf.Tensor;
  /** `mean over samples of log q(z|x) − log p(z)` per example, `[batch]`. */
  kl: tf.Tensor;
}

export interface BoundLossLike {
  (yTrue: tf.Tensor, yPred: tf.Tensor): tf.Tensor;
  [BOUND_LOSS]: true;
  /** The terms of the last call on exactly these tensors (same step), or null. */
  logTerms(yTrue: tf.Tensor, yPred: tf.Tensor): BoundLossTerms|null;
}

export function isBoundLoss(fn: unknown): fn is BoundLossLike {
  return typeof fn === 'function' && (fn as Partial<BoundLossLike>)[BOUND_LOSS] === true;
}
