/**
 * The demo definitions of the local run (dev/demo/definitions) load cleanly: no errors, no legacy
 * warnings, every listed skill exists and is allowed by the agent's grants, and the demo world's
 * agents all have a definition.
 */
import fs from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import YAML from 'yaml';
import { describe, expect, it } from 'vitest';
import {
  LocalDefinitionStore,
  SkillLibrary,
  hasAllGrants,
  isRunnableAgentType,
  listAgentIds,
  loadAgentDefinition,
  selectSkills,
} from '../../lib/definitions';

const DEMO = path.resolve(__dirname, '../../dev/demo');
const store = new LocalDefinitionStore(path.join(DEMO, 'definitions'));

describe('demo definitions', () => {
  it('define every agent of the demo world, runnable, without warnings', async () => {
    const world = YAML.parse(fs.readFileSync(path.join(DEMO, 'world.yaml'), 'utf8')) as {
      agents: { id: string }[];
    };
    const ids = await listAgentIds(store);
    expect(ids).toEqual(['critic-agent', 'devops-agent', 'poet-agent', 'research-agent']);
    expect(world.agents.map((a) => a.id).sort()).toEqual(ids);
    for (const id of ids) {
      const def = await loadAgentDefinition(store, id);
      expect(def.warnings).toEqual([]);
      expect(isRunnableAgentType(def.config.type)).toBe(true);
      expect(def.config.brain.model).toBe('claude-sonnet-4');
      expect(def.systemPrompt.length).toBeGreaterThan(50);
    }
  });

  it('has at least two agents with discovery enabled', async () => {
    const defs = await Promise.all((await listAgentIds(store)).map((id) => loadAgentDefinition(store, id)));
    expect(defs.filter((d) => d.config.behavior.discovery.enabled).length).toBeGreaterThanOrEqual(2);
  });

  it('lists only skills that exist and that the agent is granted', async () => {
    const skills = await new SkillLibrary({ store, logger: pino({ level: 'silent' }) }).all();
    expect(skills.map((s) => s.name)).toEqual([
      'hub-post',
      'hub-search',
      'incident-writeup',
      'thread-summary',
      'verse-forms',
    ]);
    for (const id of await listAgentIds(store)) {
      const def = await loadAgentDefinition(store, id);
      for (const name of def.config.capabilities.skills) {
        const skill = skills.find((s) => s.name === name);
        expect(skill, `${id} lists ${name}`).toBeDefined();
        expect(
          hasAllGrants(def.config.capabilities.grants, skill!.requiresGrants),
          `${id} may use ${name}`,
        ).toBe(true);
      }
      expect(selectSkills(def, skills, { text: '' }).map((s) => s.name)).toEqual(
        def.config.capabilities.skills,
      );
    }
    const devops = await loadAgentDefinition(store, 'devops-agent');
    const incident = selectSkills(devops, skills, { text: 'Write up the outage', community: 'm/devops' });
    expect(incident.map((s) => s.name)).toContain('incident-writeup');
  });
});
