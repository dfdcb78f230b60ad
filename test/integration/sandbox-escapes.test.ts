/**
 * Escape attempts against the real sandbox, through the path an activation's Bash tool takes
 * (SessionManager.call → workspace tools → runShell → bwrap). Each attempt must be refused or find
 * nothing: no secret value appears in the result or the log, and not even as `[redacted]` (that
 * would mean the value reached the output and only the scrubber saved it). A control run without
 * the sandbox shows the same attempts do leak when unconfined, so these tests can fail.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSandbox } from '../../activities/sandbox';
import type { Sandbox } from '../../activities/sandbox';
import { SessionManager } from '../../activities/tools/sessions';
import type { ToolsAgent } from '../../activities/tools/types';
import { services } from '../support/env';
import { processesWithArg } from '../support/processes';

const SECRETS = {
  anthropic: 'sk-ant-escape-test-7f3a9c1e5b',
  hub: 'hub-service-key-escape-4d2e8a',
  github: 'ghp_escape_test_0a1b2c3d4e5f',
  outsideFile: 'OUTSIDE-FILE-SECRET-93a7',
  otherWorkspace: 'OTHER-WORKSPACE-SECRET-51c2',
  projectFile: 'PROJECT-ROOT-SECRET-66d0',
};
const SECRET_VALUES = Object.values(SECRETS);

const logLines: string[] = [];
const logger = pino(
  { level: 'debug' },
  new Writable({
    write(chunk: Buffer, _enc, done) {
      logLines.push(chunk.toString());
      done();
    },
  }),
);

let base: string;
let outsideDir: string;
let outsideFile: string;
let sandbox: Sandbox;
let manager: SessionManager;
let sid: string;
let ws: string;
let otherWs: string;
let listener: net.Server;
let listenerPort: number;
let connectionsSeen = 0;

const shellAgent: ToolsAgent = {
  id: 'escape-agent',
  config: { capabilities: { shell: { enabled: true, timeout_seconds: 10 } } },
};

function newManager(sb: Sandbox, root: string): SessionManager {
  return new SessionManager({
    root,
    sandbox: sb,
    credentials: { githubPat: SECRETS.github },
    hub: { url: 'http://127.0.0.1:9', apiKey: SECRETS.hub },
    secrets: [SECRETS.anthropic],
    timeoutMs: 5000,
    logger,
    path: process.env.PATH,
    maxOutputBytes: 64 * 1024,
  });
}

beforeAll(async () => {
  base = await mkdtemp(path.join(os.tmpdir(), 'bb-escape-'));
  outsideDir = path.join(base, 'outside');
  await mkdir(outsideDir);
  outsideFile = path.join(outsideDir, 'secret.txt');
  await writeFile(outsideFile, SECRETS.outsideFile);
  // Small limits so the limit cases finish fast.
  sandbox = await createSandbox({
    mode: 'bwrap',
    logger,
    limits: { fileBytes: 8 * 1024 * 1024, processes: 64, memoryBytes: 512 * 1024 * 1024 },
  });
  expect(sandbox.unavailable).toBeUndefined();
  manager = newManager(sandbox, path.join(base, 'workspaces'));
  // Another agent's session, with a secret in its workspace.
  const other = `other-${Date.now()}`;
  await manager.open({ sessionId: other, agent: { ...shellAgent, id: 'other-agent' } });
  otherWs = manager.workspaceDir(other)!;
  await writeFile(path.join(otherWs, 'secret.txt'), SECRETS.otherWorkspace);
  sid = `escape-${Date.now()}`;
  await manager.open({ sessionId: sid, agent: shellAgent });
  ws = manager.workspaceDir(sid)!;
  listener = net.createServer((s) => {
    connectionsSeen++;
    s.end('hello from the host\n');
  });
  await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
  listenerPort = (listener.address() as net.AddressInfo).port;
});

afterAll(async () => {
  await manager?.closeAll();
  listener?.close();
  await rm(base, { recursive: true, force: true });
});

function expectNoSecret(text: string): void {
  for (const s of SECRET_VALUES) expect(text).not.toContain(s);
  expect(text).not.toContain('[redacted]');
}

async function bash(command: string): Promise<{ content: string; isError: boolean }> {
  const r = await manager.call(sid, 'Bash', { command });
  expectNoSecret(r.content);
  return r;
}

describe('the sandbox hides the runner, other workspaces and the host', () => {
  // Spelled so the policy layer lets them through (paths behind variables and globs, as a
  // shell expands them after any check): the kernel boundary is what is tested here.
  const reads: [string, () => string][] = [
    ["the parent's environment through /proc/$PPID/environ", () => 'P=/proc; cat $P/$PPID/environ'],
    ['every process environment by glob', () => 'P=/proc; cat $P/[0-9]*/environ 2>/dev/null; echo done'],
    ['environ of pid 1', () => 'P=/proc; cat $P/1/environ'],
    [
      'grep over /proc for the key',
      () => `P=/proc; grep -r -a "${SECRETS.anthropic.slice(0, 10)}" $P/*/environ 2>/dev/null; echo done`,
    ],
    ['its own environment', () => 'env; printenv'],
    ['a file outside by absolute path in a variable', () => `f=${outsideFile}; cat "$f"`],
    ['a file outside by glob', () => `B=${base}; cat $B/out*/*.txt`],
    ['a file outside by parameter expansion', () => `cat \${HOME%/*/*}/outside/secret.txt`],
    ['another workspace by a sibling glob', () => 'U=..; cat $U/*/secret.txt'],
    ['another workspace by absolute path', () => `O=${otherWs}; cat $O/secret.txt`],
    ['another workspace by parameter expansion', () => `cat \${HOME%/*}/other-*/secret.txt`],
    ['a symlink made inside to a file outside', () => `f=${outsideFile}; ln -s $f l1 && cat l1`],
    ['a symlink made inside to another workspace', () => `O=${otherWs}; ln -s $O l2 && cat l2/secret.txt`],
    ['a hard link made inside to a file outside', () => `f=${outsideFile}; ln $f h1 && cat h1`],
    ['sh -c', () => `sh -c 'cat ${outsideFile}; cat /proc/1/environ'`],
    [
      'node -e',
      () =>
        `node -e 'const fs=require("fs");for(const p of ["${outsideFile}","/proc/1/environ"])try{console.log(fs.readFileSync(p,"utf8"))}catch(e){console.log(e.code)}'`,
    ],
    [
      'python3 -c',
      () =>
        `python3 -c 'import glob;[print(open(p).read()) for p in glob.glob("/proc/*/environ")+["${outsideFile}"] if __import__("os").path.exists(p)]' 2>&1`,
    ],
    ['the project checkout', () => `f=${path.resolve(__dirname, '../../package.json')}; cat $f`],
    ['the runner home', () => 'R=/root; ls -la $R 2>&1; cat $R/.npmrc $R/.bash_history 2>&1'],
  ];
  it.each(reads)('%s', async (_name, command) => {
    const r = await bash(command());
    // The policy did not stop it; the sandbox did.
    expect(r.content).not.toMatch(/^Bash refused/);
  });

  it('shows only its own processes and a minimal /dev, no /sys', async () => {
    const r = await bash('P=/proc; ls $P | grep -c "^[0-9]"; D=/dev; ls $D; S=/sys; ls $S 2>&1 | head -1');
    const count = Number(r.content.split('\n')[0]);
    expect(count).toBeGreaterThan(0);
    expect(count).toBeLessThan(6);
    expect(r.content).not.toMatch(/\bsd[a-z]\b|\bnvme|\bkmsg\b/);
  });

  it('sees its workspace alone under the workspace root', async () => {
    const r = await bash('U=..; ls -a $U');
    expect(r.content).toContain(path.basename(ws));
    expect(r.content).not.toContain(path.basename(otherWs));
  });
});

describe('the sandbox cannot write outside its workspace', () => {
  it.each([
    [
      'a new file outside',
      () => `D=${outsideDir}; echo pwned > $D/new.txt`,
      () => path.join(outsideDir, 'new.txt'),
    ],
    [
      'into another workspace',
      () => `O=${otherWs}; echo pwned > $O/new.txt`,
      () => path.join(otherWs, 'new.txt'),
    ],
    [
      'into /tmp of the host',
      () => `B=${base}; echo pwned > $B/tmp-new.txt`,
      () => path.join(base, 'tmp-new.txt'),
    ],
    ['/usr', () => 'U=/usr; touch $U/pwned-by-agent', () => '/usr/pwned-by-agent'],
  ])('%s', async (_name, command, target) => {
    await bash(command());
    expect(existsSync(target())).toBe(false);
  });

  it('cannot change a host file it can read', async () => {
    const before = await readFile('/etc/hosts', 'utf8');
    await bash('E=/etc; echo "6.6.6.6 evil" >> $E/hosts');
    expect(await readFile('/etc/hosts', 'utf8')).toBe(before);
  });

  it('cannot change the outside file through a hard link it makes', async () => {
    await bash(`f=${outsideFile}; ln $f h2; echo overwritten > h2`);
    expect(await readFile(outsideFile, 'utf8')).toBe(SECRETS.outsideFile);
  });
});

describe('limits', () => {
  it('background processes do not outlive the command', async () => {
    await bash('nohup sleep 987.6 >/dev/null 2>&1 & setsid sleep 987.7 >/dev/null 2>&1 & echo started');
    await new Promise((r) => setTimeout(r, 300));
    expect(processesWithArg('987.6')).toEqual([]);
    expect(processesWithArg('987.7')).toEqual([]);
  });

  it('a fork bomb hits the process limit and the runner goes on', async () => {
    const started = Date.now();
    const r = await bash("sh -c 'f(){ f | f & }; f'; sleep 1; echo after-bomb");
    expect(Date.now() - started).toBeLessThan(60_000);
    expect(r.content).toMatch(/fork|Resource temporarily unavailable|after-bomb/i);
    expect(await bash('echo still-works')).toEqual({ content: 'still-works\n', isError: false });
  });

  it('kill -9 -1 reaches only the sandbox', async () => {
    await bash('kill -9 -1; echo after');
    expect(await bash('echo alive')).toEqual({ content: 'alive\n', isError: false });
  });

  it('huge output is capped', async () => {
    const r = await bash('yes abcdefghij | head -c 50000000');
    expect(Buffer.byteLength(r.content)).toBeLessThanOrEqual(64 * 1024);
    expect(r.content).toMatch(/output truncated/);
  });

  it('a huge file stops at the file-size limit', async () => {
    const r = await bash('Z=/dev/zero; head -c 100000000 $Z > big.bin; echo exit=$?');
    expect(r.content).toMatch(/exit=[1-9]|File size limit/);
    const size = Number(
      spawnSync('stat', ['-c', '%s', path.join(ws, 'big.bin')], { encoding: 'utf8' }).stdout,
    );
    expect(size).toBeLessThanOrEqual(8 * 1024 * 1024);
  });

  it('memory is capped', async () => {
    const r = await bash('python3 -c "x = bytearray(1500 * 1024 * 1024); print(\'allocated\')" 2>&1');
    expect(r.content).toMatch(/MemoryError/);
    expect(r.content).not.toContain('allocated\n');
  });

  it('CPU time is capped at the command timeout', async () => {
    // A 2 s timeout, so the busy loop does not load the machine other tests share.
    const cpuSid = `cpu-${Date.now()}`;
    await manager.open({
      sessionId: cpuSid,
      agent: { id: 'cpu-agent', config: { capabilities: { shell: { enabled: true, timeout_seconds: 2 } } } },
    });
    const started = Date.now();
    const r = await manager.call(cpuSid, 'Bash', { command: 'python3 -c "while True: pass"' });
    expectNoSecret(r.content);
    expect(r.isError).toBe(true);
    // Loose on purpose: the point is that the loop is stopped, not how fast (a hang hits 180 s).
    expect(Date.now() - started).toBeLessThan(60_000);
    await manager.close(cpuSid);
  });
});

describe('network is off for Bash unless granted', () => {
  it('cannot connect to a port on the host', async () => {
    const before = connectionsSeen;
    const r = await bash(
      `python3 -c "import socket; s=socket.create_connection(('127.0.0.1', ${listenerPort}), timeout=2); print(s.recv(100))" 2>&1`,
    );
    expect(r.content).toMatch(/refused|unreachable|Errno/i);
    expect(connectionsSeen).toBe(before);
  });

  it('cannot reach Valkey', async () => {
    const port = new URL(services().redisUrl).port;
    const r = await bash(
      `python3 -c "import socket; s=socket.create_connection(('127.0.0.1', ${port}), timeout=2); s.send(b'PING\\r\\n'); print(s.recv(100))" 2>&1`,
    );
    expect(r.content).not.toContain('PONG');
    expect(r.content).toMatch(/refused|unreachable|Errno/i);
  });

  it('with the shell:network grant, it can', async () => {
    const netSid = `net-${Date.now()}`;
    await manager.open({
      sessionId: netSid,
      agent: {
        id: 'net-agent',
        config: { capabilities: { ...shellAgent.config.capabilities, grants: ['shell:network'] } },
      },
    });
    const r = await manager.call(netSid, 'Bash', {
      command: `python3 -c "import socket; s=socket.create_connection(('127.0.0.1', ${listenerPort}), timeout=2); print(s.recv(100).decode())"`,
    });
    expect(r.content).toContain('hello from the host');
    await manager.close(netSid);
  });
});

describe('file tools and special files', () => {
  it('Read, Write, Edit and Grep refuse a FIFO made in the sandbox without blocking', async () => {
    await bash('mkfifo pipe1');
    const started = Date.now();
    for (const [tool, input] of [
      ['Read', { file_path: 'pipe1' }],
      ['Write', { file_path: 'pipe1', content: 'x' }],
      ['Edit', { file_path: 'pipe1', old_string: 'a', new_string: 'b' }],
    ] as const) {
      const r = await manager.call(sid, tool, input);
      expect(r.isError, tool).toBe(true);
      expect(r.content, tool).toMatch(/not a regular file/);
    }
    const g = await manager.call(sid, 'Grep', { pattern: 'x' });
    expect(g.isError).toBe(false);
    // A blocked open would hang until the test timeout (180 s); 60 s leaves room on busy cores.
    expect(Date.now() - started).toBeLessThan(60_000);
  });

  it('Read refuses a socket', async () => {
    await bash(`python3 -c "import socket; s=socket.socket(socket.AF_UNIX); s.bind('sock1')"`);
    const r = await manager.call(sid, 'Read', { file_path: 'sock1' });
    expect(r.isError).toBe(true);
  });
});

describe('policy on parsed words', () => {
  it('a blocked pattern matches however the command is spelled', async () => {
    const m = newManager(sandbox, path.join(base, 'policy'));
    const pSid = `policy-${Date.now()}`;
    await m.open({
      sessionId: pSid,
      agent: {
        id: 'policy-agent',
        config: { capabilities: { shell: { enabled: true, blocked_patterns: ['curl', 'rm -rf'] } } },
      },
    });
    for (const command of [
      'cu""rl http://x',
      "c'u'rl http://x",
      'c\\url http://x',
      'rm  -rf x',
      "rm '-rf' x",
    ]) {
      const r = await m.call(pSid, 'Bash', { command });
      expect(r.content, command).toMatch(/blocked pattern/);
    }
    await m.closeAll();
  });
});

describe('the log', () => {
  it('holds no secret from any of the attempts', () => {
    expect(logLines.length).toBeGreaterThan(0);
    expectNoSecret(logLines.join(''));
  });
});

describe('control: the same attempts unconfined do leak (so the cases above can fail)', () => {
  it('BOTBURROW_SANDBOX=none reads outside and other workspaces', async () => {
    const none = await createSandbox({ mode: 'none', logger: pino({ level: 'silent' }) });
    const m = newManager(none, path.join(base, 'unconfined'));
    const cSid = `control-${Date.now()}`;
    await m.open({ sessionId: cSid, agent: shellAgent });
    const r1 = await m.call(cSid, 'Bash', { command: `f=${outsideFile}; cat "$f"` });
    expect(r1.content).toContain(SECRETS.outsideFile);
    const r2 = await m.call(cSid, 'Bash', { command: `O=${otherWs}; cat $O/secret.txt` });
    expect(r2.content).toContain(SECRETS.otherWorkspace);
    const r3 = await m.call(cSid, 'Bash', { command: 'P=/proc; ls $P | grep -c "^[0-9]"' });
    expect(Number(r3.content.trim())).toBeGreaterThan(5);
    await m.closeAll();
  });
});

describe('fail closed', () => {
  it('without bubblewrap, Bash is refused with the cause and the fix', async () => {
    const broken = await createSandbox({
      mode: 'bwrap',
      bwrapPath: '/nonexistent/bwrap',
      logger: pino({ level: 'silent' }),
    });
    expect(broken.unavailable).toMatch(/bubblewrap/);
    const m = newManager(broken, path.join(base, 'broken'));
    const bSid = `broken-${Date.now()}`;
    await m.open({ sessionId: bSid, agent: shellAgent });
    const r = await m.call(bSid, 'Bash', { command: 'echo should-not-run' });
    expect(r.isError).toBe(true);
    expect(r.content).toMatch(/sandbox cannot start.*apt-get install bubblewrap/);
    expect(r.content).not.toContain('should-not-run\n');
    await m.closeAll();
  });

  it('without bubblewrap, a stdio MCP server is refused, not started unconfined', async () => {
    const broken = await createSandbox({
      mode: 'bwrap',
      bwrapPath: '/nonexistent/bwrap',
      logger: pino({ level: 'silent' }),
    });
    const m = newManager(broken, path.join(base, 'broken-mcp'));
    const { refused, tools } = await m.open({
      sessionId: `broken-mcp-${Date.now()}`,
      agent: {
        id: 'mcp-agent',
        config: { capabilities: { mcp_servers: [{ name: 'everything', command: 'mcp-server-everything' }] } },
      },
    });
    expect(tools.some((t) => t.name.startsWith('mcp_'))).toBe(false);
    expect(refused).toHaveLength(1);
    expect(refused[0]!.reason).toMatch(/could not start MCP server 'everything': the sandbox cannot start/);
    await m.closeAll();
  });
});
