/** The paths `fileSystem` accepts: strings, with or without the `file://` prefix. */

export const URL_SCHEME = 'file://';

/** `file:///abs` and `file://rel` become `/abs` and `rel`; `file:///C:/x` becomes `C:/x`. */
function stripScheme(p: string): string {
  if (!p.startsWith(URL_SCHEME)) return p;
  const rest = p.slice(URL_SCHEME.length);
  return /^\/[A-Za-z]:[\\/]/.test(rest) ? rest.slice(1) : rest;
}

/** Paths of `fileSystem(...)`: strings, not empty once the `file://` prefix is removed. */
export function checkedPaths(path: unknown): string[] {
  const paths: unknown[] = Array.isArray(path) ? path : [path];
  return paths.map((p) => {
    if (typeof p !== 'string') {
      throw new Error(
          'tfv.io.fileSystem: path must be a string (a directory, or a model.json file to load) ' +
          `or an array of strings; received ${p === null ? 'null' : typeof p}` +
          `${Array.isArray(path) ? ' in an array' : ''}.`);
    }
    const stripped = stripScheme(p);
    if (stripped.trim() === '') {
      throw new Error(
          'tfv.io.fileSystem: path must name a directory (to save) or a model.json file or its ' +
          `directory (to load); received ${JSON.stringify(p)}, which is empty` +
          `${p.startsWith(URL_SCHEME) ? ' after the file:// prefix' : ''}. ` +
          "For the current directory, pass '.' explicitly.");
    }
    return stripped;
  });
}
