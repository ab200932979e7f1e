/**
 * What a stochastic layer does outside training (`predict`, `evaluate`):
 * draw as in training (`'sample'`: Monte Carlo predictions, an unbiased
 * held-out ELBO, generation) or return its distribution's mean (`'mean'`:
 * deterministic). At training every stochastic layer samples.
 */
import {checkOneOf} from '../util/validate';

export type InferenceMode = 'sample'|'mean';

const INFERENCE_MODES: readonly InferenceMode[] = ['sample', 'mean'];

/** Checks an `inferenceMode` argument, naming `where` in the error. */
export function checkInferenceMode(where: string, mode: unknown): InferenceMode {
  return checkOneOf(where, 'inferenceMode', mode, INFERENCE_MODES);
}
