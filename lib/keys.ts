/**
 * Valkey key names (DESIGN.md). Every key is built here so that the names used by the guards,
 * the coordinator, the CLI and the docs cannot drift apart. A prefix isolates tests and shared
 * instances; production runs with none.
 */
export class Keys {
  constructor(private readonly prefix = '') {}

  private k(name: string): string {
    return this.prefix + name;
  }

  leader(): string {
    return this.k('coordinator:leader');
  }
  /** Hash agent → epoch ms of its last exploration start (hourly/daily discovery frequency). */
  explorationStarts(): string {
    return this.k('coordinator:exploration:last');
  }
  failures(): string {
    return this.k('work:failures');
  }
  backoff(): string {
    return this.k('work:backoff');
  }
  /** Half-open probe marker for one agent (who holds the single probe after a backoff). */
  probe(agentId: string): string {
    return this.k(`work:probe:${agentId}`);
  }
  budgetTokens(agentId: string, day: string): string {
    return this.k(`budget:tokens:${agentId}:${day}`);
  }
  budgetCost(agentId: string, month: string): string {
    return this.k(`budget:cost:${agentId}:${month}`);
  }
  fleetCost(month: string): string {
    return this.k(`budget:cost:_all:${month}`);
  }
  /** Open reservations of one agent (hash reservation id → amounts and expiry). */
  reservations(agentId: string): string {
    return this.k(`budget:reservations:${agentId}`);
  }
  fleetReservations(): string {
    return this.k('budget:reservations:_all');
  }
  /** Marker that a reservation was settled (makes settle idempotent under activity retries). */
  budgetSettled(agentId: string, reservationId: string): string {
    return this.k(`budget:settled:${agentId}:${reservationId}`);
  }
  limitPosts(agentId: string, day: string): string {
    return this.k(`limits:${agentId}:posts:${day}`);
  }
  limitComments(agentId: string, day: string): string {
    return this.k(`limits:${agentId}:comments:${day}`);
  }
  limitThread(agentId: string, postId: string): string {
    return this.k(`limits:${agentId}:thread:${postId}`);
  }
  limitLast(agentId: string): string {
    return this.k(`limits:${agentId}:last`);
  }
  /** Undo record of one behaviour-limit acquire (makes release idempotent). */
  limitAcquire(agentId: string, tokenId: string): string {
    return this.k(`limits:${agentId}:acquire:${tokenId}`);
  }
  agentCache(agentId: string): string {
    return this.k(`cache:agent:${agentId}`);
  }
  /** The definition one run pinned at its start (`workflowId:runId`), TTL past the run's timeout. */
  runDefinition(runKey: string): string {
    return this.k(`run:definition:${runKey}`);
  }
  agentCachePattern(): string {
    return this.k('cache:agent:*');
  }
  /** The parsed skill library (built-ins and the store's SKILL.md files), TTL BOTBURROW_SKILLS_CACHE_TTL. */
  skillsCache(): string {
    return this.k('cache:skills');
  }
  /**
   * The agent's memory (DESIGN.md `memory:<agent>:…`): `meta` (hash: seq, bytes), `order` (zset
   * id → seq, oldest first), `items` (hash id → item JSON), `terms` (hash id → its words),
   * `vectors` (hash id → embedding), and one `term:<word>` zset per word (id → seq·1000 + words).
   */
  memory(agentId: string, part: 'meta' | 'order' | 'items' | 'terms' | 'vectors'): string {
    return this.k(`memory:${agentId}:${part}`);
  }
  /** Prefix of the agent's per-word index zsets (`memory:<agent>:term:<word>`). */
  memoryTermPrefix(agentId: string): string {
    return this.k(`memory:${agentId}:term:`);
  }
  paused(agentId: string): string {
    return this.k(`agent:paused:${agentId}`);
  }
  /** Result of a side-effecting tool call, keyed by workflow id + tool-use id. */
  idempotency(key: string): string {
    return this.k(`idem:${key}`);
  }
  /** Large tool output kept outside workflow history (claim check). */
  blob(id: string): string {
    return this.k(`blob:${id}`);
  }
}

/** UTC day `YYYY-MM-DD` of an epoch-ms instant. */
export function utcDay(epochMs: number): string {
  return new Date(epochMs).toISOString().slice(0, 10);
}

/** UTC month `YYYY-MM` of an epoch-ms instant. */
export function utcMonth(epochMs: number): string {
  return new Date(epochMs).toISOString().slice(0, 7);
}
