/** System error codes as the handler's messages phrase them (`permission denied (EACCES)`). */

export function errorCode(e: unknown): string|undefined {
  const code = (e as {code?: unknown}|null)?.code;
  return typeof code === 'string' ? code : undefined;
}

export function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

const ERROR_PHRASES: {[code: string]: string} = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EFBIG: 'file too large',
  ENOTDIR: 'a component of the path is not a directory',
  EEXIST: 'a file already exists there',
  EISDIR: 'it is a directory',
  ENOENT: 'no such file or directory',
  EIO: 'input/output error',
  EBUSY: 'resource busy',
  EMFILE: 'too many open files in this process',
  ENFILE: 'too many open files in the system',
  ENAMETOOLONG: 'file name too long',
  ELOOP: 'too many levels of symbolic links',
  EXDEV: 'cross-device link',
};

/** `permission denied (EACCES)` for a system error, the message for any other. */
export function describeError(e: unknown): string {
  const code = errorCode(e);
  if (code == null) return message(e);
  return `${ERROR_PHRASES[code] ?? message(e)} (${code})`;
}
