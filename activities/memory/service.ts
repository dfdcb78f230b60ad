/**
 * An agent's memory as its definition configures it (`memory.*`): storing items (archived to the
 * definitions store first, then added to Valkey under the size bound) and retrieving them by the
 * configured strategy. `embedding_search` embeds through the brain's own provider (activities/models/
 * embeddings.ts); where it has no embeddings endpoint (anthropic), or the query cannot be embedded,
 * retrieval falls back to keyword and the log says so.
 */
import { createHash } from 'node:crypto';
import type { Settings } from '../../lib/config';
import { embeddingModelOf } from '../../lib/config';
import type { AgentDefinition, DefinitionStore } from '../../lib/definitions';
import type { Logger } from '../../lib/logger';
import type { MemoryItem, RetrievedMemory } from '../../lib/memory';
import type { Embedder } from '../models/embeddings';
import type { ModelProviders } from '../models/providers';
import type { MemoryStore, SaveResult } from './store';

export type MemoryConfig = AgentDefinition['config']['memory'];
export type RetrievalStrategy = MemoryConfig['retrieval']['strategy'];

export interface AgentMemoryDeps {
  store: MemoryStore;
  models: Pick<ModelProviders, 'embedder'>;
  /** Where stored items are archived (`memory/<agent>/<batch>.json`): the definitions store. */
  archive: Pick<DefinitionStore, 'writeText'>;
  logger: Logger;
  settings: Pick<Settings, 'memoryEmbeddingModels' | 'memoryEmbeddingTimeout'>;
}

export interface Retrieval {
  items: RetrievedMemory[];
  /** The strategy actually used (keyword when embedding_search could not be). */
  strategy: RetrievalStrategy;
}

/** A stable id for the `index`-th item a source produced, so a retried step stores nothing twice. */
export function memoryId(source: string, index = 0): string {
  return createHash('sha256').update(`${source}#${index}`).digest('hex').slice(0, 20);
}

export class AgentMemory {
  /** Agents already logged as falling back to keyword (one line per agent and reason). */
  private readonly fallbacks = new Set<string>();

  constructor(private readonly deps: AgentMemoryDeps) {}

  /** The embeddings client of the agent's brain, or null when its provider has none. */
  private embedderOf(def: AgentDefinition): Embedder | null {
    const b = def.config.brain;
    if (b.provider === 'anthropic') return null;
    const model = embeddingModelOf(this.deps.settings.memoryEmbeddingModels, b.provider);
    if (model === undefined) return null;
    return this.deps.models.embedder(
      {
        provider: b.provider,
        ...(b.api_base !== undefined && { apiBase: b.api_base }),
        ...(b.api_key_env !== undefined && { apiKeyEnv: b.api_key_env }),
      },
      model,
      this.deps.settings.memoryEmbeddingTimeout * 1000,
    );
  }

  private fallBack(def: AgentDefinition, why: string, err?: unknown): void {
    const key = `${def.id} ${why}`;
    if (this.fallbacks.has(key) && err === undefined) return;
    this.fallbacks.add(key);
    this.deps.logger[err === undefined ? 'info' : 'warn'](
      {
        agentId: def.id,
        provider: def.config.brain.provider,
        ...(err !== undefined && { err: err instanceof Error ? err.message : JSON.stringify(err) }),
      },
      `memory: embedding_search falls back to keyword retrieval: ${why}`,
    );
  }

  /**
   * Archives `items` (one object per batch, named by `batch`) and stores them, with vectors when
   * the agent retrieves by embedding and its provider has embeddings.
   */
  async remember(
    def: AgentDefinition,
    batch: string,
    items: MemoryItem[],
    signal?: AbortSignal,
  ): Promise<SaveResult | null> {
    const m = def.config.memory;
    if (!m.enabled || items.length === 0) return null;
    const embedder = m.retrieval.strategy === 'embedding_search' ? this.embedderOf(def) : null;
    const vectors = embedder
      ? await embedder.embed(
          items.map((i) => i.text),
          signal,
        )
      : [];
    // Archive first: an item in Valkey is always in the archive too, even if the runner dies here.
    await this.deps.archive.writeText(
      `memory/${def.id}/${memoryId(batch)}.json`,
      `${JSON.stringify({ agent: def.id, batch, items }, null, 2)}\n`,
    );
    return this.deps.store.save(
      def.id,
      items.map((item, i) => ({ item, ...(vectors[i] && { vector: vectors[i] }) })),
      m.max_size_mb * 1024 * 1024,
    );
  }

  /** The items matching `query` by the configured strategy, at most `limit` (default max_context_items). */
  async retrieve(
    def: AgentDefinition,
    query: string,
    o: { limit?: number; signal?: AbortSignal } = {},
  ): Promise<Retrieval> {
    const m = def.config.memory;
    const { strategy, relevance_threshold: threshold } = m.retrieval;
    const limit = o.limit ?? m.retrieval.max_context_items;
    const { store } = this.deps;
    if (strategy === 'recent') return { items: await store.recent(def.id, limit), strategy };
    if (strategy === 'embedding_search') {
      let embedder: Embedder | null = null;
      try {
        embedder = this.embedderOf(def);
      } catch (err) {
        this.fallBack(def, 'the brain has no usable embeddings endpoint on this runner', err);
      }
      if (embedder === null) {
        this.fallBack(def, `provider ${def.config.brain.provider} has no embeddings endpoint`);
      } else {
        try {
          const [vector] = await embedder.embed([query.slice(0, 8_000)], o.signal);
          return { items: await store.nearest(def.id, vector!, limit, threshold), strategy };
        } catch (err) {
          if (o.signal?.aborted) throw err;
          this.fallBack(def, `the query could not be embedded (${embedder.label})`, err);
        }
      }
    }
    return { items: await store.keyword(def.id, query, limit, threshold), strategy: 'keyword' };
  }
}
