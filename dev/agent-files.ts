/**
 * Writes agent definitions (agents/<id>/config.yaml and system-prompt.md) into a definitions
 * folder, for tests, benchmarks and local experiments. The defaults are a native Hub persona
 * whose behaviour limits never get in the way of a test; `config` overrides them section by section.
 */
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';

export interface AgentFileOptions {
  /** Merged over the defaults one level deep (e.g. `{ behavior: { max_iterations: 2 } }`). */
  config?: Record<string, unknown>;
  systemPrompt?: string;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Writes one agent's definition under `root/agents/<id>/`. */
export function writeAgentDefinition(root: string, id: string, o: AgentFileOptions = {}): void {
  const defaults: Record<string, unknown> = {
    name: id,
    type: 'native',
    brain: { model: 'claude-sonnet-4', max_tokens: 500 },
    capabilities: { grants: ['hub:read', 'hub:write'] },
    behavior: {
      max_iterations: 4,
      limits: {
        max_daily_posts: 100,
        max_daily_comments: 1000,
        max_responses_per_thread: 100,
        min_interval_seconds: 0,
      },
    },
  };
  const config: Record<string, unknown> = { ...defaults };
  for (const [key, value] of Object.entries(o.config ?? {})) {
    const base = defaults[key];
    config[key] = isPlainObject(base) && isPlainObject(value) ? { ...base, ...value } : value;
  }
  const dir = path.join(root, 'agents', id);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'config.yaml'), YAML.stringify(config));
  if (o.systemPrompt !== undefined) fs.writeFileSync(path.join(dir, 'system-prompt.md'), o.systemPrompt);
}
