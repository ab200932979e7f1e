/**
 * The two replacements of tfjs-layers' `LayersModel` methods this library
 * makes on import — full-objective evaluation (`full_objective.ts`) and the
 * per-term logs (`term_logs.ts`) — installed only on the tfjs versions they
 * were tested on (`util/tfjs_version.ts`); elsewhere they stay off with a
 * warning until `TFV_ALLOW_UNTESTED_TFJS` is set.
 */
import {onUntestedTfjsAllowed, patchesAllowed} from '../util/tfjs_version';
import {setFullObjectiveEvaluation} from './full_objective';
import {installTermLogs} from './term_logs';

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
  installed = true;
  return true;
}
