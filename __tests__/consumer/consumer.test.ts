/**
 * The package as a user receives it: `npm pack`, installed into scratch
 * projects next to tfjs, then used from an ES module and from CommonJS.
 *
 * - "union": `@tensorflow/tfjs`, which also adds chained tensor methods;
 * - "split": only `@tensorflow/tfjs-core` + `-layers` + `-backend-cpu`, where
 *   `x.reshape(...)` does not exist: the library must not rely on it.
 *
 * Each script builds the VAE, fits one step, evaluates, predicts, saves with
 * `'file://'` (our Node handler) and loads the model back. Packages are
 * installed from the npm cache (`--offline`) at the versions of our own
 * node_modules; `--prefer-offline` is the fallback.
 */
import {execFileSync, ExecFileSyncOptions} from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '..', '..');
const FIXTURE = path.join(__dirname, 'fixtures', 'vae_roundtrip.js');
const TIMEOUT = 240000;
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';

type Flavour = 'union'|'split';
type ModuleKind = 'esm'|'cjs';

const FLAVOUR_PACKAGES: Record<Flavour, string[]> = {
  union: ['@tensorflow/tfjs'],
  split: ['@tensorflow/tfjs-core', '@tensorflow/tfjs-layers', '@tensorflow/tfjs-backend-cpu'],
};

interface ScriptResult {
  backend: string;
  chainedOps: boolean;
  fitLoss: number;
  evalLoss: number;
  objective: {loss: number; dataTerm: number; layerLosses: number};
  predictShape: number[];
  predictFinite: boolean;
  maxAbsDiff: number;
  classNames: string[];
  loadedClassNames: string[];
  loadedInferenceMode: string;
  savedFiles: string[];
}

/** npm settings of a parent `npm run`/`npm test` that would point a child npm at this repository. */
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^npm_(config_(local_)?prefix|package_|lifecycle_)/i.test(key) || key === 'INIT_CWD') continue;
    env[key] = value;
  }
  return env;
}

function run(cmd: string, args: string[], cwd: string): string {
  const options: ExecFileSyncOptions = {cwd, env: childEnv(), stdio: 'pipe', timeout: TIMEOUT, maxBuffer: 64 << 20};
  try {
    return execFileSync(cmd, args, options).toString();
  } catch (e) {
    const err = e as {stdout?: Buffer; stderr?: Buffer; message: string};
    throw new Error(`${cmd} ${args.join(' ')} failed in ${cwd}: ${err.message}\n` +
        `stdout:\n${err.stdout?.toString() ?? ''}\nstderr:\n${err.stderr?.toString() ?? ''}`);
  }
}

function installedVersion(name: string): string {
  const file = path.join(ROOT, 'node_modules', ...name.split('/'), 'package.json');
  return JSON.parse(fs.readFileSync(file, 'utf8')).version;
}

/**
 * Versions our lockfile resolved for every package reachable from `names`
 * (each installed once in our tree), to pin the scratch install to what the
 * npm cache holds: a `*` range would otherwise pick the newest version the
 * cached registry metadata knows, whose tarball may not be cached.
 */
function lockedOverrides(names: string[]): Record<string, string> {
  const lockFile = path.join(ROOT, 'package-lock.json');
  if (!fs.existsSync(lockFile)) return {};
  const packages: Record<string, {version?: string; dependencies?: Record<string, string>;
                                  optionalDependencies?: Record<string, string>}> =
      JSON.parse(fs.readFileSync(lockFile, 'utf8')).packages ?? {};
  const versions = new Map<string, Set<string>>();
  for (const [key, entry] of Object.entries(packages)) {
    const i = key.lastIndexOf('node_modules/');
    if (i < 0 || entry.version == null) continue;
    const name = key.slice(i + 'node_modules/'.length);
    if (!versions.has(name)) versions.set(name, new Set());
    versions.get(name)!.add(entry.version);
  }
  const seen = new Set<string>();
  const queue = [...names];
  while (queue.length > 0) {
    const name = queue.pop()!;
    if (seen.has(name)) continue;
    seen.add(name);
    const entry = packages[`node_modules/${name}`];
    if (entry == null) continue;
    queue.push(...Object.keys({...entry.dependencies, ...entry.optionalDependencies}));
  }
  const overrides: Record<string, string> = {};
  for (const name of seen) {
    const v = versions.get(name);
    if (!names.includes(name) && v != null && v.size === 1) overrides[name] = [...v][0];
  }
  return overrides;
}

function scriptSource(flavour: Flavour, kind: ModuleKind): string {
  const body = fs.readFileSync(FIXTURE, 'utf8');
  const esmImports = flavour === 'union' ?
      [`import * as tf from '@tensorflow/tfjs';`, `const tfc = tf;`, `const tfl = tf;`] :
      [`import * as tfc from '@tensorflow/tfjs-core';`, `import * as tfl from '@tensorflow/tfjs-layers';`,
       `import '@tensorflow/tfjs-backend-cpu';`];
  const cjsRequires = flavour === 'union' ?
      [`const tf = require('@tensorflow/tfjs');`, `const tfc = tf;`, `const tfl = tf;`] :
      [`const tfc = require('@tensorflow/tfjs-core');`, `const tfl = require('@tensorflow/tfjs-layers');`,
       `require('@tensorflow/tfjs-backend-cpu');`];
  const head = kind === 'esm' ?
      [...esmImports, `import * as tfv from 'tfjs-variational';`, `import fs from 'node:fs';`,
       `import path from 'node:path';`] :
      [...cjsRequires, `const tfv = require('tfjs-variational');`, `const fs = require('node:fs');`,
       `const path = require('node:path');`];
  const tail = [
    `main(process.argv[2]).then(`,
    `  (result) => { console.log('RESULT ' + JSON.stringify(result)); },`,
    `  (err) => { console.error(err); process.exitCode = 1; });`,
  ];
  return [...head, '', body, ...tail, ''].join('\n');
}

let work = '';
let tarball = '';

beforeAll(() => {
  if (!fs.existsSync(path.join(ROOT, 'dist', 'tfjs-variational.mjs')) ||
      !fs.existsSync(path.join(ROOT, 'dist', 'tfjs-variational.cjs'))) {
    run(NPM, ['run', 'build'], ROOT);
  }
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'tfv-consumer-'));
  const packed = JSON.parse(run(NPM, ['pack', '--json', '--pack-destination', work], ROOT));
  tarball = path.join(work, packed[0].filename);
  expect(fs.existsSync(tarball)).toBe(true);
}, TIMEOUT);

afterAll(() => {
  if (work !== '') fs.rmSync(work, {recursive: true, force: true});
});

describe.each(['union', 'split'] as Flavour[])('a %s tfjs project', (flavour) => {
  let project = '';

  beforeAll(() => {
    project = path.join(work, flavour);
    fs.mkdirSync(project);
    const peers = FLAVOUR_PACKAGES[flavour];
    const dependencies: Record<string, string> = {'tfjs-variational': `file:${tarball}`};
    for (const name of peers) dependencies[name] = installedVersion(name);
    const manifest = {name: `tfv-consumer-${flavour}`, version: '1.0.0', private: true, dependencies,
      overrides: lockedOverrides(peers)};
    fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify(manifest, null, 2));
    const flags = ['--no-audit', '--no-fund', '--no-package-lock'];
    try {
      run(NPM, ['install', '--offline', ...flags], project);
    } catch (offlineError) {
      try {
        run(NPM, ['install', '--prefer-offline', ...flags], project);
      } catch (onlineError) {
        throw new Error(`npm install failed offline and with --prefer-offline.\n${(offlineError as Error).message}\n` +
            `${(onlineError as Error).message}`);
      }
    }
    fs.writeFileSync(path.join(project, 'vae.mjs'), scriptSource(flavour, 'esm'));
    fs.writeFileSync(path.join(project, 'vae.cjs'), scriptSource(flavour, 'cjs'));
  }, TIMEOUT);

  test.each(['esm', 'cjs'] as ModuleKind[])('%s: fit, evaluate, predict, save and load with file://', (kind) => {
    const saveDir = path.join(project, `saved-${kind}`);
    const out = run(process.execPath, [`vae.${kind === 'esm' ? 'mjs' : 'cjs'}`, saveDir], project);
    const line = out.split('\n').find((l) => l.startsWith('RESULT '));
    if (line == null) throw new Error(`no RESULT line in the output of vae.${kind}:\n${out}`);
    const r: ScriptResult = JSON.parse(line.slice('RESULT '.length));

    expect(r.backend).toBe('cpu');
    expect(r.chainedOps).toBe(flavour === 'union');
    expect(Number.isFinite(r.fitLoss)).toBe(true);
    expect(r.fitLoss).toBeGreaterThan(0);
    // evaluate reports the full objective: data term plus the KL of the layer loss.
    expect(Number.isFinite(r.evalLoss)).toBe(true);
    expect(r.objective.layerLosses).toBeGreaterThanOrEqual(0);
    expect(r.objective.loss).toBeCloseTo(r.objective.dataTerm + r.objective.layerLosses, 3);
    expect(Math.abs(r.evalLoss - r.objective.loss)).toBeLessThanOrEqual(1e-4 * Math.abs(r.objective.loss));
    expect(r.predictShape).toEqual([64, 784]);
    expect(r.predictFinite).toBe(true);
    // inferenceMode 'mean': predict is deterministic, so the loaded model must agree exactly.
    expect(r.maxAbsDiff).toBeLessThanOrEqual(1e-6);
    expect(r.loadedClassNames).toEqual(r.classNames);
    expect(r.classNames).toEqual(expect.arrayContaining(['KLDivergenceLayer', 'Reparameterize']));
    expect(r.loadedInferenceMode).toBe('mean');
    expect(r.savedFiles).toContain('model.json');
    expect(r.savedFiles.some((f) => f.endsWith('.bin'))).toBe(true);
  }, TIMEOUT);
});
