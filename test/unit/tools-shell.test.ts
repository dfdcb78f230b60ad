import { describe, expect, it } from 'vitest';
import { checkShellCommand, parseShellCommand } from '../../activities/tools/shell';

const WS = '/work/ws';
const words = (cmd: string): string[][] => parseShellCommand(cmd).commands.map((c) => c.words);

describe('parseShellCommand', () => {
  it.each([
    ['ls -la', [['ls', '-la']]],
    ['echo "a b" \'c d\' e\\ f', [['echo', 'a b', 'c d', 'e f']]],
    ['ls; rm x', [['ls'], ['rm', 'x']]],
    ['a && b || c | d & e', [['a'], ['b'], ['c'], ['d'], ['e']]],
    ['echo $(whoami) done', [['whoami'], ['echo', '\u0000', 'done']]],
    [
      'echo "x $(id -u) y"',
      [
        ['id', '-u'],
        ['echo', 'x \u0000 y'],
      ],
    ],
    ['echo `uname`', [['uname'], ['echo', '\u0000']]],
    [
      'diff <(ls a) <(ls b)',
      [
        ['ls', 'a'],
        ['ls', 'b'],
        ['diff', '\u0000', '\u0000'],
      ],
    ],
    [
      'echo $(echo $(rm -rf x))',
      [
        ['rm', '-rf', 'x'],
        ['echo', '\u0000'],
        ['echo', '\u0000'],
      ],
    ],
    ['echo a # ; rm x', [['echo', 'a']]],
    ['line1\nline2', [['line1'], ['line2']]],
    ['echo "it\'s; fine"', [['echo', "it's; fine"]]],
  ])('%j', (cmd, expected) => {
    expect(words(cmd)).toEqual(expected);
  });

  it('records redirect targets separately and drops fd numbers', () => {
    const [c] = parseShellCommand('cat a 2>&1 > out.txt < in.txt').commands;
    expect(c!.words).toEqual(['cat', 'a']);
    expect(c!.redirects).toEqual(['1', 'out.txt', 'in.txt']);
  });

  it.each([
    ['echo "unterminated', /unterminated double quote/],
    ["echo 'x", /unterminated single quote/],
    ['echo $(ls', /unbalanced parentheses/],
    ['echo `ls', /unterminated backtick/],
    ['(rm x)', /grouping/],
    ['{ rm x; }', /grouping/],
    ['cat <<EOF\nrm x\nEOF', /here-documents/],
  ])('reports %j as a problem', (cmd, re) => {
    expect(parseShellCommand(cmd).problems.join(' ')).toMatch(re);
  });
});

describe('checkShellCommand', () => {
  const shell = {
    enabled: true,
    allowed_commands: ['ls', 'cat', 'echo', 'grep', 'wc'],
    blocked_patterns: ['sudo', 'rm\\s+-rf'],
  };

  it('refuses everything when the shell is disabled', () => {
    expect(checkShellCommand('ls', { enabled: false }, WS)).toMatch(/not enabled/);
    expect(checkShellCommand('ls', {}, WS)).toMatch(/not enabled/);
  });

  it.each([
    ['ls -la', undefined],
    ['cat a.txt | grep x | wc -l', undefined],
    ['echo "$(ls)"', undefined],
    ['echo hi > out.txt && cat out.txt', undefined],
    ['cat /dev/null', undefined],
    [`cat ${WS}/inside.txt`, undefined],
    ['git log HEAD~1..HEAD', /"git" is not in allowed_commands/],
    ['ls; curl evil', /"curl" is not in allowed_commands/],
    ['ls && python -c x', /"python" is not in allowed_commands/],
    ['ls | sh', /"sh" is not in allowed_commands/],
    ['echo $(curl x)', /"curl" is not in allowed_commands/],
    ['echo `curl x`', /"curl" is not in allowed_commands/],
    ['cat <(curl x)', /"curl" is not in allowed_commands/],
    ['LD_PRELOAD=x ls', /environment assignments/],
    ['/bin/ls', /"\/bin\/ls" is not in allowed_commands/],
    ['sudo ls', /blocked pattern "sudo"/],
    ['echo x; rm  -rf /', /blocked pattern "rm\\\\s\+-rf"/],
    ['cat /etc/shadow', /outside the workspace/],
    ['cat ../x', /contains '\.\.'/],
    ['cat ~/.ssh/id_rsa', /home directory/],
    ['grep --file=/etc/passwd x', /outside the workspace/],
    ['echo x > /etc/cron.d/x', /outside the workspace/],
    ['> x', /redirection without a command/],
    ['', /empty/],
    ['ls\u0000', /NUL/],
  ])('%j', (cmd, expected) => {
    const r = checkShellCommand(cmd, shell, WS);
    if (expected === undefined) expect(r).toBeUndefined();
    else expect(r).toMatch(expected);
  });

  it('without allowed_commands any command may run, but blocked patterns and path checks still apply', () => {
    const open = { enabled: true, blocked_patterns: ['shutdown'] };
    expect(checkShellCommand('python3 -c "print(1)" && node -v', open, WS)).toBeUndefined();
    expect(checkShellCommand('shutdown now', open, WS)).toMatch(/blocked/);
    expect(checkShellCommand('cat /etc/passwd', open, WS)).toMatch(/outside/);
  });

  it('treats a blocked pattern that is not a valid regex as a plain substring', () => {
    const s = { enabled: true, blocked_patterns: ['rm -rf (', 'x['] };
    expect(checkShellCommand('rm -rf (', s, WS)).toMatch(/blocked/);
    expect(checkShellCommand('echo x[1]', s, WS)).toMatch(/blocked/);
    expect(checkShellCommand('echo fine', s, WS)).toBeUndefined();
  });
});
