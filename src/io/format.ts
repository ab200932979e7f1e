/** The names and the integrity record that saving and loading share (see `load.ts` for the record). */
import type {NodeModules} from './node_modules';

export const MODEL_JSON = 'model.json';
/** Our field in model.json: weight count, bytes and each weight file's SHA-256. */
export const RECORD_KEY = 'tfvWeights';

/** What we record about a save's weights in model.json, under {@link RECORD_KEY}. */
export interface WeightsRecord {
  /** Number of weight specs in weightsManifest (model and optimizer). */
  count: number;
  /** Total bytes of the weight files. */
  bytes: number;
  /** Each weight file's SHA-256, hex, by its path as written in weightsManifest. */
  sha256: {[path: string]: string};
}

/** The hex SHA-256 of the bytes of `chunks`, in order. */
export function sha256Hex({crypto}: NodeModules, chunks: Uint8Array[]): string {
  const hash = crypto.createHash('sha256');
  for (const chunk of chunks) hash.update(chunk);
  return hash.digest('hex');
}
