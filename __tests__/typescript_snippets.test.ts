/**
 * Type-checks the code of the documentation (README.md, docs/*.md) the way a
 * user's strict TypeScript project sees it: every ```js, ```ts and
 * ```typescript block becomes a `.ts` file of a scratch project
 * (`strict`, `noEmit`, `moduleResolution: bundler`) in which
 * `tfjs-variational` resolves through the package's own `types` to the built
 * `dist/index.d.ts` and `@tensorflow/tfjs*` to our node_modules.
 *
 * - a ```ts block must compile with no error at all;
 * - a ```js block must have no error on any line that calls the library
 *   (a line containing `tfv.`): tfjs's own types may still complain
 *   elsewhere, but our API must type as documented.
 *
 * A block preceded by `<!-- no-typecheck -->` is skipped (for fragments that
 * are not code of their own). Snippets that use `tf` or `tfv` without
 * importing them get the import; free variables the docs leave to the reader
 * (`xTrain`, `x`, `model`, ...) are declared by PRELUDE below, so only real
 * type errors remain. The scratch project is kept when a check fails (its path
 * is in the message) so the errors can be reproduced with `tsc -p`.
 */
import {execFileSync} from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ts from 'typescript';

import {Lang, markdownCodeBlocks} from './helpers/markdown';

const ROOT = path.resolve(__dirname, '..');
const SKIP_MARKER = '<!-- no-typecheck -->';

/** Free variables of the documentation's snippets, declared globally (a snippet's own declaration shadows them). */
const PRELUDE = `// Names the documentation's snippets use without defining them.
declare const xTrain: import('@tensorflow/tfjs').Tensor;
declare const xTest: import('@tensorflow/tfjs').Tensor;
declare const yTrain: import('@tensorflow/tfjs').Tensor;
declare const yTest: import('@tensorflow/tfjs').Tensor;
declare const x: import('@tensorflow/tfjs').SymbolicTensor;
declare const h: import('@tensorflow/tfjs').SymbolicTensor;
declare const N: number;
declare const model: import('@tensorflow/tfjs').LayersModel;
declare const zMu: import('@tensorflow/tfjs').SymbolicTensor;
declare const zLogVar: import('@tensorflow/tfjs').SymbolicTensor;
declare const decoder: import('@tensorflow/tfjs').Sequential;
`;

const COMPILER_OPTIONS = {
  target: 'ES2022',
  module: 'ESNext',
  moduleResolution: 'Bundler',
  lib: ['ES2022', 'DOM'],
  strict: true,
  noEmit: true,
  esModuleInterop: true,
  // Our bundled typings are checked too; tfjs's own .d.ts files have errors under these options (they
  // need skipLibCheck in a strict project) and are not ours: their diagnostics are dropped below.
  skipLibCheck: false,
  types: [] as string[],
};


export interface Block {
  /** Markdown file, relative to the repository. */
  file: string;
  /** 1-based index among the file's checked code blocks. */
  index: number;
  lang: Lang;
  /** 1-based line in the markdown file of the block's first code line. */
  firstLine: number;
  code: string;
}

/** The ```js / ```ts / ```typescript blocks of a markdown text, except those marked `<!-- no-typecheck -->`. */
export function extractBlocks(file: string, text: string): Block[] {
  return markdownCodeBlocks(file, text, SKIP_MARKER).map(({lines, ...b}) => ({...b, code: lines.join('\n')}));
}

function documentationBlocks(): Block[] {
  const docs = fs.readdirSync(path.join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).sort()
      .map((f) => `docs/${f}`);
  return ['README.md', ...docs].flatMap((rel) => extractBlocks(rel, fs.readFileSync(path.join(ROOT, rel), 'utf8')));
}

/** Newest modification time of the files under `dir`. */
function newest(dir: string): number {
  let t = 0;
  for (const entry of fs.readdirSync(dir, {withFileTypes: true})) {
    const p = path.join(dir, entry.name);
    t = Math.max(t, entry.isDirectory() ? newest(p) : fs.statSync(p).mtimeMs);
  }
  return t;
}

/** `dist/index.d.ts`, built first when it is missing or older than `src/` (`npm test` builds before jest). */
function ensureTypings(): void {
  const typings = path.join(ROOT, 'dist', 'index.d.ts');
  const sources = Math.max(newest(path.join(ROOT, 'src')), fs.statSync(path.join(ROOT, 'rollup.config.mjs')).mtimeMs);
  if (fs.existsSync(typings) && fs.statSync(typings).mtimeMs >= sources) return;
  try {
    execFileSync(path.join(ROOT, 'node_modules', '.bin', 'rollup'), ['-c', 'rollup.config.mjs'],
        {cwd: ROOT, stdio: 'pipe', timeout: 300000});
  } catch (e) {
    const err = e as {stdout?: Buffer; stderr?: Buffer; message: string};
    throw new Error(`dist/index.d.ts is missing or older than src/, and the build failed: ${err.message}\n` +
      `${err.stdout?.toString() ?? ''}${err.stderr?.toString() ?? ''}`);
  }
}

/** Lines the harness puts before a snippet: the imports it uses without writing them. */
function header(code: string): string[] {
  const imports = (name: string) => new RegExp(`import\\s+(\\*\\s+as\\s+)?${name}\\b|import\\s*\\{[^}]*\\bas\\s+${name}\\b`).test(code);
  const out: string[] = [];
  if (/\btf\./.test(code) && !imports('tf')) out.push(`import * as tf from '@tensorflow/tfjs';`);
  if (/\btfv\./.test(code) && !imports('tfv')) out.push(`import * as tfv from 'tfjs-variational';`);
  return out.length === 0 ? [] : [out.join(' ')];
}

export interface SnippetError {
  block: Block;
  /** 1-based line within the block. */
  line: number;
  code: number;
  message: string;
}

export interface CheckResult {
  /** Errors located in a block. */
  errors: SnippetError[];
  /** Errors anywhere else (the prelude, the library's typings, options): always a failure. */
  other: string[];
  /** The scratch project, for `tsc -p` by hand. */
  dir: string;
}

/** Compiles `blocks` in one scratch project and returns every diagnostic, mapped back to the blocks. */
export function typeCheck(blocks: Block[]): CheckResult {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tfv-snippets-'));
  const modules = path.join(dir, 'node_modules');
  fs.mkdirSync(modules);
  // 'junction': a directory link that needs no privilege on Windows (the type is ignored elsewhere).
  fs.symlinkSync(path.join(ROOT, 'node_modules', '@tensorflow'), path.join(modules, '@tensorflow'), 'junction');
  // The package itself, as an installed dependency: resolved through its package.json `types`/`exports`.
  fs.symlinkSync(ROOT, path.join(modules, 'tfjs-variational'), 'junction');
  fs.writeFileSync(path.join(dir, 'prelude.d.ts'), PRELUDE);

  const byFile = new Map<string, {block: Block; offset: number}>();
  blocks.forEach((block, i) => {
    const head = header(block.code);
    const name = `${block.file.replace(/[^\w]+/g, '_')}_${block.index}_${i}.ts`;
    // `export {}` keeps a block without imports a module (top-level await, no global clashes).
    fs.writeFileSync(path.join(dir, name), [...head, block.code, 'export {};', ''].join('\n'));
    byFile.set(fs.realpathSync(path.join(dir, name)), {block, offset: head.length});
  });
  fs.writeFileSync(path.join(dir, 'tsconfig.json'),
      JSON.stringify({compilerOptions: COMPILER_OPTIONS, include: ['*.ts']}, null, 2) + '\n');

  const config = ts.getParsedCommandLineOfConfigFile(path.join(dir, 'tsconfig.json'), {}, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => {
      throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    },
  });
  if (config === undefined) throw new Error('unreadable tsconfig');
  const program = ts.createProgram(config.fileNames, config.options);
  const errors: SnippetError[] = [];
  const other: string[] = config.errors.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
  const typings = fs.realpathSync(path.join(ROOT, 'dist', 'index.d.ts'));
  if (!program.getSourceFiles().some((f) => fs.realpathSync(f.fileName) === typings)) {
    other.push(`'tfjs-variational' did not resolve to ${path.relative(ROOT, typings)}`);
  }
  const tfjsTypings = fs.realpathSync(path.join(ROOT, 'node_modules', '@tensorflow')) + path.sep;
  for (const d of ts.getPreEmitDiagnostics(program)) {
    if (d.file !== undefined && fs.realpathSync(d.file.fileName).startsWith(tfjsTypings)) continue;
    const message = ts.flattenDiagnosticMessageText(d.messageText, '\n');
    const where = d.file === undefined ? undefined : byFile.get(fs.realpathSync(d.file.fileName));
    if (d.file === undefined || d.start === undefined || where === undefined || where.offset > d.file.getLineAndCharacterOfPosition(d.start).line) {
      const loc = d.file === undefined ? '' : `${d.file.fileName}${d.start === undefined ? '' :
        `:${d.file.getLineAndCharacterOfPosition(d.start).line + 1}`}: `;
      other.push(`${loc}TS${d.code} ${message}`);
      continue;
    }
    const line = d.file.getLineAndCharacterOfPosition(d.start).line - where.offset + 1;
    errors.push({block: where.block, line, code: d.code, message});
  }
  return {errors, other, dir};
}

/** The errors that break the rules: any in a ```ts block, those on a `tfv.` line in a ```js block. */
export function violations(errors: SnippetError[]): SnippetError[] {
  return errors.filter((e) => e.block.lang === 'ts' || codeLine(e).includes('tfv.'));
}

function codeLine(e: SnippetError): string {
  return e.block.code.split('\n')[e.line - 1] ?? '';
}

export function describeError(e: SnippetError): string {
  const b = e.block;
  return `${b.file}:${b.firstLine + e.line - 1} (checked block ${b.index}, \`\`\`${b.lang}, its line ${e.line}): ` +
    `TS${e.code} ${e.message.split('\n').join('\n      ')}\n    | ${codeLine(e).trim()}`;
}

function failureReport(title: string, bad: SnippetError[], result: CheckResult): string {
  return `${bad.length} ${title} (strict TypeScript; tfjs-variational from dist/index.d.ts; ` +
    `scratch project kept in ${result.dir}):\n\n${bad.map(describeError).join('\n\n')}`;
}

// A snippet the harness must reject, at the right place: proof that the checks can fail.
const WRONG = `# sample

\`\`\`ts
import * as tf from '@tensorflow/tfjs';
import * as tfv from 'tfjs-variational';
const n: number = tfv.version;
const y = tf.input({shape: [2]});
\`\`\`

\`\`\`js
const k = tfv.layers.klDivergence({weight: 'one'});
const s: string = tf.scalar(1);
\`\`\`

${SKIP_MARKER}
\`\`\`ts
const skipped: number = 'not checked';
\`\`\`
`;

describe('documentation code, type-checked as a strict TypeScript project', () => {
  let blocks: Block[];
  let result: CheckResult;
  let keep = false;

  beforeAll(() => {
    ensureTypings();
    blocks = [...documentationBlocks(), ...extractBlocks('sample.md', WRONG)];
    result = typeCheck(blocks);
  });

  afterAll(() => {
    if (result !== undefined && !keep) fs.rmSync(result.dir, {recursive: true, force: true});
  });

  const docErrors = () => result.errors.filter((e) => e.block.file !== 'sample.md');

  it('finds the README\'s VAE in both forms and the docs\' blocks', () => {
    const readme = blocks.filter((b) => b.file === 'README.md');
    expect(readme.filter((b) => b.lang === 'js' && b.code.includes('klDivergence()'))).toHaveLength(1);
    expect(readme.filter((b) => b.lang === 'ts' && b.code.includes('klDivergence()'))).toHaveLength(1);
    expect(blocks.some((b) => b.file.startsWith('docs/'))).toBe(true);
  });

  it('reports a wrong snippet with file, block and line (the harness can fail)', () => {
    const sample = result.errors.filter((e) => e.block.file === 'sample.md');
    const found = violations(sample).map((e) => `${e.block.index}:${e.line}:TS${e.code}`).sort();
    // ts block 1 line 3: a string is not a number; js block 2 line 1: 'one' is not a number.
    // js block 2 line 2 also fails but calls no tfv, so it is tolerated; the marked block is not checked.
    expect(found).toEqual(['1:3:TS2322', '2:1:TS2322']);
    expect(sample.some((e) => e.block.index === 2 && e.line === 2)).toBe(true);
    expect(blocks.some((b) => b.code.includes('not checked'))).toBe(false);
    expect(describeError(violations(sample)[0])).toMatch(/^sample\.md:\d+ \(checked block \d, ```\w+, its line \d\): TS2322 /);
  });

  it('has no error outside the snippets (prelude, the library\'s typings dist/index.d.ts, options)', () => {
    if (result.other.length > 0) keep = true;
    expect(result.other).toEqual([]);
  });

  it('compiles every ```ts block with no error', () => {
    const bad = violations(docErrors()).filter((e) => e.block.lang === 'ts');
    if (bad.length > 0) {
      keep = true;
      throw new Error(failureReport('type errors in ```ts blocks', bad, result));
    }
  });

  it('compiles every ```js block with no error on a line that calls tfv', () => {
    const bad = violations(docErrors()).filter((e) => e.block.lang === 'js');
    if (bad.length > 0) {
      keep = true;
      throw new Error(failureReport('type errors on lines calling tfv in ```js blocks', bad, result));
    }
  });
});
