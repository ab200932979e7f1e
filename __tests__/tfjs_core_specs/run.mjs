#!/usr/bin/env node
/**
 * tfjs-core's own jasmine specs (shipped in its npm package) on the wasm
 * backend, selected as tfjs-backend-wasm's `setup_test.ts` (tfjs-v4.22.0)
 * selects them (filters.mjs), twice: with this library's fast wasm kernels
 * off, then on (child.mjs; the two passes run as parallel child processes).
 *
 *   node __tests__/tfjs_core_specs/run.mjs [--verbose]
 *
 * Every spec that passes with the kernels off is one comparison: it passes
 * when the spec also passes with them on. Prints the failures, then
 *
 *   tfjs-core specs on wasm: 2783 run, 0 pass only without our kernels
 *   extra conv specs on wasm with our kernels: E run (F fail without them only for lack of Conv2DBackpropFilter), 0 fail
 *   N passed, M failed
 *
 * and exits non-zero when M > 0 (or a pass could not run). The extra specs
 * are the convolution specs tfjs's filters leave out (filters.mjs,
 * `isExtraConvSpec`): each that fails with the kernels off only because
 * wasm has no `Conv2DBackpropFilter`, or that passes with them off, must pass
 * with them on; they are counted in N and M.
 */
import {spawn} from 'node:child_process';
import {mkdtempSync, readFileSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {dirname, join} from 'node:path';
import {fileURLToPath} from 'node:url';

import {MISSING_FILTER_KERNEL} from './filters.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const verbose = process.argv.includes('--verbose');
const started = Date.now();
const tmp = mkdtempSync(join(tmpdir(), 'tfv-core-specs-'));

function pass(mode) {
  const out = join(tmp, `${mode}.json`);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', join(here, 'register.mjs'), join(here, 'child.mjs'), mode, out],
                        {cwd: root, stdio: ['ignore', 'pipe', 'pipe']});
    let log = '';
    child.stdout.on('data', (d) => log += d);
    child.stderr.on('data', (d) => log += d);
    child.on('close', (code) => {
      try {
        resolve({...JSON.parse(readFileSync(out, 'utf8')), code, log});
      } catch (e) {
        resolve({mode, code, log, specs: null, error: `wrote no results (${e.message})`});
      }
    });
  });
}

const [off, on] = await Promise.all([pass('off'), pass('on')]);
rmSync(tmp, {recursive: true, force: true});

let failed = 0;
for (const r of [off, on]) {
  if (r.specs == null || r.code !== 0) {
    failed++;
    console.log(`kernels ${r.mode}: the pass failed (exit ${r.code}${r.error ? `, ${r.error}` : ''}); its output:\n${r.log}`);
  } else if (verbose) {
    process.stdout.write(r.log);
  }
}
if (off.specs == null || on.specs == null) {
  console.log(`0 passed, ${failed} failed`);
  process.exit(1);
}

// The extra convolution specs are judged apart (below); the comparison and its first summary line are tfjs's selection.
const extraOff = off.specs.filter((s) => s.extra);
const extraOn = on.specs.filter((s) => s.extra);
off.specs = off.specs.filter((s) => !s.extra);
on.specs = on.specs.filter((s) => !s.extra);

const count = (r, status) => r.specs.filter((s) => s.status === status).length;
const onByName = new Map(on.specs.map((s) => [s.name, s]));
const offNames = new Set(off.specs.map((s) => s.name));
let passed = 0;
const regressions = [];
for (const s of off.specs) {
  if (s.status !== 'passed') continue;
  const other = onByName.get(s.name);
  if (other?.status === 'passed') {
    passed++;
  } else {
    regressions.push({name: s.name, message: other == null ? 'did not run with the kernels on' : other.message});
  }
}
// Specs only the kernels-on pass ran (e.g. the check that the kernels stayed registered).
const onlyOn = on.specs.filter((s) => !offNames.has(s.name));
for (const s of onlyOn) {
  if (s.status === 'passed') {
    passed++;
  } else {
    regressions.push(s);
  }
}
failed += regressions.length;
for (const r of regressions) console.log(`FAIL (passes only without our kernels) ${r.name}\n    ${r.message.split('\n')[0]}`);

const extraOnByName = new Map(extraOn.map((s) => [s.name, s]));
let extraRun = 0;
let extraNeedFilter = 0;
let extraOther = 0;
let extraOtherPassingOn = 0;
const extraFailures = [];
for (const s of extraOff) {
  // (a failure may come first that follows from it: the leak check of a spec whose gradient threw)
  const needsFilter = s.status !== 'passed' && (s.messages ?? [s.message]).some((m) => m.includes(MISSING_FILTER_KERNEL));
  if (s.status !== 'passed' && !needsFilter) {
    extraOther++;  // left out for another reason
    if (extraOnByName.get(s.name)?.status === 'passed') extraOtherPassingOn++;
    continue;
  }
  extraRun++;
  if (needsFilter) extraNeedFilter++;
  const other = extraOnByName.get(s.name);
  if (other?.status === 'passed') {
    passed++;
  } else {
    extraFailures.push({name: s.name, message: other == null ? 'did not run with the kernels on' : other.message});
  }
}
failed += extraFailures.length;
for (const r of extraFailures) console.log(`FAIL (extra conv spec, with our kernels) ${r.name}\n    ${r.message.split('\n')[0]}`);
const failingBoth = off.specs.filter((s) => s.status !== 'passed' && onByName.get(s.name)?.status !== 'passed');
const fixedByUs = off.specs.filter((s) => s.status !== 'passed' && onByName.get(s.name)?.status === 'passed');
console.log(`kernels off: ${count(off, 'passed')} passed, ${count(off, 'failed')} failed (${off.seconds.toFixed(1)} s)`);
console.log(`kernels on:  ${count(on, 'passed')} passed, ${count(on, 'failed')} failed (${on.seconds.toFixed(1)} s)`);
if (failingBoth.length > 0) console.log(`failing with the kernels on and off (tfjs's, not counted): ${failingBoth.length}`);
if (fixedByUs.length > 0) console.log(`passing only with the kernels on: ${fixedByUs.length}`);
console.log(`tfjs-core specs on wasm: ${off.specs.length} run, ${regressions.length} pass only without our kernels ` +
            `(${((Date.now() - started) / 1000).toFixed(1)} s)`);
console.log(`extra conv specs on wasm with our kernels: ${extraRun} run (${extraNeedFilter} fail without them only for lack ` +
            `of Conv2DBackpropFilter), ${extraFailures.length} fail; ${extraOther} more left out by tfjs's filters fail ` +
            `without them for other reasons (not counted; ${extraOtherPassingOn} of them pass with our kernels)`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
