#!/usr/bin/env node
// Benchmark runner. `npm run bench` builds the library, then runs every benchmark
// on the Node backends and rewrites bench/results.md.
//
//   node bench/run.mjs [name ...] [--backends=cpu,wasm] [--repeats=3]
//                      [--images=cpu:2560,wasm:10000] [--strict] [--no-write]
//
// Names select benchmarks from BENCHMARKS below (default: all). Each benchmark
// module exports `name`, `title` and `run(ctx)` resolving to
// `{ok, rows, markdown}`; add a module and one line here to add a benchmark.
// Running a subset replaces only that subset's sections in results.md.

import {existsSync, readFileSync, writeFileSync} from 'node:fs';
import {createRequire} from 'node:module';
import os from 'node:os';
import {dirname, join} from 'node:path';
import {fileURLToPath, pathToFileURL} from 'node:url';

const BENCHMARKS = [
  {name: 'vae-epoch', load: () => import('./vae_epoch.mjs')},
  {name: 'vae-step', load: () => import('./vae_step.mjs')},
  {name: 'backend-step', load: () => import('./backend_step.mjs')},
  {name: 'matmul-transpose', load: () => import('./matmul_transpose.mjs')},
  {name: 'bayesian-dense-step', load: () => import('./bayesian_dense_step.mjs')},
  {name: 'bayesian-dense-account', load: () => import('./bayesian_dense_account.mjs')},
  {name: 'bayesian-conv2d-step', load: () => import('./bayesian_conv2d_step.mjs')},
  {name: 'iwae-step', load: () => import('./iwae_step.mjs')},
  {name: 'conv-step', load: () => import('./conv_step.mjs')},
  {name: 'predictive', load: () => import('./predictive.mjs')},
  // `memory` before `fashion-vae-epoch`: the wasm heap never shrinks, and the full data set would inflate its RSS.
  {name: 'memory', load: () => import('./memory.mjs')},
  {name: 'fashion-vae-epoch', load: () => import('./fashion_vae_epoch.mjs')},
];

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const require = createRequire(import.meta.url);
const RESULTS = join(here, 'results.md');

function parseArgs(argv) {
  const opts = {names: [], backends: ['cpu', 'wasm'], repeats: 3, images: {}, strict: false, write: true};
  for (const arg of argv) {
    const [key, value] = arg.split('=');
    if (key === '--backends') opts.backends = value.split(',').filter(Boolean);
    else if (key === '--repeats') opts.repeats = Number(value);
    else if (key === '--images') {
      for (const pair of value.split(',')) {
        const [backend, count] = pair.split(':');
        opts.images[backend] = Number(count);
      }
    } else if (key === '--strict') opts.strict = true;
    else if (key === '--no-write') opts.write = false;
    else if (key === '--help' || key === '-h') opts.help = true;
    else if (key.startsWith('--')) throw new Error(`unknown option ${arg}`);
    else opts.names.push(arg);
  }
  if (!Number.isInteger(opts.repeats) || opts.repeats < 1) {
    throw new Error(`--repeats must be a positive integer. Received: ${opts.repeats}`);
  }
  return opts;
}

function packageVersion(name) {
  return JSON.parse(readFileSync(require.resolve(`${name}/package.json`), 'utf8')).version;
}

async function machine(tf, loadBefore) {
  const cpus = os.cpus();
  let wasmFeatures = '';
  try {
    const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
    const threads = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT');
    wasmFeatures = ` (SIMD ${simd ? 'on' : 'off'}, threads ${threads ? 'on' : 'off'})`;
  } catch {
    // flags unknown before the wasm backend is registered
  }
  return [
    `- OS: ${os.type()} ${os.release()} ${os.arch()}`,
    `- CPU: ${cpus.length ? cpus[0].model.trim() : 'unknown'}, ${cpus.length} logical cores` +
        `, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM`,
    `- Node.js ${process.version}`,
    `- @tensorflow/tfjs-core ${packageVersion('@tensorflow/tfjs-core')}, tfjs-layers ${packageVersion('@tensorflow/tfjs-layers')}, ` +
        `tfjs-backend-cpu ${packageVersion('@tensorflow/tfjs-backend-cpu')}, ` +
        `tfjs-backend-wasm ${packageVersion('@tensorflow/tfjs-backend-wasm')}${wasmFeatures}`,
    `- tfjs-variational ${JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version} (dist/tfjs-variational.mjs)`,
    `- Load average (1 min) at start: ${loadBefore.toFixed(2)}, at end: ${os.loadavg()[0].toFixed(2)}`,
    `- Date: ${new Date().toISOString()}`,
  ].join('\n');
}

function commandLine(argv) {
  if (argv.length === 0 && process.env.npm_lifecycle_event === 'bench') return 'npm run bench';
  return ['node bench/run.mjs', ...argv].join(' ');
}

/** Replaces (or appends) the section of each benchmark that ran, keeping the others. */
function writeResults(sections) {
  const header = '# Benchmark results\n\nWritten by `bench/run.mjs` (`npm run bench`); see bench/README.md. ' +
      'Timings are for the machine listed in each section.\n';
  let text = existsSync(RESULTS) ? readFileSync(RESULTS, 'utf8') : header;
  for (const {name, body} of sections) {
    const begin = `<!-- begin ${name} -->`;
    const end = `<!-- end ${name} -->`;
    const block = `${begin}\n${body}\n${end}`;
    const i = text.indexOf(begin);
    const j = text.indexOf(end);
    text = i >= 0 && j > i ? text.slice(0, i) + block + text.slice(j + end.length) : `${text.trimEnd()}\n\n${block}\n`;
  }
  writeFileSync(RESULTS, text);
}

async function main() {
  const argv = process.argv.slice(2);
  const opts = parseArgs(argv);
  if (opts.help) {
    console.log(readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').slice(1, 11).join('\n'));
    console.log('\nbenchmarks: ' + BENCHMARKS.map((b) => b.name).join(', '));
    return;
  }
  const unknown = opts.names.filter((n) => !BENCHMARKS.some((b) => b.name === n));
  if (unknown.length) {
    throw new Error(`unknown benchmark(s) ${unknown.join(', ')}; known: ${BENCHMARKS.map((b) => b.name).join(', ')}`);
  }
  const selected = opts.names.length ? BENCHMARKS.filter((b) => opts.names.includes(b.name)) : BENCHMARKS;

  const dist = join(root, 'dist', 'tfjs-variational.mjs');
  if (!existsSync(dist)) throw new Error('dist/tfjs-variational.mjs is missing: run `npm run build` (or `npm run bench`)');
  const tf = await import('@tensorflow/tfjs-core');
  const tfl = await import('@tensorflow/tfjs-layers');
  await import('@tensorflow/tfjs-backend-cpu');
  await import('@tensorflow/tfjs-backend-wasm');
  const tfv = await import(pathToFileURL(dist).href);

  const sections = [];
  let ok = true;
  for (const entry of selected) {
    const mod = await entry.load();
    console.log(`\n== ${mod.name}: ${mod.title}`);
    const started = Date.now();
    const loadBefore = os.loadavg()[0];
    const variablesBefore = Object.keys(tf.engine().registeredVariables).length;
    const result = await mod.run({tf, tfl, tfv, backends: opts.backends, repeats: opts.repeats, images: opts.images,
      log: (line) => console.log(line)});
    const leakedVariables = Object.keys(tf.engine().registeredVariables).length - variablesBefore;
    if (leakedVariables !== 0) {
      // A later section that trains "all trainable variables" would train these too.
      throw new Error(`${mod.name} left ${leakedVariables} variable(s) alive (dispose models and their optimizers)`);
    }
    ok = ok && result.ok;
    const seconds = ((Date.now() - started) / 1000).toFixed(0);
    console.log(`== ${mod.name} ${result.ok ? 'within target' : 'ABOVE TARGET'} (${seconds} s)`);
    const body = [`## ${mod.name}`, '', mod.title, '', result.markdown, '', 'Machine:', '', await machine(tf, loadBefore), '',
      `Command: \`${commandLine(argv)}\` (total ${seconds} s)`].join('\n');
    sections.push({name: mod.name, body});
  }
  if (opts.write) {
    writeResults(sections);
    console.log(`\nwrote ${RESULTS}`);
  }
  if (opts.strict && !ok) process.exitCode = 1;
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
