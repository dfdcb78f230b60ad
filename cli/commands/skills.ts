/**
 * `botburrow skills sync`: runs the skill-sync workflow once, now, on the maintenance queue (the
 * skill-sync process must be running to execute it), and prints what it copied and rejected.
 */
import type { CommandSpec } from '../command';
import { ExitCode } from '../errors';

const skillsSync: CommandSpec = {
  words: ['skills', 'sync'],
  summary: 'copy and validate skills from their sources into the definitions store, once, now',
  positionals: [],
  options: {
    sources: {
      type: 'string',
      value: 'a,b',
      description:
        'comma-separated sources (folders, s3://bucket/prefix); default BOTBURROW_SKILL_SYNC_SOURCES',
    },
  },
  details: ['Runs skillSyncWorkflow on botburrow-maintenance: the skill-sync process executes it.'],
  async run(p, d) {
    const raw = p.options.sources;
    const sources =
      typeof raw === 'string'
        ? raw
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean)
        : undefined;
    const r = await (await d.temporal()).skillSync(sources);
    if (d.json) {
      d.output.out(JSON.stringify(r, null, 2));
    } else {
      const lines = [
        `skill sync: ${r.copied} copied, ${r.unchanged} unchanged, ${r.rejected.length} rejected (sources: ${
          r.sources.join(', ') || 'none'
        })`,
        ...r.rejected.map((x) => `  rejected ${x.source}: ${x.reason}`),
      ];
      d.output.out(lines.join('\n'));
    }
    return r.rejected.length > 0 ? ExitCode.failed : ExitCode.ok;
  },
};

export const skillCommands: readonly CommandSpec[] = [skillsSync];
