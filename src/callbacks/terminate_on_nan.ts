/**
 * Stops training at the first batch whose loss is not finite (Keras's
 * `TerminateOnNaN`).
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

import {checkKnownOptions} from '../util/validate';

export interface TerminateOnNaNArgs {
  /**
   * What to do at a non-finite loss: `'stop'` (default) ends `fit` after the
   * batch, as Keras does, and prints a warning; `'throw'` makes `fit` reject
   * with the same message.
   */
  action?: 'stop'|'throw';
}

/** Where training stopped. */
export interface NonFiniteLoss {
  /** Epoch index (from 0, as in tfjs's callbacks). */
  epoch: number;
  /** Batch index within the epoch (from 0). */
  batch: number;
  /** The loss seen: NaN, Infinity or -Infinity. */
  loss: number;
}

/**
 * A callback that ends `fit` at the first batch whose training loss is NaN
 * or ±∞ — one bad input pixel, targets outside a likelihood's support, or a
 * diverging step would otherwise turn every weight NaN silently — and says
 * where:
 *
 * ```js
 * await vae.fit(x, x, {epochs: 10, callbacks: [tfv.callbacks.terminateOnNaN()]});
 * // warns: "terminateOnNaN: the loss of epoch 0, batch 3 is NaN; training stopped."
 * ```
 *
 * The batch's weights have already been updated when its loss is seen (as
 * in Keras). Cost: one read of the scalar loss per batch (which tfjs's own
 * progress logging also does).
 */
export class TerminateOnNaN extends tfl.Callback {
  private readonly action: 'stop'|'throw';
  private epoch = 0;
  /** Where the last `fit` stopped, or `null` when every loss was finite. */
  stoppedAt: NonFiniteLoss|null = null;

  constructor(args: TerminateOnNaNArgs = {}) {
    super();
    checkKnownOptions('terminateOnNaN', args, ['action']);
    const action = args.action ?? 'stop';
    if (action !== 'stop' && action !== 'throw') {
      throw new Error(`terminateOnNaN: expected action to be one of 'stop', 'throw'. Received: action=${String(action)}`);
    }
    this.action = action;
  }

  override async onTrainBegin(): Promise<void> {
    this.stoppedAt = null;
  }

  override async onEpochBegin(epoch: number): Promise<void> {
    this.epoch = epoch;
  }

  override async onBatchEnd(batch: number, logs?: tfl.Logs): Promise<void> {
    // tfjs hands callbacks unresolved logs: the loss may still be a scalar tensor.
    const raw = (logs as {loss?: number|tf.Scalar}|undefined)?.loss;
    if (raw == null) return;
    const loss = typeof raw === 'number' ? raw : (await raw.data())[0];
    if (Number.isFinite(loss)) return;
    this.stoppedAt = {epoch: this.epoch, batch, loss};
    const message = `terminateOnNaN: the loss of epoch ${this.epoch}, batch ${batch} is ${loss}; training stopped.`;
    this.model.stopTraining = true;
    if (this.action === 'throw') throw new Error(message);
    console.warn(message);
  }
}

/** A callback that stops `fit` at the first non-finite batch loss; see `TerminateOnNaN`. */
export function terminateOnNaN(args?: TerminateOnNaNArgs): TerminateOnNaN {
  return new TerminateOnNaN(args);
}
