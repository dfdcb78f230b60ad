/**
 * The kernel sandbox every process an agent drives is started through: the Bash tool, custom and
 * built-in MCP stdio servers, and the CLI executors. Policy checks on how a command is spelled
 * cannot confine a shell (it expands parameters and globs after the check); namespaces can.
 *
 * Why bubblewrap and not `@anthropic-ai/sandbox-runtime`: bwrap is one small, audited setuid-free
 * binary from the distribution that takes the whole policy as argv, starts in a few milliseconds,
 * and gives exactly the primitives we need (new user/PID/IPC/UTS/mount/net namespaces, a root built
 * from nothing with chosen read-only binds, `--die-with-parent`). sandbox-runtime wraps bwrap on
 * Linux too, but adds a proxy process per sandbox for its domain-filtered network and reads its
 * policy from a settings file; we need network either off or on per process, so the extra layer
 * buys nothing and costs a process per Bash call.
 *
 * What a sandboxed process sees:
 * - a tmpfs root with `/usr` (and the `/bin`, `/lib*`, `/sbin` links), an allow-list of `/etc`
 *   entries and the Node installation read-only; its own workspace read-write (at the same path);
 *   a private `/tmp`; a fresh `/proc` of its own PID namespace (the runner's processes and their
 *   `environ` do not exist there); a minimal `/dev`;
 * - exactly the environment it is given (bwrap is spawned with it; nothing of the runner's);
 * - no network unless the request asks for it (`--unshare-net` gives it only a loopback of its own);
 * - rlimits set inside the new user namespace (so the process count is per sandbox): CPU seconds,
 *   memory (data), processes, file size, open files. Output size is capped by the reader.
 *
 * When the runner runs as root (a development machine or CI; the k8s pods do not), the sandbox runs
 * as `nobody` (65534): the kernel never applies RLIMIT_NPROC to root, so a fork bomb would
 * otherwise go unchecked. The session's workspace is handed to that user, and the folders above it
 * get the search bit (o+x, never read) so bwrap can reach it.
 *
 * Fail closed: `createSandbox` probes once at start; when bwrap is missing or user namespaces are
 * off, `wrap` throws `SandboxUnavailableError` naming the cause and the fix. Only
 * `BOTBURROW_SANDBOX=none` (development only, logged at error level) runs processes unconfined.
 */
import { spawn } from 'node:child_process';
import { existsSync, lstatSync } from 'node:fs';
import { chmod, chown, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Settings } from '../lib/config';
import type { Logger } from '../lib/logger';

export interface SandboxLimits {
  /** RLIMIT_CPU: CPU seconds per process. */
  cpuSeconds: number;
  /**
   * RLIMIT_DATA: heap and private writable memory per process, bytes. Not RLIMIT_AS: Node and
   * WebAssembly reserve many GiB of address space they never touch, so an address-space cap breaks them.
   */
  memoryBytes: number;
  /** RLIMIT_NPROC: processes (and threads) inside the sandbox. */
  processes: number;
  /** RLIMIT_FSIZE: the largest file a process may write, bytes. */
  fileBytes: number;
  /** RLIMIT_NOFILE. */
  openFiles: number;
}

export const DEFAULT_SANDBOX_LIMITS: SandboxLimits = {
  cpuSeconds: 300,
  memoryBytes: 2048 * 1024 * 1024,
  processes: 128,
  fileBytes: 256 * 1024 * 1024,
  openFiles: 1024,
};

export interface SandboxRequest {
  command: string;
  args: readonly string[];
  /** The whole environment inside; nothing else is inherited. */
  env: Record<string, string>;
  /** The only writable directory; also the working directory. */
  workspace: string;
  /** Network namespace shared with the runner (an MCP server that calls an API) or none. */
  network: boolean;
  /** Extra directories visible read-only (e.g. the project's node_modules for an MCP server). */
  readOnly?: readonly string[];
  /** Paths under `readOnly` to hide (replaced by empty directories or files). */
  hide?: readonly string[];
  limits?: Partial<SandboxLimits>;
}

/** What to hand to `child_process.spawn`. */
export interface SandboxedCommand {
  command: string;
  args: string[];
  env: Record<string, string>;
  cwd: string;
  uid?: number;
  gid?: number;
}

export interface Sandbox {
  /** `bwrap`, or `none` when an operator turned confinement off for development. */
  readonly kind: 'bwrap' | 'none';
  /** Undefined when the sandbox works; otherwise why it cannot start and how to fix it. */
  readonly unavailable?: string;
  /** The command line that runs `req` confined. Throws `SandboxUnavailableError` (fail closed). */
  wrap(req: SandboxRequest): SandboxedCommand;
  /** Makes a fresh workspace usable by the sandbox's user (chown when the runner is root). */
  prepareWorkspace(dir: string): Promise<void>;
  /** Gives a file the runner wrote in a workspace to the sandbox's user. */
  adoptFile(file: string): Promise<void>;
}

export class SandboxUnavailableError extends Error {
  override readonly name = 'SandboxUnavailableError';
}

/** The unprivileged user a root runner's sandboxes run as. */
export const SANDBOX_NOBODY = 65534;

/** `/etc` entries programs commonly need; nothing else of `/etc` is visible. */
const ETC_ALLOW = [
  'alternatives',
  'ca-certificates',
  'ca-certificates.conf',
  'ssl',
  'passwd',
  'group',
  'nsswitch.conf',
  'hosts',
  'host.conf',
  'resolv.conf',
  'gai.conf',
  'ld.so.cache',
  'ld.so.conf',
  'ld.so.conf.d',
  'localtime',
  'mime.types',
  'os-release',
  'protocols',
  'services',
  'profile',
  'bash.bashrc',
  'inputrc',
  'gitconfig',
  'magic',
  'python3',
  'python3.11',
  'vim',
];

const PRLIMIT = '/usr/bin/prlimit';

function layout(): string[] {
  const args = ['--ro-bind', '/usr', '/usr'];
  for (const top of ['/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32']) {
    let st;
    try {
      st = lstatSync(top);
    } catch {
      continue;
    }
    // Merged-/usr systems have these as links into /usr; keep them links, else bind them.
    if (st.isSymbolicLink()) args.push('--symlink', path.join('usr', path.basename(top)), top);
    else args.push('--ro-bind', top, top);
  }
  for (const name of ETC_ALLOW) {
    const p = path.join('/etc', name);
    if (existsSync(p)) args.push('--ro-bind', p, p);
  }
  // Node outside /usr (nvm, /opt/node): bind its installation so `node` resolves inside.
  const nodePrefix = path.dirname(path.dirname(process.execPath));
  if (!nodePrefix.startsWith('/usr/') && nodePrefix !== '/usr')
    args.push('--ro-bind', nodePrefix, nodePrefix);
  return args;
}

function limitArgs(l: SandboxLimits): string[] {
  return [
    `--cpu=${l.cpuSeconds}`,
    `--data=${l.memoryBytes}`,
    `--nproc=${l.processes}`,
    `--fsize=${l.fileBytes}`,
    `--nofile=${l.openFiles}`,
  ];
}

class BwrapSandbox implements Sandbox {
  readonly kind = 'bwrap' as const;
  private readonly fixed: string[];
  private readonly asNobody: boolean;

  constructor(
    private readonly bwrap: string,
    private readonly limits: SandboxLimits,
    readonly unavailable: string | undefined,
  ) {
    this.fixed = layout();
    this.asNobody = process.getuid?.() === 0;
  }

  wrap(req: SandboxRequest): SandboxedCommand {
    if (this.unavailable) throw new SandboxUnavailableError(this.unavailable);
    const ws = path.resolve(req.workspace);
    const args = [
      '--unshare-all',
      ...(req.network ? ['--share-net'] : []),
      '--die-with-parent',
      '--new-session',
      '--hostname',
      'sandbox',
      ...this.fixed,
      '--proc',
      '/proc',
      '--dev',
      '/dev',
      '--tmpfs',
      '/tmp',
    ];
    for (const dir of req.readOnly ?? []) args.push('--ro-bind', dir, dir);
    for (const p of req.hide ?? []) {
      let st;
      try {
        st = lstatSync(p);
      } catch {
        continue;
      }
      if (st.isDirectory()) args.push('--tmpfs', p);
      else args.push('--ro-bind', '/dev/null', p);
    }
    args.push('--bind', ws, ws, '--chdir', ws);
    const limits = { ...this.limits, ...req.limits };
    args.push('--', PRLIMIT, ...limitArgs(limits), '--', req.command, ...req.args);
    return {
      command: this.bwrap,
      args,
      env: { ...req.env },
      cwd: ws,
      ...(this.asNobody ? { uid: SANDBOX_NOBODY, gid: SANDBOX_NOBODY } : {}),
    };
  }

  async prepareWorkspace(dir: string): Promise<void> {
    if (!this.asNobody) return;
    const ws = path.resolve(dir);
    await chown(ws, SANDBOX_NOBODY, SANDBOX_NOBODY);
    // bwrap looks up the workspace as the sandbox's user: each folder above it must let that user
    // pass through (x), though not list (r).
    for (let d = path.dirname(ws); d !== path.dirname(d); d = path.dirname(d)) {
      const st = await stat(d);
      if ((st.mode & 0o001) === 0) await chmod(d, (st.mode & 0o7777) | 0o001);
    }
  }

  async adoptFile(file: string): Promise<void> {
    if (!this.asNobody) return;
    await chown(file, SANDBOX_NOBODY, SANDBOX_NOBODY);
  }
}

/** No confinement at all: development only, chosen explicitly with BOTBURROW_SANDBOX=none. */
class NoSandbox implements Sandbox {
  readonly kind = 'none' as const;
  readonly unavailable = undefined;

  wrap(req: SandboxRequest): SandboxedCommand {
    return {
      command: req.command,
      args: [...req.args],
      env: { ...req.env },
      cwd: path.resolve(req.workspace),
    };
  }

  async prepareWorkspace(): Promise<void> {}

  async adoptFile(): Promise<void> {}
}

function findOnPath(name: string, searchPath: string): string | undefined {
  for (const dir of searchPath.split(':')) {
    if (!dir) continue;
    const p = path.join(dir, name);
    if (existsSync(p)) return p;
  }
  return undefined;
}

const FIX =
  'install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap) and allow unprivileged user namespaces ' +
  '(sysctl kernel.unprivileged_userns_clone=1; on Ubuntu 24.04+ also kernel.apparmor_restrict_unprivileged_userns=0; ' +
  'in Kubernetes the seccomp profile of k8s/ must allow unshare/clone with namespace flags)';

/** Runs a trivial command in the sandbox; resolves with the failure text, or undefined when it works. */
async function probe(sb: BwrapSandbox, tmp: string): Promise<string | undefined> {
  let cmd: SandboxedCommand;
  try {
    cmd = sb.wrap({
      command: '/bin/sh',
      args: ['-c', 'echo ok'],
      env: { PATH: '/usr/bin:/bin' },
      workspace: tmp,
      network: false,
    });
  } catch (err) {
    return (err as Error).message;
  }
  return new Promise((resolve) => {
    const child = spawn(cmd.command, cmd.args, {
      env: cmd.env,
      cwd: '/',
      uid: cmd.uid,
      gid: cmd.gid,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    child.on('error', (err) => resolve(err.message));
    child.on('close', (code) =>
      resolve(code === 0 && out.trim() === 'ok' ? undefined : `exit ${code}: ${out.trim().slice(0, 300)}`),
    );
  });
}

export interface CreateSandboxOptions {
  /** `bwrap` (default) or `none` (BOTBURROW_SANDBOX). */
  mode: 'bwrap' | 'none';
  /** Where bwrap is; found on PATH when absent. */
  bwrapPath?: string;
  limits?: Partial<SandboxLimits>;
  logger: Logger;
  /** PATH searched for bwrap. */
  searchPath?: string;
}

/**
 * Builds the runner's sandbox and checks once that it can start a process. A sandbox that cannot
 * start is still returned (its `unavailable` says why) so agents that need no process keep running;
 * every `wrap` then refuses.
 */
export async function createSandbox(o: CreateSandboxOptions): Promise<Sandbox> {
  if (o.mode === 'none') {
    o.logger.error(
      { sandbox: 'none' },
      "BOTBURROW_SANDBOX=none: agent processes (Bash, MCP servers, CLI executors) run UNCONFINED with the runner's user; never use this outside development",
    );
    return new NoSandbox();
  }
  const limits = { ...DEFAULT_SANDBOX_LIMITS, ...o.limits };
  const bwrap = o.bwrapPath ?? findOnPath('bwrap', o.searchPath ?? process.env.PATH ?? '/usr/bin:/bin');
  if (!bwrap || !existsSync(bwrap)) {
    const why = `the sandbox cannot start: bubblewrap (bwrap) was not found${o.bwrapPath ? ` at ${o.bwrapPath}` : ' on PATH'}; ${FIX}`;
    o.logger.error({ sandbox: 'bwrap' }, why);
    return new BwrapSandbox('bwrap', limits, why);
  }
  if (!existsSync(PRLIMIT)) {
    const why = `the sandbox cannot start: ${PRLIMIT} (util-linux) is missing, so no limits can be set; install util-linux`;
    o.logger.error({ sandbox: 'bwrap' }, why);
    return new BwrapSandbox(bwrap, limits, why);
  }
  const candidate = new BwrapSandbox(bwrap, limits, undefined);
  const failure = await probe(candidate, '/tmp');
  if (failure) {
    const why = `the sandbox cannot start: ${bwrap} failed (${failure}); ${FIX}`;
    o.logger.error({ sandbox: 'bwrap' }, why);
    return new BwrapSandbox(bwrap, limits, why);
  }
  o.logger.info({ sandbox: 'bwrap', bwrap, limits }, 'sandbox ready');
  return candidate;
}

/** The runner's sandbox from its settings (BOTBURROW_SANDBOX*). */
export function sandboxFromSettings(
  settings: Pick<
    Settings,
    | 'sandbox'
    | 'sandboxBwrapPath'
    | 'sandboxCpuSeconds'
    | 'sandboxMemoryMb'
    | 'sandboxMaxProcesses'
    | 'sandboxMaxFileMb'
  >,
  logger: Logger,
): Promise<Sandbox> {
  return createSandbox({
    mode: settings.sandbox,
    bwrapPath: settings.sandboxBwrapPath,
    logger,
    limits: {
      cpuSeconds: settings.sandboxCpuSeconds,
      memoryBytes: settings.sandboxMemoryMb * 1024 * 1024,
      processes: settings.sandboxMaxProcesses,
      fileBytes: settings.sandboxMaxFileMb * 1024 * 1024,
    },
  });
}
