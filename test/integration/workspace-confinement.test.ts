import { link, mkdtemp, mkdir, readFile, readdir, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorkspaceTools } from '../../activities/tools/workspace';
import type { Sandbox } from '../../activities/sandbox';
import { processesWithArg } from '../support/processes';
import { realSandbox } from '../support/sandbox';

// Real files, real symlinks, real processes: the workspace tools against an actual directory tree
// with a secret sitting next to it.
let base: string;
let ws: string;
let outside: string;
const SECRET = 'TOP-SECRET-OUTSIDE-CONTENT';

beforeAll(async () => {
  base = await mkdtemp(path.join(os.tmpdir(), 'bb-ws-'));
  ws = path.join(base, 'workspace');
  outside = path.join(base, 'outside');
  await mkdir(path.join(ws, 'sub'), { recursive: true });
  await mkdir(outside);
  await writeFile(path.join(outside, 'secret.txt'), SECRET);
  await writeFile(path.join(base, 'outside.txt'), SECRET);
  await writeFile(path.join(ws, 'inside.txt'), 'hello inside\n');
  await symlink(outside, path.join(ws, 'link-out'));
  await symlink(path.join(outside, 'secret.txt'), path.join(ws, 'link-file'));
  await symlink(path.join(ws, 'inside.txt'), path.join(ws, 'link-in'));
  // A hard link is the same inode as the outside file: no path check can see it.
  await link(path.join(outside, 'secret.txt'), path.join(ws, 'hard-link'));
});

afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

let sandbox: Sandbox;
beforeAll(async () => {
  sandbox = await realSandbox();
  await sandbox.prepareWorkspace(ws);
});

const tools = () => createWorkspaceTools({ sandbox, dir: ws, shell: { enabled: false } });

describe('workspace path confinement', () => {
  const escapes: [string, string, Record<string, unknown>][] = [
    ['parent traversal', 'Read', { file_path: '../outside.txt' }],
    ['nested traversal', 'Read', { file_path: 'sub/../../outside.txt' }],
    ['dot segments then traversal', 'Read', { file_path: 'sub/./../../outside.txt' }],
    ['absolute system path', 'Read', { file_path: '/etc/passwd' }],
    ['absolute path beside the workspace', 'Read', { file_path: '' /* filled below */ }],
    ['absolute path with .. back out of the workspace', 'Read', { file_path: '' }],
    ['url-encoded dots', 'Read', { file_path: '%2e%2e/outside.txt' }],
    ['url-encoded dots and slash', 'Read', { file_path: '%2e%2e%2foutside.txt' }],
    ['url-encoded slash only', 'Read', { file_path: '..%2foutside.txt' }],
    ['double url-encoding', 'Read', { file_path: '%252e%252e/outside.txt' }],
    ['NUL byte', 'Read', { file_path: 'inside.txt\0/../../outside.txt' }],
    ['windows backslash traversal', 'Read', { file_path: '..\\outside.txt' }],
    ['mixed separators', 'Read', { file_path: 'sub\\..\\..\\outside.txt' }],
    ['home expansion', 'Read', { file_path: '~/.bashrc' }],
    ['control characters', 'Read', { file_path: 'inside.txt\n../outside.txt' }],
    ['symlinked directory (read)', 'Read', { file_path: 'link-out/secret.txt' }],
    ['symlinked file (read)', 'Read', { file_path: 'link-file' }],
    ['new file through a symlinked directory', 'Write', { file_path: 'link-out/new.txt', content: 'x' }],
    ['overwrite through a symlinked file', 'Write', { file_path: 'link-file', content: 'overwritten' }],
    ['edit through a symlinked file', 'Edit', { file_path: 'link-file', old_string: 'TOP', new_string: 'X' }],
    ['write with parent traversal', 'Write', { file_path: '../planted.txt', content: 'x' }],
    ['read of a hard link to an outside file', 'Read', { file_path: 'hard-link' }],
    [
      'write through a hard link to an outside file',
      'Write',
      { file_path: 'hard-link', content: 'overwritten' },
    ],
    [
      'edit through a hard link to an outside file',
      'Edit',
      { file_path: 'hard-link', old_string: 'TOP', new_string: 'X' },
    ],
    ['grep outside via path', 'Grep', { pattern: 'SECRET', path: '../outside' }],
    ['grep through a symlinked directory', 'Grep', { pattern: 'SECRET', path: 'link-out' }],
    ['glob with traversal', 'Glob', { pattern: '../*' }],
    ['glob of an absolute outside path', 'Glob', { pattern: '/etc/*' }],
  ];

  it.each(escapes.map((e, i) => [i, ...e] as const))(
    'case %i refuses: %s',
    async (i, _label, tool, input) => {
      if (i === 4) input = { file_path: path.join(outside, 'secret.txt') };
      if (i === 5) input = { file_path: `${ws}/../outside.txt` };
      const before = (await readdir(outside)).sort();
      const result = await tools().call(tool, input);
      expect(result.isError).toBe(true);
      expect(result.content).not.toContain(SECRET);
      expect(result.content.length).toBeGreaterThan(10); // says why
      expect((await readdir(outside)).sort()).toEqual(before);
      expect(await readFile(path.join(outside, 'secret.txt'), 'utf8')).toBe(SECRET);
      await expect(readFile(path.join(base, 'planted.txt'))).rejects.toThrow();
    },
  );

  it('has at least 15 cases', () => {
    expect(escapes.length).toBeGreaterThanOrEqual(15);
  });

  it('grep and glob over the whole workspace skip symlinks that lead outside', async () => {
    const g = await tools().call('Grep', { pattern: 'SECRET|hello' });
    expect(g.isError).toBe(false);
    expect(g.content).toContain('inside.txt:1:hello inside');
    expect(g.content).not.toContain(SECRET);
    const gl = await tools().call('Glob', { pattern: '**/*' });
    expect(gl.content).not.toContain('secret.txt');
  });

  it('still serves legitimate paths, including absolute ones inside and inside-pointing symlinks', async () => {
    const t = tools();
    expect(
      (await t.call('Write', { file_path: 'sub/deeper/new.md', content: 'one\ntwo\nthree\n' })).isError,
    ).toBe(false);
    const read = await t.call('Read', { file_path: path.join(ws, 'sub/deeper/new.md'), offset: 2, limit: 1 });
    expect(read).toEqual({ content: '     2\ttwo', isError: false });
    expect((await t.call('Read', { file_path: 'link-in' })).content).toContain('hello inside');
    const edit = await t.call('Edit', { file_path: 'sub/deeper/new.md', old_string: 'two', new_string: '2' });
    expect(edit.isError).toBe(false);
    expect(await readFile(path.join(ws, 'sub/deeper/new.md'), 'utf8')).toBe('one\n2\nthree\n');
    const glob = await t.call('Glob', { pattern: '**/*.md' });
    expect(glob.content).toBe('sub/deeper/new.md');
  });
});

describe('workspace Bash', () => {
  it('is neither offered nor runnable when the shell is disabled', async () => {
    const t = tools();
    expect(t.specs().map((s) => s.name)).toEqual(['Read', 'Write', 'Edit', 'Glob', 'Grep']);
    const r = await t.call('Bash', { command: 'echo hi' });
    expect(r.isError).toBe(true);
    expect(r.content).toMatch(/not enabled/);
  });

  it('refuses blocked patterns, commands outside the allow-list and smuggled chains', async () => {
    const t = createWorkspaceTools({
      sandbox,
      dir: ws,
      shell: {
        enabled: true,
        allowed_commands: ['echo', 'cat', 'ls', 'grep'],
        blocked_patterns: ['rm -rf', 'curl\\s'],
      },
    });
    const refused = [
      'echo ok; rm -rf sub',
      'curl  http://example.com',
      'rm inside.txt',
      'echo a && touch pwned',
      'echo a || touch pwned',
      'ls | sh',
      'echo `touch pwned`',
      'echo $(touch pwned)',
      'echo "$(touch pwned)"',
      'cat <(touch pwned)',
      'echo a & touch pwned',
      'echo a\ntouch pwned',
      'PATH=/tmp echo a',
      'cat /etc/passwd',
      'cat ../outside.txt',
      'echo x > /tmp/pwned-bb',
      '(touch pwned)',
    ];
    for (const command of refused) {
      const r = await t.call('Bash', { command });
      expect(r.isError, command).toBe(true);
      expect(r.content, command).toMatch(/^Bash refused: /);
    }
    await expect(readFile(path.join(ws, 'pwned'))).rejects.toThrow();
    expect((await readdir(ws)).includes('sub')).toBe(true);

    const ok = await t.call('Bash', {
      command: 'ls | grep inside && echo "done $HOME" > out.txt; cat out.txt',
    });
    expect(ok.isError).toBe(false);
    expect(ok.content).toContain('inside.txt');
    expect(ok.content).toContain(`done ${await realpath(ws)}`);
  });

  it('runs with a minimal environment in the workspace', async () => {
    process.env.BB_RUNNER_SECRET_FOR_TEST = 'runner-secret-value';
    const t = createWorkspaceTools({ sandbox, dir: ws, shell: { enabled: true } });
    const r = await t.call('Bash', { command: 'env; pwd' });
    delete process.env.BB_RUNNER_SECRET_FOR_TEST;
    expect(r.isError).toBe(false);
    const vars = r.content
      .split('\n')
      .filter((l) => /^[A-Z_]+=/.test(l))
      .map((l) => l.split('=')[0])
      .filter((k) => !['PWD', 'SHLVL', 'OLDPWD', '_'].includes(k!));
    expect(vars.sort()).toEqual(['HOME', 'LANG', 'PATH', 'TMPDIR']);
    expect(r.content).not.toContain('runner-secret-value');
  });

  it('kills a command past its timeout together with its child processes', async () => {
    const t = createWorkspaceTools({ sandbox, dir: ws, shell: { enabled: true, timeout_seconds: 1 } });
    const started = Date.now();
    const r = await t.call('Bash', { command: 'sleep 1234.5 & echo started; sleep 1234.5' });
    const took = Date.now() - started;
    expect(r.isError).toBe(true);
    expect(r.content).toContain('started');
    expect(r.content).toMatch(/timed out after 1s and was killed/);
    expect(took).toBeLessThan(5000);
    await new Promise((res) => setTimeout(res, 200));
    expect(processesWithArg('1234.5')).toEqual([]);
  });

  it('stops a command when the call is cancelled', async () => {
    const t = createWorkspaceTools({ sandbox, dir: ws, shell: { enabled: true, timeout_seconds: 60 } });
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 300);
    const started = Date.now();
    const r = await t.call('Bash', { command: 'sleep 30' }, ac.signal);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(r).toMatchObject({ isError: true });
    expect(r.content).toMatch(/cancelled/);
  });

  it('caps output with a truncation note', async () => {
    const t = createWorkspaceTools({ sandbox, dir: ws, shell: { enabled: true }, maxOutputBytes: 1000 });
    const r = await t.call('Bash', { command: 'seq 1 100000' });
    expect(r.isError).toBe(false);
    expect(Buffer.byteLength(r.content)).toBeLessThan(1200);
    expect(r.content).toMatch(/output truncated: \d+ more bytes not shown/);
  });
});
