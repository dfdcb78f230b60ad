/**
 * `botburrow agents validate`: every agent definition and skill of a store checked as the runner
 * would load them. Each problem reads `file: field.path: rule`; an agent of a type no runner
 * executes is an error too (the coordinator would skip it forever).
 */
import { isRunnableAgentType, RUNNABLE_AGENT_TYPES } from './config';
import { configKey, listAgentIds } from './registry';
import { DefinitionError } from '../errors';
import { checkSkillFile } from './skill-checks';
import type { AgentDefinition } from './registry';
import type { DefinitionStore } from './store';
import { loadAgentDefinition } from './registry';

export interface ValidationProblem {
  severity: 'error' | 'warning';
  /** `file: field.path: rule`. */
  message: string;
}

export interface ValidationReport {
  where: string;
  agents: number;
  skills: number;
  problems: ValidationProblem[];
}

/** A definition's brain as the runners route it. */
export interface BrainCheckInput {
  provider: AgentDefinition['config']['brain']['provider'];
  apiBase?: string;
  apiKeyEnv?: string;
}

export interface ValidateOptions {
  /** Why the runners would refuse this brain (key variable, `api_base` host), or undefined. */
  checkBrain?: (brain: BrainCheckInput) => string | undefined;
}

export async function validateStore(
  store: DefinitionStore,
  o: ValidateOptions = {},
): Promise<ValidationReport> {
  const problems: ValidationProblem[] = [];
  const ids = await listAgentIds(store);
  for (const id of ids) {
    // Each definition is read once; one that does not load is its own error, not everyone's.
    let def: AgentDefinition;
    try {
      def = await loadAgentDefinition(store, id);
    } catch (err) {
      if (!(err instanceof DefinitionError)) throw err;
      problems.push({ severity: 'error', message: err.message });
      continue;
    }
    if (!isRunnableAgentType(def.config.type)) {
      problems.push({
        severity: 'error',
        message: `${configKey(id)}: type: '${def.config.type}' is executed by no runner (runnable: ${RUNNABLE_AGENT_TYPES.join(', ')}); the coordinator skips this agent`,
      });
    }
    const b = def.config.brain;
    const refused = o.checkBrain?.({
      provider: b.provider,
      ...(b.api_base !== undefined && { apiBase: b.api_base }),
      ...(b.api_key_env !== undefined && { apiKeyEnv: b.api_key_env }),
    });
    if (refused !== undefined) problems.push({ severity: 'error', message: `${configKey(id)}: ${refused}` });
    for (const w of def.warnings) problems.push({ severity: 'warning', message: w });
  }
  const skillKeys = (await store.list('skills/')).filter((k) => /^skills\/[^/]+\/SKILL\.md$/.test(k));
  for (const key of skillKeys) {
    const text = (await store.readText(key)) ?? undefined;
    const r = checkSkillFile(key, Buffer.byteLength(text ?? ''), text);
    if (!r.ok) {
      problems.push({
        severity: 'error',
        message: r.reason.startsWith(key) ? r.reason : `${key}: ${r.reason}`,
      });
    }
  }
  return { where: store.describe(), agents: ids.length, skills: skillKeys.length, problems };
}
