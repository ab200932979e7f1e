/**
 * KL annealing: changes β of every divergence layer during `model.fit` (a
 * scheduled scalar whose setter is `setKLWeight`).
 */
import * as tfl from '@tensorflow/tfjs-layers';

import {isKLWeighted, KLWeighted} from '../layers/kl_weight';
import {modelLayers} from '../layers/model_layers';
import {checkKnownOptions} from '../util/validate';
import {ScheduledScalar} from './scheduled_scalar';

export interface KLAnnealingArgs {
  /**
   * β as a function of the step: the epoch index (from 0) when `unit` is
   * `'epoch'`, the global batch index (from 0, counted across epochs) when
   * `unit` is `'batch'`. Must return a finite number.
   */
  schedule: (step: number) => number;
  /** When β changes: at the start of each `'epoch'` (default) or each `'batch'`. */
  unit?: 'epoch'|'batch';
  /**
   * The layers to anneal. Default: every layer of the model with a divergence
   * multiplier (KLDivergenceLayer, BayesianDense, GumbelSoftmax, …), nested models included.
   */
  layers?: KLWeighted[];
}

/** Every layer of `model` with a divergence multiplier (`setKLWeight`), searching nested models. */
export function findKLLayers(model: {layers: tfl.layers.Layer[]}): KLWeighted[] {
  return modelLayers(model.layers).filter((layer): layer is tfl.layers.Layer & KLWeighted => isKLWeighted(layer));
}

/**
 * Sets `β = schedule(step)` on the KL layers before each epoch or batch, e.g.
 * a linear warm-up over the first 10 epochs (Bowman et al. 2016,
 * arXiv:1511.06349):
 *
 * ```js
 * await vae.fit(x, x, {epochs: 30, callbacks: [
 *   tfv.callbacks.klAnnealing({schedule: (epoch) => Math.min(1, epoch / 10)})]});
 * ```
 *
 * β is the layers' non-trainable weight `kl_weight`; the current value is
 * reported in the epoch logs as `kl_weight`. A `ScheduledScalar` with the
 * setter `setKLWeight`.
 */
export class KLAnnealing extends ScheduledScalar {
  constructor(args: KLAnnealingArgs) {
    if (args != null && typeof args === 'object') checkKnownOptions('klAnnealing', args, ['schedule', 'unit', 'layers']);
    super({...args, setter: 'setKLWeight', logName: 'kl_weight'});
  }

  protected override callbackName(): string {
    return 'klAnnealing';
  }

  protected override targetDescription(): string {
    return 'a divergence multiplier (setKLWeight)';
  }

  protected override findTargets(model: {layers: tfl.layers.Layer[]}): object[] {
    return findKLLayers(model);
  }
}

/** A callback that anneals β of the model's KL layers; see `KLAnnealing`. */
export function klAnnealing(args: KLAnnealingArgs): KLAnnealing {
  return new KLAnnealing(args);
}
