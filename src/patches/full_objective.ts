/**
 * The full objective on held-out data.
 *
 * tfjs-layers' `evaluate` and `fit`'s validation compute only the compiled
 * (data) loss and drop every `addLoss` term, so a VAE's `val_loss` would
 * miss its KL divergence. Importing this package replaces
 * `LayersModel.prototype.makeTestFunction` with one that reports
 *
 *     loss = Σ_outputs mean(compiled loss) + Σ layer losses
 *
 * — for a VAE the full negative ELBO — and lists each output's loss and each
 * metric in the order of `model.metricsNames` (tfjs 4.22's own test function
 * misaligns them for models with several outputs). Layer losses include our
 * divergences and tfjs's weight regularizers, as in Keras.
 * `setFullObjectiveEvaluation(false)` restores tfjs's original.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

import {batchObjective, CompiledModel} from '../objectives/batch_objective';

type MakeTestFunction = (this: tfl.LayersModel) => void;
const proto = tfl.LayersModel.prototype as unknown as {makeTestFunction: MakeTestFunction};
const originalMakeTestFunction: MakeTestFunction = proto.makeTestFunction;

function makeFullObjectiveTestFunction(this: tfl.LayersModel): void {
  const m = this as unknown as CompiledModel;
  m.testFunction = (data: tf.Tensor[]) => tf.tidy(() => {
    const nIn = m.inputs.length;
    const nOut = m.outputs.length;
    const r = batchObjective(m, data.slice(0, nIn), data.slice(nIn, nIn + nOut));
    // metricsTensors already holds each output's loss first when there are several outputs.
    return [r.total, ...r.metrics];
  });
}

/**
 * Switches full-objective evaluation on (the default once this package is
 * imported) or back to tfjs's original, which drops layer losses.
 */
export function setFullObjectiveEvaluation(enabled: boolean): void {
  if (typeof enabled !== 'boolean') {
    throw new Error(`setFullObjectiveEvaluation: expected enabled to be a boolean. Received: enabled=${enabled}`);
  }
  proto.makeTestFunction = enabled ? makeFullObjectiveTestFunction : originalMakeTestFunction;
}

/** Whether `evaluate` and validation currently report the full objective. */
export function isFullObjectiveEvaluation(): boolean {
  return proto.makeTestFunction === makeFullObjectiveTestFunction;
}
