/**
 * The fenced code blocks of a markdown text, for the tests that type-check
 * the docs (typescript_snippets.test.ts) and run the guides
 * (docs_guides.test.ts).
 */

export type Lang = 'js'|'ts';

const LANGS: Record<string, Lang> = {js: 'js', javascript: 'js', mjs: 'js', ts: 'ts', typescript: 'ts'};

export interface MarkdownBlock {
  /** Markdown file, relative to the repository. */
  file: string;
  /** 1-based index among the file's kept code blocks. */
  index: number;
  lang: Lang;
  /** 1-based line in the markdown file of the block's first code line. */
  firstLine: number;
  lines: string[];
}

/**
 * The ```js / ```ts (and javascript, mjs, typescript) blocks of `text`, fenced
 * with backticks or tildes, except those whose previous non-blank line is
 * `skipMarker` (e.g. `<!-- no-run -->`).
 */
export function markdownCodeBlocks(file: string, text: string, skipMarker: string): MarkdownBlock[] {
  const lines = text.split('\n');
  const blocks: MarkdownBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^\s*(`{3,}|~{3,})\s*([\w-]*)/.exec(lines[i]);
    if (!open) continue;
    const fence = open[1];
    let end = i + 1;
    while (end < lines.length && !(lines[end].trim().startsWith(fence) && lines[end].trim().replace(/[`~]/g, '') === '')) end++;
    const lang = LANGS[open[2].toLowerCase()];
    let prev = i - 1;
    while (prev >= 0 && lines[prev].trim() === '') prev--;
    const skipped = prev >= 0 && lines[prev].trim() === skipMarker;
    if (lang !== undefined && !skipped) {
      blocks.push({file, index: blocks.length + 1, lang, firstLine: i + 2, lines: lines.slice(i + 1, end)});
    }
    i = end;
  }
  return blocks;
}
