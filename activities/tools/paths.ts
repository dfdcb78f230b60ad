/**
 * Confinement of workspace tool paths. A path the model gives is checked twice: for its spelling
 * (no `..`, no encodings, no NULs, no backslashes, nothing absolute outside the workspace), and
 * after symlink resolution on every access (the real path must still be inside the workspace).
 */
import { lstat, realpath } from 'node:fs/promises';
import path from 'node:path';

/** A path was refused. Turned into a tool error with this message; never thrown to workflows. */
export class PathRefusedError extends Error {
  override readonly name = 'PathRefusedError';
}

const MAX_PATH_LENGTH = 4096;

function show(p: string): string {
  return JSON.stringify(p.length > 120 ? `${p.slice(0, 120)}…` : p);
}

/** True when `candidate` is `root` or below it (both absolute and normalised). */
export function isInside(root: string, candidate: string): boolean {
  const rel = path.relative(root, candidate);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel));
}

/** The workspace directory as created and as the kernel sees it (they differ under symlinked parents). */
export interface WorkspaceRoots {
  nominal: string;
  real: string;
}

/**
 * Checks the spelling of a path and maps it to an absolute path under the workspace's real root
 * (not yet symlink-resolved). Absolute paths are accepted when they name something inside the
 * workspace. Throws `PathRefusedError` saying why.
 */
export function checkPathSpelling(roots: WorkspaceRoots, p: unknown, field = 'file_path'): string {
  if (typeof p !== 'string' || p.length === 0) {
    throw new PathRefusedError(`${field} must be a non-empty string`);
  }
  const refuse = (why: string): never => {
    throw new PathRefusedError(`${field} ${show(p)} refused: ${why}`);
  };
  if (p.length > MAX_PATH_LENGTH) refuse(`longer than ${MAX_PATH_LENGTH} characters`);
  if (p.includes('\0')) refuse('it contains a NUL byte');
  // eslint-disable-next-line no-control-regex
  if (/[\x01-\x1f\x7f]/.test(p)) refuse('it contains control characters');
  // Nothing here decodes URLs, so an escape can only be an attempt to sneak `..` or `/` past a
  // check that does; refuse every escape rather than guess which decoder a tool might use.
  if (/%[0-9a-f]{2}/i.test(p)) refuse('percent-encoded characters are not allowed; write them literally');
  if (p.includes('\\')) refuse('backslashes are not path separators here; use /');
  if (p.startsWith('~')) refuse('~ is not expanded; use a path relative to the workspace');
  if (p.split('/').includes('..')) refuse("'..' is not allowed; paths stay inside the workspace");
  if (!path.isAbsolute(p)) return path.resolve(roots.real, p);
  const abs = path.resolve(p);
  if (isInside(roots.real, abs)) return abs;
  if (isInside(roots.nominal, abs)) return path.join(roots.real, path.relative(roots.nominal, abs));
  return refuse('it is outside the workspace; use a path relative to the workspace');
}

async function exists(p: string): Promise<boolean> {
  try {
    await lstat(p);
    return true;
  } catch {
    return false;
  }
}

/**
 * Resolves a model-given path to a real path inside the workspace, checking symlinks on every
 * access. For `mode: 'create'` the file may not exist yet: its nearest existing ancestor must then
 * be inside, so a symlinked parent directory cannot carry a new file out.
 */
export async function resolveInWorkspace(
  roots: WorkspaceRoots,
  p: unknown,
  o: { mode: 'existing' | 'create'; field?: string },
): Promise<string> {
  const field = o.field ?? 'file_path';
  const abs = checkPathSpelling(roots, p, field);
  const root = roots.real;
  const outside = (): never => {
    throw new PathRefusedError(
      `${field} ${show(String(p))} refused: it resolves outside the workspace (symlink)`,
    );
  };
  if (await exists(abs)) {
    const real = await realpath(abs).catch(() => outside());
    if (!isInside(root, real)) outside();
    return real;
  }
  if (o.mode === 'existing') {
    throw new PathRefusedError(`${field} ${show(String(p))}: no such file or directory in the workspace`);
  }
  // Walk up to the nearest existing ancestor and check where it really is.
  const missing: string[] = [];
  let cur = abs;
  while (!(await exists(cur))) {
    missing.unshift(path.basename(cur));
    const parent = path.dirname(cur);
    if (parent === cur) outside();
    cur = parent;
  }
  const realParent = await realpath(cur).catch(() => outside());
  if (!isInside(root, realParent)) outside();
  return path.join(realParent, ...missing);
}
