/**
 * The Bash tool's policy and runner. The policy parses the command the way sh would split it
 * (quotes, escapes, operators, `$( )`, backticks, process substitution) so that every simple
 * command hidden in it is checked against `allowed_commands` and `blocked_patterns` as the words
 * sh will run (`cu""rl` is curl), not just as typed.
 *
 * The policy is the agent author's intent, not the boundary: the shell expands parameters and
 * globs after any check, so confinement comes from the kernel sandbox (../sandbox.ts) every command
 * runs in.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import type { Sandbox } from '../sandbox';
import { isInside } from './paths';
import type { ShellConfig } from './types';

interface SimpleCommand {
  words: string[];
  redirects: string[];
}

interface Parsed {
  commands: SimpleCommand[];
  problems: string[];
}

const MAX_NESTING = 8;

/** Finds the `)` closing a `$(`/`<(` whose body starts at `from`; -1 when unbalanced. */
function findClosingParen(s: string, from: number): number {
  let depth = 1;
  for (let i = from; i < s.length; i++) {
    const c = s[i];
    if (c === '\\') {
      i++;
    } else if (c === "'") {
      const end = s.indexOf("'", i + 1);
      if (end === -1) return -1;
      i = end;
    } else if (c === '"') {
      for (i++; i < s.length && s[i] !== '"'; i++) if (s[i] === '\\') i++;
    } else if (c === '(') {
      depth++;
    } else if (c === ')') {
      depth--;
      if (depth === 0) return i;
    }
  }
  return -1;
}

function findClosingBacktick(s: string, from: number): number {
  for (let i = from; i < s.length; i++) {
    if (s[i] === '\\') i++;
    else if (s[i] === '`') return i;
  }
  return -1;
}

/**
 * Splits a shell command into the simple commands sh would run, including those inside command
 * and process substitutions. Anything it cannot account for is reported in `problems`.
 */
export function parseShellCommand(cmd: string, depth = 0): Parsed {
  const out: Parsed = { commands: [], problems: [] };
  if (depth > MAX_NESTING) {
    out.problems.push('command substitutions nested too deeply');
    return out;
  }
  let cur: SimpleCommand = { words: [], redirects: [] };
  let word = '';
  let inWord = false;
  let redirectNext = false;
  const endWord = (): void => {
    if (!inWord) return;
    if (redirectNext) cur.redirects.push(word);
    else cur.words.push(word);
    word = '';
    inWord = false;
    redirectNext = false;
  };
  const endCommand = (): void => {
    endWord();
    if (cur.words.length > 0 || cur.redirects.length > 0) out.commands.push(cur);
    cur = { words: [], redirects: [] };
  };
  const nested = (body: string): void => {
    const inner = parseShellCommand(body, depth + 1);
    out.commands.push(...inner.commands);
    out.problems.push(...inner.problems);
  };
  /** Handles `$(`, `<(`, `>(` and backticks at i; returns the index of the last consumed char. */
  const substitution = (i: number): number => {
    if (cmd[i] === '`') {
      const end = findClosingBacktick(cmd, i + 1);
      if (end === -1) {
        out.problems.push('unterminated backtick');
        return cmd.length;
      }
      nested(cmd.slice(i + 1, end));
      return end;
    }
    const end = findClosingParen(cmd, i + 2);
    if (end === -1) {
      out.problems.push('unbalanced parentheses');
      return cmd.length;
    }
    nested(cmd.slice(i + 2, end));
    return end;
  };

  for (let i = 0; i < cmd.length; i++) {
    const c = cmd.charAt(i);
    const next = cmd[i + 1];
    if (c === '\\') {
      if (next === '\n') {
        i++;
        continue;
      }
      word += next ?? '';
      inWord = true;
      i++;
    } else if (c === "'") {
      const end = cmd.indexOf("'", i + 1);
      if (end === -1) {
        out.problems.push('unterminated single quote');
        break;
      }
      word += cmd.slice(i + 1, end);
      inWord = true;
      i = end;
    } else if (c === '"') {
      inWord = true;
      let closed = false;
      for (i++; i < cmd.length; i++) {
        const d = cmd.charAt(i);
        if (d === '\\' && i + 1 < cmd.length) {
          word += cmd.charAt(++i);
        } else if (d === '"') {
          closed = true;
          break;
        } else if (d === '`' || (d === '$' && cmd[i + 1] === '(')) {
          i = substitution(i);
          word += '\u0000';
        } else {
          word += d;
        }
      }
      if (!closed) {
        out.problems.push('unterminated double quote');
        break;
      }
    } else if (c === '`' || (c === '$' && next === '(') || ((c === '<' || c === '>') && next === '(')) {
      i = substitution(i);
      word += '\u0000';
      inWord = true;
    } else if (c === ' ' || c === '\t') {
      endWord();
    } else if (c === '#' && !inWord) {
      const nl = cmd.indexOf('\n', i);
      i = nl === -1 ? cmd.length : nl - 1;
    } else if (c === ';' || c === '&' || c === '|' || c === '\n') {
      if ((c === '&' || c === '|' || c === ';') && next === c) i++;
      else if (c === '|' && next === '&') i++;
      else if (c === '&' && next === '>') {
        // `&>file` redirects both streams; not a separator.
        endWord();
        i++;
        if (cmd[i + 1] === '>') i++;
        redirectNext = true;
        continue;
      }
      endCommand();
    } else if (c === '>' || c === '<') {
      if (inWord && /^\d+$/.test(word)) {
        word = '';
        inWord = false;
      } else {
        endWord();
      }
      if (c === '<' && next === '<') {
        out.problems.push('here-documents and here-strings are not supported');
        break;
      }
      if (next === '>' || next === '&' || next === '|') i++;
      redirectNext = true;
    } else if (c === '(' || c === ')' || c === '{' || c === '}') {
      // Grouping runs commands in ways this check does not model; refuse it.
      if (!inWord) {
        out.problems.push(`grouping with '${c}' is not supported; run commands one at a time`);
        break;
      }
      word += c;
    } else {
      word += c;
      inWord = true;
    }
  }
  endCommand();
  return out;
}

/** `/dev` names that are harmless as redirect targets or arguments. */
const SAFE_ABSOLUTE = new Set(['/dev/null', '/dev/stdout', '/dev/stderr', '/dev/zero']);

function pathProblem(arg: string, workspace: string): string | undefined {
  const candidates = [arg];
  const eq = arg.indexOf('=');
  if (arg.startsWith('-') && eq > 0) candidates.push(arg.slice(eq + 1));
  for (const a of candidates) {
    if (a.startsWith('~')) return `argument ${JSON.stringify(arg)} refers to a home directory`;
    if (a.split('/').includes('..')) return `argument ${JSON.stringify(arg)} contains '..'`;
    if (a.startsWith('/') && !SAFE_ABSOLUTE.has(a) && !isInside(workspace, path.resolve(a))) {
      return `argument ${JSON.stringify(arg)} is outside the workspace`;
    }
  }
  return undefined;
}

function matchesBlocked(command: string, pattern: string): boolean {
  if (pattern.length === 0) return false;
  if (command.includes(pattern)) return true;
  try {
    return new RegExp(pattern).test(command);
  } catch {
    return false; // not a regex: the substring test above was the whole check
  }
}

/** The simple commands as sh will see their words (quotes and escapes removed), one per line. */
function normalizedCommands(parsed: Parsed): string[] {
  return parsed.commands.map((c) =>
    [...c.words, ...c.redirects.map((r) => `> ${r}`)].map((w) => w.split('\u0000').join('')).join(' '),
  );
}

/**
 * Decides whether `command` may run under `shell`. Returns the reason it may not, or undefined.
 * `workspace` is the real workspace path, for the argument checks.
 */
export function checkShellCommand(
  command: string,
  shell: ShellConfig,
  workspace: string,
): string | undefined {
  if (!shell.enabled) return 'shell is not enabled for this agent (capabilities.shell.enabled)';
  if (command.trim().length === 0) return 'command is empty';
  if (command.includes('\0')) return 'command contains a NUL byte';
  const blocked = (spellings: string[]): string | undefined => {
    const hit = (shell.blocked_patterns ?? []).find((p) => spellings.some((c) => matchesBlocked(c, p)));
    return hit === undefined ? undefined : `command matches blocked pattern ${JSON.stringify(hit)}`;
  };
  const raw = blocked([command]);
  if (raw) return raw;
  const parsed = parseShellCommand(command);
  if (parsed.problems.length > 0) return `command refused: ${parsed.problems[0] ?? ''}`;
  // As sh will see the words: `cu""rl` is curl.
  const words = blocked(normalizedCommands(parsed));
  if (words) return words;
  const allowed = shell.allowed_commands ?? [];
  for (const c of parsed.commands) {
    const first = c.words[0];
    if (allowed.length > 0) {
      if (first === undefined) return 'a redirection without a command is not allowed';
      if (/^[A-Za-z_][A-Za-z0-9_]*=/.test(first)) {
        return `environment assignments before a command (${JSON.stringify(first)}) are not allowed`;
      }
      if (!allowed.includes(first)) {
        return `command ${JSON.stringify(first)} is not in allowed_commands (${allowed.join(', ')})`;
      }
    }
    for (const arg of [...c.words.slice(1), ...c.redirects]) {
      const problem = pathProblem(arg.split('\u0000').join(''), workspace);
      if (problem) return problem;
    }
  }
  return undefined;
}

export interface ShellRun {
  output: string;
  exitCode: number | null;
  timedOut: boolean;
  cancelled: boolean;
  truncatedBytes: number;
}

/**
 * Runs `command` with /bin/sh inside the sandbox, in its own process group, and kills the whole
 * group on timeout, cancellation, or when the shell exits (so background children do not outlive
 * the call; the sandbox's PID namespace ends with its first process as well). Throws
 * `SandboxUnavailableError` when the sandbox cannot start.
 */
export function runShell(o: {
  command: string;
  cwd: string;
  env: Record<string, string>;
  timeoutMs: number;
  maxOutputBytes: number;
  sandbox: Sandbox;
  /** Network for the command (the agent holds the `shell:network` grant); off by default. */
  network?: boolean;
  signal?: AbortSignal;
}): Promise<ShellRun> {
  const boxed = o.sandbox.wrap({
    command: '/bin/sh',
    args: ['-c', o.command],
    env: o.env,
    workspace: o.cwd,
    network: o.network === true,
    limits: { cpuSeconds: Math.max(1, Math.ceil(o.timeoutMs / 1000)) },
  });
  return new Promise((resolve) => {
    const child = spawn(boxed.command, boxed.args, {
      cwd: boxed.cwd,
      env: boxed.env,
      uid: boxed.uid,
      gid: boxed.gid,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const chunks: Buffer[] = [];
    let kept = 0;
    let dropped = 0;
    const collect = (b: Buffer): void => {
      const room = o.maxOutputBytes - kept;
      if (room > 0) {
        const part = b.length > room ? b.subarray(0, room) : b;
        chunks.push(part);
        kept += part.length;
      }
      dropped += Math.max(0, b.length - Math.max(room, 0));
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    let timedOut = false;
    let cancelled = false;
    let exitCode: number | null = null;
    const killGroup = (): void => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // the group is already gone
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup();
    }, o.timeoutMs);
    const onAbort = (): void => {
      cancelled = true;
      killGroup();
    };
    o.signal?.addEventListener('abort', onAbort, { once: true });
    if (o.signal?.aborted) onAbort();
    let finished = false;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
      child.stdout.destroy();
      child.stderr.destroy();
      resolve({
        output: Buffer.concat(chunks).toString('utf8'),
        exitCode,
        timedOut,
        cancelled,
        truncatedBytes: dropped,
      });
    };
    child.on('error', (err) => {
      chunks.push(Buffer.from(`failed to start the shell: ${err.message}`));
      finish();
    });
    child.on('exit', (code) => {
      exitCode = code;
      killGroup();
      // Output still buffered in the pipes arrives before 'close'; a process that left the group
      // and kept the pipe open must not hold the call, so close anyway after a moment.
      setTimeout(finish, 1000).unref();
    });
    child.on('close', finish);
  });
}
