/**
 * The replacements of tfjs-layers' `LayersModel` methods this library makes
 * on import — full-objective evaluation (`full_objective.ts`), the per-term
 * logs (`term_logs.ts`) and `compile`, which puts the latent layers in bound
 * mode for a bound loss (`objectives/latents.ts`) and appends the per-term
 * metrics — installed only on the tfjs versions they were tested on
 * (`util/tfjs_version.ts`); elsewhere they stay off with a warning until
 * `TFV_ALLOW_UNTESTED_TFJS` is set.
 */
import * as tfl from '@tensorflow/tfjs-layers';

import {configureLatents} from '../objectives/latents';
import {onUntestedTfjsAllowed, patchesAllowed} from '../util/tfjs_version';
import {isBoundLoss} from '../engine/log_weights';
import {setFullObjectiveEvaluation} from './full_objective';
import {appendTermMetrics, installTermLogs} from './term_logs';

const FEATURE = 'full-objective evaluation and per-term logs (replacements of LayersModel methods)';

let installed = false;
let listening = false;

/** Installs both when the tfjs version allows; returns whether they are installed. */
export function installModelPatches(): boolean {
  if (installed) return true;
  if (!listening) {
    listening = true;
    onUntestedTfjsAllowed(() => installModelPatches());
  }
  if (!patchesAllowed(FEATURE)) return false;
  setFullObjectiveEvaluation(true);
  installTermLogs();
  installCompile();
  installed = true;
  return true;
}

type Compile = (this: tfl.LayersModel, args: tfl.ModelCompileArgs) => void;

/** Marks our `compile` and holds tfjs's (a registered symbol: shared by every copy of the library). */
const ORIGINAL_COMPILE: unique symbol = Symbol.for('tfjs-variational.compile.original');

function installCompile(): void {
  const proto = tfl.LayersModel.prototype as unknown as {compile: Compile & {[ORIGINAL_COMPILE]?: Compile}};
  if (proto.compile[ORIGINAL_COMPILE] != null) return;
  const original = proto.compile;
  const compile = function(this: tfl.LayersModel, args: tfl.ModelCompileArgs) {
    original.call(this, args);
    const lossFunctions = (this as unknown as {lossFunctions?: unknown[]}).lossFunctions ?? [];
    const bound = lossFunctions.some(isBoundLoss);
    if (configureLatents(this, bound) === 0 && bound) {
      throw new Error(`compile: model '${this.name}' has a bound loss (tfv.objectives) but no ` +
          'tfv.layers.reparameterize layer to draw the per-sample log-weights it needs');
    }
    appendTermMetrics(this);
  } as Compile & {[ORIGINAL_COMPILE]?: Compile};
  Object.defineProperty(compile, ORIGINAL_COMPILE, {value: original});
  proto.compile = compile;
}
