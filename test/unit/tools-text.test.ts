import { describe, expect, it } from 'vitest';
import { globToRegExp } from '../../activities/tools/glob';
import { toolName } from '../../activities/tools/mcp';
import { checkPathSpelling, isInside } from '../../activities/tools/paths';
import { capOutput, scrub } from '../../activities/tools/text';

describe('capOutput', () => {
  it('leaves short text alone', () => {
    expect(capOutput('hello', 100)).toBe('hello');
  });
  it('cuts long text within the limit and says so', () => {
    const out = capOutput('a'.repeat(5000), 1000);
    expect(Buffer.byteLength(out)).toBeLessThanOrEqual(1000);
    expect(out).toMatch(/\[output truncated: showing \d+ of 5000 bytes\]$/);
    expect(capOutput(out, 1000)).toBe(out);
  });
  it('never splits a multi-byte character', () => {
    const out = capOutput('é'.repeat(1000), 501);
    expect(out).not.toContain('\uFFFD');
  });
});

describe('scrub', () => {
  it('replaces every occurrence of each secret', () => {
    expect(scrub('token=abcdef123 and abcdef123 again; pw=hunter22', ['abcdef123', 'hunter22'])).toBe(
      'token=[redacted] and [redacted] again; pw=[redacted]',
    );
  });
  it('ignores secrets too short to scrub safely', () => {
    expect(scrub('a1 b2', ['a1'])).toBe('a1 b2');
  });
});

describe('toolName', () => {
  it('prefixes and sanitises to the Anthropic tool-name pattern', () => {
    expect(toolName('everything', 'get-sum', new Set())).toBe('mcp_everything_get-sum');
    expect(toolName('my.server', 'do thing/now', new Set())).toBe('mcp_my_server_do_thing_now');
    const long = toolName('server', 'x'.repeat(100), new Set());
    expect(long).toMatch(/^[a-zA-Z0-9_-]{1,64}$/);
    expect(long).toHaveLength(64);
  });
  it('keeps names unique', () => {
    const taken = new Set(['mcp_a_b_c']);
    const n = toolName('a', 'b.c', taken);
    expect(n).not.toBe('mcp_a_b_c');
    expect(n).toMatch(/^[a-zA-Z0-9_-]{1,64}$/);
  });
});

describe('globToRegExp', () => {
  it.each([
    ['*.md', 'a.md', true],
    ['*.md', 'dir/a.md', false],
    ['**/*.md', 'a.md', true],
    ['**/*.md', 'x/y/a.md', true],
    ['src/**', 'src/a/b.ts', true],
    ['src/**', 'lib/a.ts', false],
    ['?.txt', 'a.txt', true],
    ['?.txt', 'ab.txt', false],
    ['[ab].txt', 'b.txt', true],
    ['[!ab].txt', 'c.txt', true],
    ['*.{ts,js}', 'x.js', true],
    ['*.{ts,js}', 'x.py', false],
    ['a+b(1).txt', 'a+b(1).txt', true],
  ])('%s matches %s: %s', (glob, p, expected) => {
    expect(globToRegExp(glob).test(p)).toBe(expected);
  });
});

describe('path spelling', () => {
  const roots = { nominal: '/tmp/link/ws', real: '/data/ws' };
  it('maps relative and absolute paths onto the real root', () => {
    expect(checkPathSpelling(roots, 'a/b.txt')).toBe('/data/ws/a/b.txt');
    expect(checkPathSpelling(roots, '/tmp/link/ws/a.txt')).toBe('/data/ws/a.txt');
    expect(checkPathSpelling(roots, '/data/ws/a.txt')).toBe('/data/ws/a.txt');
    expect(checkPathSpelling(roots, '.')).toBe('/data/ws');
  });
  it('accepts names that merely start with dots, refuses siblings of the root', () => {
    expect(checkPathSpelling(roots, '..hidden')).toBe('/data/ws/..hidden');
    expect(() => checkPathSpelling(roots, '/data/ws-other/x')).toThrow(/outside the workspace/);
  });
  it('isInside is segment-aware', () => {
    expect(isInside('/a/b', '/a/b')).toBe(true);
    expect(isInside('/a/b', '/a/b/c')).toBe(true);
    expect(isInside('/a/b', '/a/bc')).toBe(false);
    expect(isInside('/a/b', '/a')).toBe(false);
  });
});
