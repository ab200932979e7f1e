// `npm test`: type-check, build, the Node suites (jest, cpu + wasm), tfjs-core's
// own specs on wasm with the fast kernels off and on (__tests__/tfjs_core_specs),
// then the browser suite (headless Chromium: cpu, wasm, webgl, webgpu) and the MNIST
// VAE page's end-to-end test (__tests__/browser/mnist_vae_web.mjs). Ends with
// one line `N passed, M failed` counting every suite, and exits non-zero on any
// failure.
import {spawnSync} from 'node:child_process';
import {mkdtempSync, readFileSync, rmSync} from 'node:fs';
import os from 'node:os';
import {dirname, join} from 'node:path';
import {fileURLToPath} from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name) => join(root, 'node_modules', '.bin', name);

function run(label, cmd, args) {
  console.log(`\n== ${label}: ${[cmd, ...args].join(' ')}`);
  const r = spawnSync(cmd, args, {cwd: root, stdio: 'inherit'});
  return r.status === null ? 1 : r.status;
}

let failed = 0;
let passed = 0;
if (run('typecheck', bin('tsc'), ['-p', 'tsconfig.json', '--noEmit']) !== 0) failed++; else passed++;
if (run('build', bin('rollup'), ['-c', 'rollup.config.mjs']) !== 0) {
  console.log('\nbuild failed: the suites need dist/');
  console.log(`${passed} passed, ${failed + 1} failed`);
  process.exit(1);
}
passed++;

const tmp = mkdtempSync(join(os.tmpdir(), 'tfv-test-'));
const jestJson = join(tmp, 'jest.json');
const jestStatus = run('node suites', bin('jest'), ['--json', `--outputFile=${jestJson}`]);
try {
  const report = JSON.parse(readFileSync(jestJson, 'utf8'));
  passed += report.numPassedTests;
  failed += report.numFailedTests + report.numRuntimeErrorTestSuites;
} catch (e) {
  failed++;
  console.log(`jest wrote no report: ${e.message}`);
}
if (jestStatus !== 0 && failed === 0) failed++;
rmSync(tmp, {recursive: true, force: true});

/**
 * Runs a suite script (a path under __tests__) that ends its output with `N passed, M failed`, after a header line
 * when `label` is given, and adds its counts; a suite that prints no such line, or exits non-zero with no failure
 * counted, is one failure more.
 */
function runCounted(label, script) {
  if (label !== null) console.log(`\n== ${label}: node __tests__/${script.join('/')}`);
  const r = spawnSync(process.execPath, [join(root, '__tests__', ...script)],
      {cwd: root, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8'});
  process.stdout.write(r.stdout ?? '');
  const m = /^(\d+) passed, (\d+) failed$/m.exec(r.stdout ?? '');
  if (m) {
    passed += Number(m[1]);
    failed += Number(m[2]);
  }
  if (!m || r.status !== 0) {
    if (!m || Number(m[2]) === 0) failed++;
  }
}

// Each spec that passes with the kernels off is one comparison: passed when it also passes with them on.
runCounted('tfjs-core specs on wasm, fast kernels off and on', ['tfjs_core_specs', 'run.mjs']);
// The browser suite prints its own header.
runCounted(null, ['browser', 'run.mjs']);
// The MNIST VAE page (examples/mnist-vae/web) driven end to end on webgpu and webgl.
runCounted('MNIST VAE page, end to end', ['browser', 'mnist_vae_web.mjs']);

console.log(`\nall suites: typecheck, build, jest (cpu + wasm), tfjs-core specs (wasm, fast kernels off and on), ` +
            `browser (cpu, wasm threaded and not, webgl, webgpu), MNIST VAE page (webgpu, webgl)`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
