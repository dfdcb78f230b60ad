/** Glob matching and a bounded, symlink-safe directory walk for the Glob and Grep tools. */
import { readdir } from 'node:fs/promises';
import path from 'node:path';

function escapeRegExp(c: string): string {
  return /[.*+?^${}()|[\]\\/]/.test(c) ? `\\${c}` : c;
}

/**
 * Converts a glob to an anchored RegExp over `/`-separated relative paths. Supports `**` (any
 * number of directories), `*`, `?`, `[...]` and `{a,b}`; dot files match like any other name.
 */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  let braceDepth = 0;
  for (let i = 0; i < glob.length; i++) {
    const c = glob.charAt(i);
    if (c === '*') {
      if (glob[i + 1] === '*') {
        const atSegmentStart = i === 0 || glob[i - 1] === '/';
        i++;
        if (atSegmentStart && glob[i + 1] === '/') {
          i++;
          re += '(?:[^/]*/)*';
        } else {
          re += '.*';
        }
      } else {
        re += '[^/]*';
      }
    } else if (c === '?') {
      re += '[^/]';
    } else if (c === '[') {
      const close = glob.indexOf(']', i + 2);
      if (close === -1) {
        re += '\\[';
      } else {
        let body = glob.slice(i + 1, close).replace(/\\/g, '\\\\');
        if (body.startsWith('!')) body = `^${body.slice(1)}`;
        re += `[${body}]`;
        i = close;
      }
    } else if (c === '{') {
      braceDepth++;
      re += '(?:';
    } else if (c === '}' && braceDepth > 0) {
      braceDepth--;
      re += ')';
    } else if (c === ',' && braceDepth > 0) {
      re += '|';
    } else {
      re += escapeRegExp(c);
    }
  }
  while (braceDepth-- > 0) re += ')';
  return new RegExp(`^${re}$`);
}

export interface WalkEntry {
  /** Path relative to the walk's base, with `/` separators. */
  rel: string;
  abs: string;
}

/**
 * Lists files below `start` (a real path inside the workspace) without following symlinked
 * directories, so a link cannot pull the walk outside. Stops after `maxEntries` files.
 */
export async function walkFiles(
  start: string,
  o: { maxEntries: number; signal?: AbortSignal },
): Promise<{ files: WalkEntry[]; truncated: boolean }> {
  const files: WalkEntry[] = [];
  const queue: string[] = [''];
  while (queue.length > 0) {
    if (o.signal?.aborted) break;
    const relDir = queue.shift() ?? '';
    let entries;
    try {
      entries = await readdir(path.join(start, relDir), { withFileTypes: true });
    } catch {
      continue; // vanished or unreadable: skip, as find(1) would
    }
    entries.sort((a, b) => a.name.localeCompare(b.name));
    for (const e of entries) {
      const rel = relDir ? `${relDir}/${e.name}` : e.name;
      if (e.isDirectory()) {
        queue.push(rel);
      } else if (e.isFile() || e.isSymbolicLink()) {
        if (files.length >= o.maxEntries) return { files, truncated: true };
        files.push({ rel, abs: path.join(start, rel) });
      }
    }
  }
  return { files, truncated: false };
}
