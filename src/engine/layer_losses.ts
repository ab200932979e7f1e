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
 * - `record(t)` keeps `t` (so no enclosing `tidy` frees it) and queues it;
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

type Collector = tf.Scalar[];
const collectors: Collector[] = [];

/**
 * Runs `fn` with every layer loss recorded during it routed to a list, and
 * returns `fn`'s result with the sum of those losses (a scalar, 0 if none).
 * The summed tensor belongs to the caller's scope; the recorded ones are freed.
 */
export function collectLayerLosses<T>(fn: () => T): {result: T, layerLoss: tf.Scalar} {
  const bucket: Collector = [];
  collectors.push(bucket);
  let result: T;
  try {
    result = fn();
  } finally {
    collectors.pop();
  }
  const layerLoss = bucket.length === 0 ? tf.scalar(0) :
      bucket.length === 1 ? tf.clone(bucket[0]) : tf.addN(bucket) as tf.Scalar;
  tf.dispose(bucket);
  return {result, layerLoss};
}

/** True while an evaluation collects layer losses (layers then record even when not training). */
export function isCollectingLayerLosses(): boolean {
  return collectors.length > 0;
}

export class LayerLossBuffer {
  private pending: tf.Scalar[] = [];
  private consumed: tf.Scalar[] = [];
  private warned = false;

  constructor(private readonly owner: string) {}

  /** Queues one application's loss (a scalar). Takes ownership of `loss`. */
  record(loss: tf.Scalar): void {
    tf.keep(loss);
    const bucket = collectors[collectors.length - 1];
    if (bucket !== undefined) {
      bucket.push(loss);
      return;
    }
    this.releaseConsumed();
    this.pending.push(loss);
    if (this.pending.length > MAX_PENDING) {
      tf.dispose(this.pending.shift());
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
    this.consumed.push(...queued);
    if (queued.length === 0) return tf.scalar(0);
    // A fresh tensor, so callers may dispose the result without touching the queue.
    return queued.length === 1 ? tf.clone(queued[0]) : tf.addN(queued) as tf.Scalar;
  }

  /** Frees everything held. */
  dispose(): void {
    this.releaseConsumed();
    tf.dispose(this.pending);
    this.pending = [];
  }

  private releaseConsumed(): void {
    if (this.consumed.length > 0) {
      tf.dispose(this.consumed);
      this.consumed = [];
    }
  }
}
