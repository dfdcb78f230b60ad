/**
 * Loads agent definitions from the store and caches the parsed result in Valkey
 * (`cache:agent:<id>`, TTL = the agent's `cache_ttl`), so every runner sees a changed persona
 * within one TTL, or at once after `invalidate`. There is deliberately no in-process cache: it
 * would survive an invalidation on another process. (A run reads its definition once and pins it:
 * activities/activation/run-definitions.ts.)
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { DefinitionError } from '../errors';
import type { Keys } from '../keys';
import type { Logger } from '../logger';
import { readCached, writeCached } from './cache';
import { parseAgentConfig } from './config';
import type { AgentConfig } from './schema';
import type { DefinitionStore } from './store';

/** A loaded agent: its validated config, persona prompt and any legacy-field warnings. */
export interface AgentDefinition {
  id: string;
  config: AgentConfig;
  /** `system-prompt.md`; empty when the file does not exist. */
  systemPrompt: string;
  warnings: string[];
  /** Hash of config.yaml + system-prompt.md: changes whenever the definition does. */
  configHash: string;
}

const AGENT_ID = /^[a-z0-9-]{3,50}$/;

/** Store key of an agent's config file (also the file named in its error messages). */
export const configKey = (id: string): string => `agents/${id}/config.yaml`;
/** Store key of an agent's persona prompt. */
export const promptKey = (id: string): string => `agents/${id}/system-prompt.md`;

/** Throws `DefinitionError` unless `id` could be an agent name (also keeps keys inside the store). */
export function checkAgentId(id: string): void {
  if (!AGENT_ID.test(id)) {
    throw new DefinitionError(
      configKey(id.replace(/[^\x20-\x7e]/g, '?')),
      'name',
      'agent id must be 3-50 lowercase letters, digits or hyphens',
    );
  }
}

/**
 * Reads and validates one agent straight from the store (no cache). Throws `DefinitionError` when
 * config.yaml is missing or invalid, or its `name` differs from the folder name.
 */
export async function loadAgentDefinition(store: DefinitionStore, id: string): Promise<AgentDefinition> {
  checkAgentId(id);
  const file = configKey(id);
  const [yamlText, prompt] = await Promise.all([store.readText(file), store.readText(promptKey(id))]);
  if (yamlText === null) throw new DefinitionError(file, '', `not found in ${store.describe()}`);
  const { config, warnings } = parseAgentConfig(yamlText, file);
  if (config.name !== id) {
    throw new DefinitionError(file, 'name', `must equal the folder name '${id}' (is '${config.name}')`);
  }
  const systemPrompt = prompt ?? '';
  const configHash = createHash('sha256').update(yamlText).update('\0').update(systemPrompt).digest('hex');
  return { id, config, systemPrompt, warnings, configHash: configHash.slice(0, 16) };
}

/** Agent ids that have a `config.yaml` in the store, sorted. */
export async function listAgentIds(store: DefinitionStore): Promise<string[]> {
  const keys = await store.list('agents/');
  const ids = new Set<string>();
  for (const key of keys) {
    const m = /^agents\/([^/]+)\/config\.yaml$/.exec(key);
    if (m?.[1]) ids.add(m[1]);
  }
  return [...ids].sort();
}

/** The outcome of validating one agent's definition (for `botburrow agents validate`). */
export interface DefinitionCheck {
  id: string;
  ok: boolean;
  /** The `DefinitionError` message (one `file: field: rule` line per problem) when not ok. */
  error?: string;
  warnings: string[];
}

/**
 * Validates every agent in the store without the cache. Errors other than `DefinitionError`
 * (the store failing) are thrown: they say nothing about the definitions.
 */
export async function checkAllDefinitions(store: DefinitionStore): Promise<DefinitionCheck[]> {
  const ids = await listAgentIds(store);
  const out: DefinitionCheck[] = [];
  for (const id of ids) {
    try {
      const def = await loadAgentDefinition(store, id);
      out.push({ id, ok: true, warnings: def.warnings });
    } catch (err) {
      if (!(err instanceof DefinitionError)) throw err;
      out.push({ id, ok: false, error: err.message, warnings: [] });
    }
  }
  return out;
}

export interface AgentRegistryOptions {
  store: DefinitionStore;
  redis: Redis;
  keys: Keys;
  logger: Logger;
}

/** Cached access to agent definitions; see the module comment. */
export class AgentRegistry {
  private readonly store: DefinitionStore;
  private readonly redis: Redis;
  private readonly keys: Keys;
  private readonly logger: Logger;

  constructor(o: AgentRegistryOptions) {
    this.store = o.store;
    this.redis = o.redis;
    this.keys = o.keys;
    this.logger = o.logger.child({ component: 'agent-registry' });
  }

  /**
   * The agent's definition: from the Valkey cache when present, else loaded from the store and
   * cached for `cache_ttl` seconds. Valkey being down only costs the cache (the store is read).
   * Throws `DefinitionError` for a missing or invalid definition (not cached, so a fix is seen at once).
   */
  async get(agentId: string): Promise<AgentDefinition> {
    checkAgentId(agentId);
    const key = this.keys.agentCache(agentId);
    const cached = await readCached<AgentDefinition>(this.redis, key, this.logger);
    if (cached) return cached;
    const def = await loadAgentDefinition(this.store, agentId);
    for (const warning of def.warnings) this.logger.warn({ agentId }, `${configKey(agentId)}: ${warning}`);
    await writeCached(this.redis, key, def, def.config.cache_ttl, this.logger);
    return def;
  }

  /** Agent ids present in the store (not cached: listing is rare and must see new agents). */
  listIds(): Promise<string[]> {
    return listAgentIds(this.store);
  }

  /**
   * Drops the cached definition of one agent, or of every agent and the skill library when
   * `agentId` is omitted (SCAN, never KEYS, so a large keyspace is not blocked). Resolves to the
   * number of entries deleted.
   */
  async invalidate(agentId?: string): Promise<number> {
    if (agentId !== undefined) {
      checkAgentId(agentId);
      return this.redis.del(this.keys.agentCache(agentId));
    }
    let deleted = await this.redis.del(this.keys.skillsCache());
    let cursor = '0';
    do {
      const [next, batch] = await this.redis.scan(
        cursor,
        'MATCH',
        this.keys.agentCachePattern(),
        'COUNT',
        500,
      );
      cursor = next;
      if (batch.length > 0) deleted += await this.redis.del(...batch);
    } while (cursor !== '0');
    this.logger.info({ deleted }, 'agent definition cache invalidated');
    return deleted;
  }
}
