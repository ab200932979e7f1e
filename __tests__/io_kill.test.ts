/**
 * Saves interrupted by SIGKILL, in a real child process
 * (`fixtures/io_save_child.cjs`, which runs the current TypeScript source):
 * the earlier save must survive every kill byte for byte, the temporaries the
 * killed save left must be removed by the next successful save into the
 * directory, and none may remain at the end.
 *
 * Each round kills the child at a different moment of its second save: by
 * racing it (the kill is sent once the new weight file holds some bytes, and
 * lands wherever the save is then), or deterministically at a step where the save is held
 * (weights written, temporary model.json written, committed but old weights
 * not yet removed).
 */
import {ChildProcess, spawn} from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tfl from '@tensorflow/tfjs-layers';
import {useBackend} from './helpers/backends';
import {fileSystem} from '../src/io';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const {weightsFor} = require('./fixtures/io_weights.cjs') as {
  weightsFor: (iteration: number, n: number) => Float32Array<ArrayBuffer>
};

const CHILD = path.join(__dirname, 'fixtures', 'io_save_child.cjs');
const ROWS = 2048;
const COLS = 4096;  // 8M float32 weights: a 32 MB weight file
const FLOATS = ROWS * COLS;
/** Where each round kills the child's second save. */
const ROUNDS = ['none', 'weights', 'model.json', 'none', 'committed', 'none', 'weights', 'none'] as const;
/** Names this handler writes for its own files (see src/io/file_system.ts). */
const OURS = /^(weights\..+\.bin|model\.json\..+\.tmp)$/;

let root: string;
let specPath: string;
let topology: {};

beforeAll(async () => {
  await useBackend('cpu');
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'tfv-io-kill-'));
  const model = tfl.sequential({
    layers: [tfl.layers.dense({
      name: 'big', inputShape: [ROWS], units: COLS, useBias: false, kernelInitializer: 'zeros'})],
  });
  topology = model.toJSON(null, false) as {};
  model.dispose();
  specPath = path.join(root, 'spec.json');
  fs.writeFileSync(specPath, JSON.stringify({
    modelTopology: topology,
    weightSpecs: [{name: 'big/kernel', shape: [ROWS, COLS], dtype: 'float32'}],
    floats: FLOATS,
  }));
});

afterAll(() => {
  fs.rmSync(root, {recursive: true, force: true});
});

function referenced(dir: string): string[] {
  const json = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'));
  return json.weightsManifest.flatMap((g: {paths: string[]}) => g.paths);
}

/** Our files in `dir` that the current model.json does not reference. */
function orphans(dir: string): string[] {
  const live = new Set(['model.json', ...referenced(dir)]);
  return fs.readdirSync(dir).filter((f) => OURS.test(f) && !live.has(f)).sort();
}

function bytesOf(dir: string, files: string[]): number {
  return files.reduce((n, f) => n + fs.statSync(path.join(dir, f)).size, 0);
}

/** Loads `dir` with tf.loadLayersModel and returns its iteration, checking every weight byte. */
async function loadAndCheck(dir: string): Promise<number> {
  const model = await tfl.loadLayersModel(fileSystem(path.join(dir, 'model.json')));
  const iteration = (model.getUserDefinedMetadata() as {iteration: number}).iteration;
  const actual = model.weights[0].read().dataSync() as Float32Array;
  const expected = weightsFor(iteration, FLOATS);
  const same = Buffer.from(actual.buffer, actual.byteOffset, actual.byteLength)
                   .equals(Buffer.from(expected.buffer));
  model.dispose();
  if (!same) throw new Error(`the weights loaded from ${dir} are not those of save ${iteration}`);
  return iteration;
}

interface Round {
  /** Last iteration the child reported saved, and the one it was writing when killed. */
  lastSaved: number;
  lastWriting: number;
  paused: number|null;
  /** Whether the orphans of the previous round were all gone after the child's first save. */
  previousOrphansGone: boolean|null;
  signal: NodeJS.Signals|null;
}

/**
 * Runs one child saving iterations from `first` on; kills it at `pauseAt` (or,
 * with 'none', once a weight file of a save after its first holds some bytes).
 */
function runRound(dir: string, first: number, pauseAt: string, previousOrphans: string[]):
    Promise<Round> {
  return new Promise((resolve, reject) => {
    const round: Round = {lastSaved: -1, lastWriting: -1, paused: null, previousOrphansGone: null, signal: null};
    const child: ChildProcess = spawn(process.execPath, [CHILD, 'loop', dir, specPath, String(first), pauseAt],
                                      {stdio: ['ignore', 'pipe', 'pipe']});
    let armedAfter: string|null = null;  // the first save's weight file, once it is committed
    const kill = () => {
      if (child.exitCode == null && child.signalCode == null) child.kill('SIGKILL');
    };
    const watcher = fs.watch(dir, (_event, name) => {
      if (pauseAt === 'none' && armedAfter != null && name != null && /^weights\..+\.bin$/.test(name) &&
          name !== armedAfter && (fs.statSync(path.join(dir, name), {throwIfNoEntry: false})?.size ?? 0) > 0) {
        kill();  // the new save has begun writing its weights
      }
    });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    let buffered = '';
    child.stdout!.on('data', (d) => {
      buffered += d;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const [what, a, b] = buffered.slice(0, nl).split(' ');
        buffered = buffered.slice(nl + 1);
        if (what === 'writing') {
          round.lastWriting = Number(a);
          // Should the race never catch a weight file being written, kill at
          // the start of the third save rather than let the child finish.
          if (pauseAt === 'none' && round.lastWriting >= first + 2) kill();
        }
        if (what === 'saved') {
          if (round.previousOrphansGone == null) {
            round.previousOrphansGone = previousOrphans.every((f) => !fs.existsSync(path.join(dir, f)));
          }
          round.lastSaved = Number(a);
          armedAfter = b;
        }
        if (what === 'paused') {
          round.paused = Number(b);
          kill();
        }
      }
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      watcher.close();
      round.signal = signal;
      if (signal !== 'SIGKILL') {
        reject(new Error(`the child ended with code ${code}, not killed: ${stderr}`));
      } else {
        resolve(round);
      }
    });
  });
}

it(`SIGKILL mid-save (${ROUNDS.length} rounds, 32 MB weights, real child processes): ` +
   'the earlier save loads exactly, the next save removes the orphans', async () => {
  const dir = path.join(root, 'model');
  await fileSystem(dir).save!({
    modelTopology: topology, format: 'layers-model', generatedBy: 'io_kill.test', convertedBy: null,
    weightSpecs: [{name: 'big/kernel', shape: [ROWS, COLS], dtype: 'float32'}],
    weightData: weightsFor(0, FLOATS).buffer, userDefinedMetadata: {iteration: 0},
  });
  let committed = 0;
  let next = 1;
  let left: string[] = [];
  let orphanBytesMax = 0;
  let orphanBytesTotal = 0;  // what would have piled up without the sweep
  let killsLeavingOrphans = 0;
  const log: string[] = [];
  for (const pauseAt of ROUNDS) {
    const round = await runRound(dir, next, pauseAt, left);
    expect(round.signal).toBe('SIGKILL');
    // The child's first save succeeded and removed what the previous kill left.
    expect(round.lastSaved).toBeGreaterThanOrEqual(next);
    expect({round: log.length, previousOrphansGone: round.previousOrphansGone})
        .toEqual({round: log.length, previousOrphansGone: true});

    const iteration = await loadAndCheck(dir);  // throws unless every byte matches that save
    if (pauseAt === 'weights' || pauseAt === 'model.json') {
      expect(round.paused).toBe(round.lastSaved + 1);
      expect(iteration).toBe(round.lastSaved);  // the interrupted save did not replace it
    } else if (pauseAt === 'committed') {
      expect(iteration).toBe(round.paused);  // committed before the kill: the new save stands
    } else {
      expect(iteration).toBeGreaterThanOrEqual(round.lastSaved);
      expect(iteration).toBeLessThanOrEqual(round.lastWriting);
    }
    expect(iteration).toBeGreaterThan(committed);
    committed = iteration;

    left = orphans(dir);
    if (pauseAt !== 'none') expect(left.length).toBeGreaterThan(0);  // the kill really interrupted it
    if (left.length > 0) killsLeavingOrphans++;
    orphanBytesMax = Math.max(orphanBytesMax, bytesOf(dir, left));
    orphanBytesTotal += bytesOf(dir, left);
    log.push(`${pauseAt}: loaded save ${iteration}, left ${left.length} file(s), ${bytesOf(dir, left)} bytes`);
    next = round.lastWriting + 1;
  }

  // One more save removes what the last kill left, and nothing else remains.
  const before = bytesOf(dir, orphans(dir));
  await fileSystem(dir).save!({
    modelTopology: topology, format: 'layers-model', generatedBy: 'io_kill.test', convertedBy: null,
    weightSpecs: [{name: 'big/kernel', shape: [ROWS, COLS], dtype: 'float32'}],
    weightData: weightsFor(next, FLOATS).buffer, userDefinedMetadata: {iteration: next},
  });
  expect(left.every((f) => !fs.existsSync(path.join(dir, f)))).toBe(true);
  expect(orphans(dir)).toEqual([]);
  expect(fs.readdirSync(dir).length).toBe(2);  // model.json and its weight file
  expect(await loadAndCheck(dir)).toBe(next);
  expect(killsLeavingOrphans).toBeGreaterThanOrEqual(4);
  // eslint-disable-next-line no-console
  console.log(`${log.join('\n')}\nkills leaving orphans: ${killsLeavingOrphans} of ${ROUNDS.length}; ` +
              `largest orphan set ${orphanBytesMax} bytes, ${orphanBytesTotal} in all; ` +
              `before the final save ${before}, after 0`);
});
