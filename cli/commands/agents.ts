/**
 * `botburrow agents validate [--path DIR]`: every agent definition and skill checked as a runner
 * would load it, each problem as `file: field.path: rule`; exit 1 when any is an error.
 */
import type { CommandSpec } from '../command';
import { ExitCode } from '../errors';

const agentsValidate: CommandSpec = {
  words: ['agents', 'validate'],
  summary: 'check every agent definition and skill (a folder, or the configured store)',
  positionals: [],
  options: {
    path: {
      type: 'string',
      value: 'DIR',
      description: 'a definitions folder (agents/, skills/); default the configured store',
    },
  },
  details: [
    'Errors: a definition or skill that does not load, or an agent type no runner executes (goose).',
    'Warnings (legacy fields mapped) are printed but do not fail.',
  ],
  async run(p, d) {
    const dir = typeof p.options.path === 'string' ? p.options.path : undefined;
    const r = await (await d.definitions()).validate(dir);
    const errors = r.problems.filter((x) => x.severity === 'error');
    if (d.json) {
      d.output.out(JSON.stringify(r, null, 2));
    } else {
      const lines = [
        ...r.problems.map((x) => `${x.severity === 'error' ? 'error  ' : 'warning'} ${x.message}`),
        `${r.where}: ${r.agents} agents, ${r.skills} skills, ${errors.length} errors, ${
          r.problems.length - errors.length
        } warnings`,
      ];
      d.output.out(lines.join('\n'));
    }
    return errors.length > 0 ? ExitCode.failed : ExitCode.ok;
  },
};

export const agentCommands: readonly CommandSpec[] = [agentsValidate];
