/**
 * Workspace tools (Read, Write, Edit, Bash, Glob, Grep) with the input schemas of Anthropic's own
 * tools, confined to one activation's workspace directory. Every failure comes back as a
 * `ToolResult` with `isError`, phrased so the model can correct itself.
 */
import { constants } from 'node:fs';
import { mkdir, open, realpath, stat } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { globToRegExp, walkFiles } from './glob';
import { PathRefusedError, checkPathSpelling, resolveInWorkspace } from './paths';
import type { WorkspaceRoots } from './paths';
import { SandboxUnavailableError } from '../sandbox';
import type { Sandbox } from '../sandbox';
import { checkShellCommand, runShell } from './shell';
import { DEFAULT_MAX_OUTPUT_BYTES, capOutput, errorMessage, toolError } from './text';
import type { ShellConfig, ToolResult, ToolSpec } from './types';

export interface WorkspaceTools {
  specs(): ToolSpec[];
  call(name: string, input: unknown, signal?: AbortSignal): Promise<ToolResult>;
}

export interface WorkspaceToolsOptions {
  /** The workspace directory (exists, and `sandbox.prepareWorkspace` has been called on it). */
  dir: string;
  shell: ShellConfig;
  /** Every Bash command runs inside it; files the runner writes are handed to its user. */
  sandbox: Sandbox;
  /** Bash may use the network (the agent holds the `shell:network` grant). */
  network?: boolean;
  maxOutputBytes?: number;
  /** PATH for Bash; a standard system PATH when absent. */
  path?: string;
  /** How long one Grep may take before it is stopped (a pathological regex cannot hang the runner). */
  grepTimeoutMs?: number;
}

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const DEFAULT_SHELL_TIMEOUT_SECONDS = 120;
const READ_DEFAULT_LIMIT = 2000;
const MAX_LINE_CHARS = 2000;
const MAX_WRITE_BYTES = 10 * 1024 * 1024;
const MAX_READ_BYTES = 20 * 1024 * 1024;
const MAX_WALK = 20_000;
const MAX_GLOB_RESULTS = 1000;
const MAX_GREP_MATCHES = 500;

const SPECS: Record<string, ToolSpec> = {
  Read: {
    name: 'Read',
    description:
      'Reads a text file from the workspace. Returns lines prefixed with their line numbers. Use offset (1-based line) and limit for long files.',
    input_schema: {
      type: 'object',
      properties: {
        file_path: { type: 'string', description: 'Path of the file, relative to the workspace' },
        offset: { type: 'number', description: 'Line number to start reading from (1-based)' },
        limit: { type: 'number', description: 'Number of lines to read' },
      },
      required: ['file_path'],
      additionalProperties: false,
    },
  },
  Write: {
    name: 'Write',
    description: 'Writes a file in the workspace, replacing it if it exists. Parent directories are created.',
    input_schema: {
      type: 'object',
      properties: {
        file_path: { type: 'string', description: 'Path of the file, relative to the workspace' },
        content: { type: 'string', description: 'The content to write' },
      },
      required: ['file_path', 'content'],
      additionalProperties: false,
    },
  },
  Edit: {
    name: 'Edit',
    description:
      'Replaces exact text in a workspace file. old_string must occur exactly once unless replace_all is true.',
    input_schema: {
      type: 'object',
      properties: {
        file_path: { type: 'string', description: 'Path of the file, relative to the workspace' },
        old_string: { type: 'string', description: 'The text to replace' },
        new_string: { type: 'string', description: 'The replacement text' },
        replace_all: { type: 'boolean', description: 'Replace every occurrence (default false)' },
      },
      required: ['file_path', 'old_string', 'new_string'],
      additionalProperties: false,
    },
  },
  Bash: {
    name: 'Bash',
    description:
      'Runs a shell command in the workspace directory (cwd and HOME are the workspace). Output is capped; long commands are killed at the timeout.',
    input_schema: {
      type: 'object',
      properties: { command: { type: 'string', description: 'The command to run' } },
      required: ['command'],
      additionalProperties: false,
    },
  },
  Glob: {
    name: 'Glob',
    description:
      'Lists workspace files matching a glob pattern such as "**/*.md" (paths relative to the workspace).',
    input_schema: {
      type: 'object',
      properties: { pattern: { type: 'string', description: 'The glob pattern' } },
      required: ['pattern'],
      additionalProperties: false,
    },
  },
  Grep: {
    name: 'Grep',
    description:
      'Searches workspace files for a regular expression (JavaScript syntax). Returns file:line:text for each match.',
    input_schema: {
      type: 'object',
      properties: {
        pattern: { type: 'string', description: 'The regular expression' },
        path: { type: 'string', description: 'File or directory to search (default: the whole workspace)' },
        glob: { type: 'string', description: 'Only search files whose relative path matches this glob' },
      },
      required: ['pattern'],
      additionalProperties: false,
    },
  },
};

type Input = Record<string, unknown>;

function asInput(input: unknown): Input {
  return typeof input === 'object' && input !== null && !Array.isArray(input) ? (input as Input) : {};
}

function str(input: Input, key: string, required = true): string | undefined {
  const v = input[key];
  if (v === undefined && !required) return undefined;
  if (typeof v !== 'string') throw new InputError(`${key} must be a string`);
  return v;
}

function posInt(input: Input, key: string): number | undefined {
  const v = input[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
    throw new InputError(`${key} must be a non-negative integer`);
  }
  return v;
}

class InputError extends Error {
  override readonly name = 'InputError';
}

function looksBinary(buf: Buffer): boolean {
  return buf.subarray(0, 8192).includes(0);
}

/**
 * Builds the workspace tools for one directory. `Bash` is offered only when the shell is enabled.
 */
export function createWorkspaceTools(o: WorkspaceToolsOptions): WorkspaceTools {
  const maxOut = o.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
  let rootsPromise: Promise<WorkspaceRoots> | undefined;
  const roots = (): Promise<WorkspaceRoots> =>
    (rootsPromise ??= realpath(o.dir).then((real) => ({ nominal: path.resolve(o.dir), real })));
  const names = Object.keys(SPECS).filter((n) => n !== 'Bash' || o.shell.enabled === true);
  const rel = (r: WorkspaceRoots, abs: string): string => path.relative(r.real, abs) || '.';

  async function read(input: Input): Promise<ToolResult> {
    const r = await roots();
    const file = await resolveInWorkspace(r, str(input, 'file_path'), { mode: 'existing' });
    const st = await stat(file);
    if (st.isDirectory()) return toolError(`${rel(r, file)} is a directory; use Glob to list files`);
    if (st.size > MAX_READ_BYTES) return toolError(`${rel(r, file)} is ${st.size} bytes; too large to read`);
    const fh = await openRegular(r, file, constants.O_RDONLY);
    let buf: Buffer;
    try {
      buf = await fh.readFile();
    } finally {
      await fh.close();
    }
    if (looksBinary(buf)) return toolError(`${rel(r, file)} is a binary file`);
    const lines = buf.toString('utf8').split('\n');
    if (lines.length > 1 && lines[lines.length - 1] === '') lines.pop();
    const offset = Math.max(posInt(input, 'offset') ?? 1, 1);
    const limit = posInt(input, 'limit') ?? READ_DEFAULT_LIMIT;
    const slice = lines.slice(offset - 1, offset - 1 + limit);
    if (slice.length === 0) {
      return {
        content: `(no lines: ${rel(r, file)} has ${buf.length === 0 ? 0 : lines.length} lines)`,
        isError: false,
      };
    }
    const body = slice
      .map((line, i) => {
        const shown =
          line.length > MAX_LINE_CHARS ? `${line.slice(0, MAX_LINE_CHARS)}… [line truncated]` : line;
        return `${String(offset + i).padStart(6)}\t${shown}`;
      })
      .join('\n');
    return { content: capOutput(body, maxOut), isError: false };
  }

  async function write(input: Input): Promise<ToolResult> {
    const r = await roots();
    const content = str(input, 'content') ?? '';
    const bytes = Buffer.byteLength(content, 'utf8');
    if (bytes > MAX_WRITE_BYTES)
      return toolError(`content is ${bytes} bytes; the limit is ${MAX_WRITE_BYTES}`);
    const file = await resolveInWorkspace(r, str(input, 'file_path'), { mode: 'create' });
    await writeConfined(r, file, content, o.sandbox);
    return { content: `Wrote ${bytes} bytes to ${rel(r, file)}`, isError: false };
  }

  async function edit(input: Input): Promise<ToolResult> {
    const r = await roots();
    const oldString = str(input, 'old_string') ?? '';
    const newString = str(input, 'new_string') ?? '';
    const replaceAll = input.replace_all === true;
    if (oldString.length === 0) return toolError('old_string must not be empty');
    if (oldString === newString)
      return toolError('old_string and new_string are identical; nothing to change');
    const file = await resolveInWorkspace(r, str(input, 'file_path'), { mode: 'existing' });
    const fh = await openRegular(r, file, constants.O_RDONLY);
    let text: string;
    try {
      text = await fh.readFile('utf8');
    } finally {
      await fh.close();
    }
    const count = text.split(oldString).length - 1;
    if (count === 0) return toolError(`old_string was not found in ${rel(r, file)}`);
    if (count > 1 && !replaceAll) {
      return toolError(
        `old_string occurs ${count} times in ${rel(r, file)}; add surrounding context to make it unique or set replace_all`,
      );
    }
    const updated = replaceAll
      ? text.split(oldString).join(newString)
      : text.replace(oldString, () => newString);
    await writeConfined(r, file, updated, o.sandbox);
    return { content: `Replaced ${replaceAll ? count : 1} occurrence(s) in ${rel(r, file)}`, isError: false };
  }

  async function bash(input: Input, signal?: AbortSignal): Promise<ToolResult> {
    const r = await roots();
    const command = str(input, 'command') ?? '';
    const refusal = checkShellCommand(command, o.shell, r.real);
    if (refusal) return toolError(`Bash refused: ${refusal}`);
    const timeoutSeconds = o.shell.timeout_seconds ?? DEFAULT_SHELL_TIMEOUT_SECONDS;
    let run;
    try {
      run = await runShell({
        command,
        cwd: r.real,
        env: { PATH: o.path ?? DEFAULT_PATH, HOME: r.real, LANG: 'C.UTF-8', TMPDIR: '/tmp' },
        timeoutMs: timeoutSeconds * 1000,
        maxOutputBytes: maxOut,
        sandbox: o.sandbox,
        network: o.network === true,
        signal,
      });
    } catch (err) {
      if (err instanceof SandboxUnavailableError) return toolError(`Bash refused: ${err.message}`);
      throw err;
    }
    let text = run.output;
    if (run.truncatedBytes > 0) text += `\n[output truncated: ${run.truncatedBytes} more bytes not shown]`;
    if (run.timedOut) {
      return toolError(
        `${text}\nCommand timed out after ${timeoutSeconds}s and was killed (with its child processes)`,
      );
    }
    if (run.cancelled) return toolError(`${text}\nCommand was cancelled and killed`);
    if (run.exitCode !== 0)
      return toolError(`${text}\n[exit code ${run.exitCode ?? 'unknown (killed by a signal)'}]`);
    return { content: text.length > 0 ? text : '(no output)', isError: false };
  }

  async function glob(input: Input, signal?: AbortSignal): Promise<ToolResult> {
    const r = await roots();
    const pattern = str(input, 'pattern') ?? '';
    // The pattern is a path too: the same spelling rules keep it from naming anything outside.
    try {
      checkPathSpelling(r, pattern.replace(/[*?[\]{}]/g, 'x'), 'pattern');
    } catch (err) {
      if (!(err instanceof PathRefusedError)) throw err;
      throw new PathRefusedError(
        `pattern ${JSON.stringify(pattern)} refused: ${err.message.replace(/^.*? refused: /, '')}`,
      );
    }
    let relPattern = pattern;
    if (path.isAbsolute(pattern)) {
      const base = pattern.startsWith(`${r.real}/`) ? r.real : r.nominal;
      relPattern = pattern.slice(base.length + 1);
    }
    const re = globToRegExp(relPattern.replace(/^\.\//, ''));
    const { files, truncated } = await walkFiles(r.real, { maxEntries: MAX_WALK, signal });
    const hits = files.filter((f) => re.test(f.rel)).map((f) => f.rel);
    if (hits.length === 0) return { content: 'No files matched', isError: false };
    const shown = hits.slice(0, MAX_GLOB_RESULTS);
    let body = shown.join('\n');
    if (hits.length > shown.length) body += `\n[${hits.length - shown.length} more matches not shown]`;
    if (truncated) body += `\n[the workspace has more than ${MAX_WALK} files; not all were searched]`;
    return { content: capOutput(body, maxOut), isError: false };
  }

  async function grep(input: Input, signal?: AbortSignal): Promise<ToolResult> {
    const r = await roots();
    const pattern = str(input, 'pattern') ?? '';
    try {
      new RegExp(pattern);
    } catch (err) {
      return toolError(`pattern is not a valid regular expression: ${errorMessage(err)}`);
    }
    const where = str(input, 'path', false);
    const base =
      where === undefined ? r.real : await resolveInWorkspace(r, where, { mode: 'existing', field: 'path' });
    const globPattern = str(input, 'glob', false);
    const filter = globPattern === undefined ? undefined : globToRegExp(globPattern);
    let candidates: string[];
    if ((await stat(base)).isDirectory()) {
      const { files } = await walkFiles(base, { maxEntries: MAX_WALK, signal });
      const checked: string[] = [];
      for (const f of files) {
        const relToRoot = path.relative(r.real, f.abs);
        if (filter && !filter.test(relToRoot) && !filter.test(path.basename(relToRoot))) continue;
        // Symlinks are followed only when they stay inside.
        const real = await resolveInWorkspace(r, relToRoot, { mode: 'existing' }).catch(() => undefined);
        if (real !== undefined) checked.push(real);
      }
      candidates = checked;
    } else {
      candidates = [base];
    }
    const matches = await grepInWorker({
      pattern,
      files: candidates,
      root: r.real,
      maxMatches: MAX_GREP_MATCHES,
      timeoutMs: o.grepTimeoutMs ?? 10_000,
      signal,
    });
    if (matches.timedOut)
      return toolError('Grep took too long and was stopped; simplify the pattern or narrow path/glob');
    if (matches.lines.length === 0) return { content: 'No matches', isError: false };
    let body = matches.lines.join('\n');
    if (matches.more) body += `\n[stopped after ${MAX_GREP_MATCHES} matches]`;
    return { content: capOutput(body, maxOut), isError: false };
  }

  return {
    specs: () => names.map((n) => structuredClone(SPECS[n] as ToolSpec)),
    async call(name, input, signal) {
      const args = asInput(input);
      try {
        switch (name) {
          case 'Read':
            return await read(args);
          case 'Write':
            return await write(args);
          case 'Edit':
            return await edit(args);
          case 'Bash':
            if (!o.shell.enabled)
              return toolError('Bash is not available: shell is not enabled for this agent');
            return await bash(args, signal);
          case 'Glob':
            return await glob(args, signal);
          case 'Grep':
            return await grep(args, signal);
          default:
            return toolError(`unknown workspace tool ${JSON.stringify(name)}`);
        }
      } catch (err) {
        if (err instanceof PathRefusedError || err instanceof InputError)
          return toolError(`${name}: ${err.message}`);
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ELOOP')
          return toolError(`${name}: refused: the path is a symlink that was swapped in during the call`);
        // Filesystem errors carry absolute paths; the model only knows workspace-relative ones.
        const r = await roots();
        return toolError(`${name} failed: ${errorMessage(err).split(r.real).join('.')}`);
      }
    },
  };
}

/**
 * A file with several hard links may be the same inode as a file outside the workspace (a path
 * check cannot tell), so such files are neither read nor written.
 */
function refuseHardLink(r: WorkspaceRoots, file: string, nlink: number): void {
  if (nlink > 1) {
    throw new PathRefusedError(
      `${JSON.stringify(path.relative(r.real, file))} refused: it is hard-linked (${nlink} links) and may be a file outside the workspace`,
    );
  }
}

/** Writes through O_NOFOLLOW so a symlink created between the check and the write is not followed. */
/**
 * Opens a workspace file only if it is a regular file with one link. O_NONBLOCK keeps a FIFO from
 * blocking the open (and with it a thread of the runner's pool); devices and sockets are refused
 * by type after the open, on the opened descriptor.
 */
async function openRegular(
  r: WorkspaceRoots,
  file: string,
  flags: number,
  mode?: number,
): Promise<FileHandle> {
  let fh: FileHandle;
  try {
    fh = await open(file, flags | constants.O_NOFOLLOW | constants.O_NONBLOCK, mode);
  } catch (err) {
    // A FIFO without a reader answers a non-blocking write-open with ENXIO.
    if ((err as NodeJS.ErrnoException).code === 'ENXIO')
      throw new PathRefusedError(`${path.relative(r.real, file)} is not a regular file (a FIFO or socket)`);
    throw err;
  }
  try {
    const st = await fh.stat();
    if (!st.isFile())
      throw new PathRefusedError(
        `${path.relative(r.real, file)} is not a regular file (a FIFO, device or socket)`,
      );
    refuseHardLink(r, file, st.nlink);
    return fh;
  } catch (err) {
    await fh.close();
    throw err;
  }
}

async function writeConfined(
  r: WorkspaceRoots,
  file: string,
  content: string,
  sandbox: Sandbox,
): Promise<void> {
  const dir = path.dirname(file);
  const created = await mkdir(dir, { recursive: true });
  for (let d = dir; created !== undefined && d.startsWith(created); d = path.dirname(d)) {
    await sandbox.adoptFile(d);
  }
  // mkdir may have created directories; check the parent once more now that it exists.
  await resolveInWorkspace(r, path.relative(r.real, path.dirname(file)) || '.', { mode: 'existing' });
  // Truncate only after checking the opened file: a hard link could name a file outside.
  const fh = await openRegular(r, file, constants.O_WRONLY | constants.O_CREAT, 0o644);
  try {
    await sandbox.adoptFile(file);
    await fh.truncate(0);
    await fh.writeFile(content, 'utf8');
  } finally {
    await fh.close();
  }
}

/**
 * JavaScript regexes can backtrack exponentially; running the scan in a worker thread lets a
 * timeout stop it without blocking the runner's event loop.
 */
const GREP_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const fs = require('node:fs');
const path = require('node:path');
const re = new RegExp(workerData.pattern);
const lines = [];
let more = false;
outer: for (const file of workerData.files) {
  let buf;
  try { const st = fs.statSync(file); if (!st.isFile() || st.nlink > 1) continue; buf = fs.readFileSync(file); } catch { continue; }
  if (buf.length > 5 * 1024 * 1024 || buf.subarray(0, 8192).includes(0)) continue;
  const rel = path.relative(workerData.root, file) || path.basename(file);
  const text = buf.toString('utf8').split('\\n');
  for (let i = 0; i < text.length; i++) {
    const line = text[i].length > 4000 ? text[i].slice(0, 4000) : text[i];
    if (re.test(line)) {
      if (lines.length >= workerData.maxMatches) { more = true; break outer; }
      lines.push(rel + ':' + (i + 1) + ':' + (line.length > 500 ? line.slice(0, 500) + '…' : line));
    }
  }
}
parentPort.postMessage({ lines, more });
`;

function grepInWorker(o: {
  pattern: string;
  files: string[];
  root: string;
  maxMatches: number;
  timeoutMs: number;
  signal?: AbortSignal;
}): Promise<{ lines: string[]; more: boolean; timedOut: boolean }> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(GREP_WORKER, {
      eval: true,
      workerData: { pattern: o.pattern, files: o.files, root: o.root, maxMatches: o.maxMatches },
      resourceLimits: { maxOldGenerationSizeMb: 256 },
    });
    let done = false;
    const stop = (result?: { lines: string[]; more: boolean; timedOut: boolean }, err?: Error): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
      void worker.terminate();
      if (err) reject(err);
      else resolve(result ?? { lines: [], more: false, timedOut: true });
    };
    const timer = setTimeout(() => stop(), o.timeoutMs);
    const onAbort = (): void => stop(undefined, new Error('cancelled'));
    o.signal?.addEventListener('abort', onAbort, { once: true });
    worker.on('message', (m: { lines: string[]; more: boolean }) => stop({ ...m, timedOut: false }));
    worker.on('error', (err) => stop(undefined, err));
    worker.on('exit', () => stop(undefined, new Error('grep worker exited unexpectedly')));
  });
}
