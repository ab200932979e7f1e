/**
 * Lifetime of the loss tensors our layers attach through `Layer.addLoss`.
 *
 * tfjs-layers reads layer losses by calling the closures given to `addLoss`
 * (`Container.calculateLosses`) after the forward pass of a training step,
 * inside the optimizer's gradient tape. A divergence computed in `call()`
 * must therefore outlive the scopes `call()` runs in (a model applied as a
 * layer runs its graph inside `tidy`), and still be freed once the step is
 * over. `LayerLossBuffer` does that:
 *
 * - `record(key, t)` keeps `t` (so no enclosing `tidy` frees it) and queues
 *   it, once per application `key` (see `applicationKey`);
 * - the closure registered once per layer calls `take()`, which returns the
 *   sum of everything queued since the last read — every application of the
 *   layer in the step counts once — and moves the queued tensors to a
 *   "consumed" list;
 * - consumed tensors are disposed at the next `record` (the next step: their
 *   gradients have been taken by then) or on `dispose()`.
 *
 * Evaluation (see `full_objective.ts`) runs the forward pass inside
 * `collectLayerLosses`, which routes recorded tensors to a collector instead,
 * so evaluation never mixes with a training step's queue.
 */
import * as tf from '@tensorflow/tfjs-core';

/** Unread tensors beyond this many mean nobody reads the layer's losses. */
const MAX_PENDING = 256;

interface Collector {
  losses: tf.Scalar[];
  keys: Set<string>;
  /** Each buffer's logged terms (see `LayerLossBuffer.record`), for the metrics of this evaluation. */
  terms: Map<LayerLossBuffer, tf.Scalar[]>;
}
const collectors: Collector[] = [];

/**
 * Runs `fn` with every layer loss recorded during it routed to a list, and
 * returns `fn`'s result with the sum of those losses (a scalar, 0 if none).
 * The summed tensor belongs to the caller's scope; the recorded ones are freed.
 */
export function collectLayerLosses<T>(fn: () => T): {result: T, layerLoss: tf.Scalar} {
  const bucket: Collector = {losses: [], keys: new Set(), terms: new Map()};
  collectors.push(bucket);
  let result: T;
  try {
    result = fn();
  } finally {
    collectors.pop();
    tf.dispose([...bucket.terms.values()].flat());
  }
  const {losses} = bucket;
  const layerLoss = sumOrZero(losses);
  tf.dispose(losses);
  return {result, layerLoss};
}

/** The sum of `scalars` as a new tensor (0 when empty). */
function sumOrZero(scalars: tf.Scalar[]): tf.Scalar {
  return scalars.length === 0 ? tf.scalar(0) :
      scalars.length === 1 ? tf.clone(scalars[0]) : tf.addN(scalars) as tf.Scalar;
}

/** True while an evaluation collects layer losses (layers then record even when not training). */
export function isCollectingLayerLosses(): boolean {
  return collectors.length > 0;
}

/**
 * The identity of one application of a layer: the ids of its input tensors
 * and the layer's own id. tfjs-layers' executor calls `apply` once per
 * output tensor a graph needs, so a layer with two outputs (`[mu, logVar]`)
 * runs twice on the same inputs in one forward pass; that must count once.
 */
export function applicationKey(layerId: number, inputs: tf.Tensor[]): string {
  return `${layerId}:${inputs.map((t) => t.id).join(',')}`;
}

export class LayerLossBuffer {
  private pending: tf.Scalar[] = [];
  private pendingTerms: tf.Scalar[] = [];
  private pendingKeys = new Set<string>();
  private consumed: tf.Scalar[] = [];
  private warned = false;

  constructor(private readonly owner: string) {}

  /**
   * Whether the application `key` (see `applicationKey`) was recorded since
   * the losses were last read; callers skip computing the loss again.
   */
  has(key: string): boolean {
    const bucket = collectors[collectors.length - 1];
    return bucket !== undefined ? bucket.keys.has(key) : this.pendingKeys.has(key);
  }

  /**
   * Queues the loss (a scalar) of application `key`, and `term`, the same
   * divergence as it enters the ELBO (without β or free bits), which the
   * per-term logs read through `currentTerm()`. Takes ownership of both.
   */
  record(key: string, loss: tf.Scalar, term: tf.Scalar): void {
    tf.keep(loss);
    tf.keep(term);
    const bucket = collectors[collectors.length - 1];
    if (bucket !== undefined) {
      bucket.losses.push(loss);
      bucket.keys.add(key);
      const terms = bucket.terms.get(this);
      if (terms === undefined) bucket.terms.set(this, [term]); else terms.push(term);
      return;
    }
    this.releaseConsumed();
    this.pending.push(loss);
    this.pendingTerms.push(term);
    this.pendingKeys.add(key);
    if (this.pending.length > MAX_PENDING) {
      tf.dispose([this.pending.shift(), this.pendingTerms.shift()]);
      if (!this.warned) {
        this.warned = true;
        console.warn(
            `${this.owner}: more than ${MAX_PENDING} losses were recorded and never read; ` +
            'apply the layer with {training: true} only inside model.fit or read model.calculateLosses().');
      }
    }
  }

  /** The sum of the queued losses (a new scalar; 0 if none), clearing the queue. */
  take(): tf.Scalar {
    const queued = this.pending;
    this.pending = [];
    this.pendingKeys.clear();
    this.consumed.push(...queued, ...this.pendingTerms);
    this.pendingTerms = [];
    // A fresh tensor, so callers may dispose the result without touching the queue.
    return sumOrZero(queued);
  }

  /**
   * The sum of the terms recorded in the current step — those queued and not
   * read yet, or, during an evaluation, those this evaluation collected — as
   * a new scalar (0 if none). Reading does not consume them: tfjs computes a
   * step's metrics before it reads the layer losses.
   */
  currentTerm(): tf.Scalar {
    const bucket = collectors[collectors.length - 1];
    return sumOrZero(bucket !== undefined ? bucket.terms.get(this) ?? [] : this.pendingTerms);
  }

  /** Frees everything held. */
  dispose(): void {
    this.releaseConsumed();
    tf.dispose([...this.pending, ...this.pendingTerms]);
    this.pending = [];
    this.pendingTerms = [];
    this.pendingKeys.clear();
  }

  private releaseConsumed(): void {
    if (this.consumed.length > 0) {
      tf.dispose(this.consumed);
      this.consumed = [];
    }
  }
}
