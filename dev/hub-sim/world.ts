/**
 * The simulator's in-memory Hub: agents, posts, comments, notifications, consumption. Pure state
 * and rules; HTTP lives in server.ts. `onUnread` listeners fire synchronously whenever an agent
 * gains an unread notification, which is what makes the long poll event-driven.
 */
import type { ParsedSeed, SeedActor, SeedComment, SeedLimits } from './seed';

/** A request the Hub refuses; the server turns it into `{ error }` with this status. */
export class SimError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface Actor {
  id: string;
  name: string;
}

export interface Limits {
  daily_tokens: number;
  monthly_cost_usd: number;
}

export interface AgentRecord {
  id: string;
  name: string;
  display_name: string | null;
  description: string | null;
  type: string;
  config_hash: string | null;
  created_at: number;
  last_activated_at: number | null;
  limits: Limits;
}

export interface PostRecord {
  id: string;
  seq: number;
  author: Actor;
  title: string | null;
  content: string;
  community: string | null;
  created_at: number;
  updated_at: number;
}

export interface CommentRecord {
  id: string;
  seq: number;
  post_id: string;
  author: Actor;
  content: string;
  parent_id: string | null;
  created_at: number;
}

export interface NotificationRecord {
  id: string;
  seq: number;
  agent_id: string;
  type: string;
  post_id: string | null;
  from_agent: Actor;
  content: string;
  created_at: number;
  read: boolean;
}

export interface ConsumptionRecord {
  agent_id: string;
  tokens_input: number;
  tokens_output: number;
  cost_usd: number;
  at: number;
}

export interface WorldOptions {
  /** Clock (ms); tests of staleness and budgets may pass their own. */
  now?: () => number;
  /** Mentions (`@agent-id`) and comments notify the agents concerned, like a real social network. */
  social?: boolean;
  /** Limits for agents whose seed names none. */
  defaultLimits?: Partial<Limits>;
}

const iso = (ms: number): string => new Date(ms).toISOString();

export function utcDayStart(ms: number): number {
  const d = new Date(ms);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
}

export function utcMonthStart(ms: number): number {
  const d = new Date(ms);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
}

export class HubWorld {
  readonly agents = new Map<string, AgentRecord>();
  readonly communities = new Map<string, { name: string; description: string | null }>();
  readonly posts = new Map<string, PostRecord>();
  readonly comments = new Map<string, CommentRecord>();
  readonly notifications = new Map<string, NotificationRecord>();
  readonly consumption: ConsumptionRecord[] = [];
  social: boolean;
  private seq = 0;
  private readonly listeners = new Set<(agentId: string) => void>();
  private readonly now: () => number;
  private readonly defaultLimits: Limits;

  constructor(seed: ParsedSeed, options: WorldOptions = {}) {
    this.now = options.now ?? Date.now;
    this.social = options.social ?? false;
    this.defaultLimits = {
      daily_tokens: options.defaultLimits?.daily_tokens ?? seed.limits?.daily_tokens ?? 0,
      monthly_cost_usd: options.defaultLimits?.monthly_cost_usd ?? seed.limits?.monthly_cost_usd ?? 0,
    };
    this.load(seed);
  }

  /** Subscribes to "agent gained an unread notification"; returns the unsubscribe function. */
  onUnread(listener: (agentId: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private nextId(prefix: string): string {
    this.seq += 1;
    return `${prefix}-${this.seq}`;
  }

  private limitsFrom(l: SeedLimits | undefined): Limits {
    return {
      daily_tokens: l?.daily_tokens ?? this.defaultLimits.daily_tokens,
      monthly_cost_usd: l?.monthly_cost_usd ?? this.defaultLimits.monthly_cost_usd,
    };
  }

  private load(seed: ParsedSeed): void {
    const start = this.now();
    for (const a of seed.agents) {
      if (this.agents.has(a.id)) throw new Error(`seed: agents: duplicate id ${a.id}`);
      this.agents.set(a.id, {
        id: a.id,
        name: a.name ?? a.id,
        display_name: a.display_name ?? null,
        description: a.description ?? null,
        type: a.type ?? 'native',
        config_hash: a.config_hash ?? null,
        created_at: start,
        last_activated_at: a.last_activated_at ? Date.parse(a.last_activated_at) : null,
        limits: this.limitsFrom(a.limits),
      });
    }
    for (const c of seed.communities) {
      const entry =
        typeof c === 'string'
          ? { name: c, description: null }
          : { name: c.name, description: c.description ?? null };
      this.communities.set(entry.name, entry);
    }
    // Seeded content without timestamps gets distinct ones in file order, older first.
    let offset = seed.posts.length + seed.notifications.length + 1000;
    const stamp = (given: string | undefined): number =>
      given ? Date.parse(given) : start - 1000 * offset--;
    const addThread = (postId: string, parentId: string | null, list: SeedComment[] | undefined): void => {
      for (const c of list ?? []) {
        const comment = this.insertComment({
          id: c.id,
          post_id: postId,
          author: this.actor(c.author),
          content: c.content,
          parent_id: parentId,
          created_at: stamp(c.created_at),
        });
        addThread(postId, comment.id, c.replies);
      }
    };
    for (const p of seed.posts) {
      const post = this.insertPost({
        id: p.id,
        author: this.actor(p.author),
        title: p.title ?? null,
        content: p.content,
        community: p.community ?? null,
        created_at: stamp(p.created_at),
      });
      addThread(post.id, null, p.comments);
    }
    for (const n of seed.notifications) {
      if (!this.agents.has(n.agent)) throw new Error(`seed: notifications: unknown agent ${n.agent}`);
      this.insertNotification({
        id: n.id,
        agent_id: n.agent,
        type: n.type,
        post_id: n.post_id ?? null,
        from_agent: this.actor(n.from),
        content: n.content,
        created_at: stamp(n.created_at),
        read: n.read ?? false,
      });
    }
  }

  /** `{ id, name }` for an agent id (its registered name) or an explicit outsider. */
  actor(ref: SeedActor): Actor {
    if (typeof ref !== 'string') return ref;
    const agent = this.agents.get(ref);
    return { id: ref, name: agent?.name ?? ref };
  }

  requireAgent(agentId: string | undefined | null, field = 'agent_id'): AgentRecord {
    if (!agentId) throw new SimError(400, `${field} is required`);
    const agent = this.agents.get(agentId);
    if (!agent) throw new SimError(404, `unknown agent: ${agentId}`);
    return agent;
  }

  requirePost(postId: string): PostRecord {
    const post = this.posts.get(postId);
    if (!post) throw new SimError(404, `unknown post: ${postId}`);
    return post;
  }

  insertPost(p: Omit<PostRecord, 'id' | 'seq' | 'updated_at'> & { id?: string }): PostRecord {
    const id = p.id ?? this.nextId('p');
    if (this.posts.has(id)) throw new SimError(409, `post ${id} exists`);
    this.seq += 1;
    const post: PostRecord = { ...p, id, seq: this.seq, updated_at: p.created_at };
    this.posts.set(id, post);
    if (post.community && !this.communities.has(post.community)) {
      this.communities.set(post.community, { name: post.community, description: null });
    }
    return post;
  }

  insertComment(c: Omit<CommentRecord, 'id' | 'seq'> & { id?: string }): CommentRecord {
    const id = c.id ?? this.nextId('c');
    if (this.comments.has(id)) throw new SimError(409, `comment ${id} exists`);
    this.seq += 1;
    const comment: CommentRecord = { ...c, id, seq: this.seq };
    this.comments.set(id, comment);
    return comment;
  }

  insertNotification(n: Omit<NotificationRecord, 'id' | 'seq'> & { id?: string }): NotificationRecord {
    const id = n.id ?? this.nextId('n');
    if (this.notifications.has(id)) throw new SimError(409, `notification ${id} exists`);
    this.seq += 1;
    const rec: NotificationRecord = { ...n, id, seq: this.seq };
    this.notifications.set(id, rec);
    if (!rec.read) for (const l of this.listeners) l(rec.agent_id);
    return rec;
  }

  /** Agents with unread notifications, most unread first, then by id. */
  agentsWithUnread(limit = Infinity): { id: string; name: string; notification_count: number }[] {
    const counts = new Map<string, number>();
    for (const n of this.notifications.values()) {
      if (!n.read) counts.set(n.agent_id, (counts.get(n.agent_id) ?? 0) + 1);
    }
    return [...counts.entries()]
      .filter(([id]) => this.agents.has(id))
      .map(([id, count]) => ({ id, name: this.agents.get(id)?.name ?? id, notification_count: count }))
      .sort((a, b) => b.notification_count - a.notification_count || a.id.localeCompare(b.id))
      .slice(0, limit);
  }

  hasUnread(): boolean {
    for (const n of this.notifications.values()) if (!n.read && this.agents.has(n.agent_id)) return true;
    return false;
  }

  /** Never-activated agents first (by id), then the longest-idle. */
  staleAgents(minStalenessSeconds: number): { id: string; name: string; last_activated_at: string | null }[] {
    const cutoff = this.now() - minStalenessSeconds * 1000;
    return [...this.agents.values()]
      .filter((a) => a.last_activated_at === null || a.last_activated_at <= cutoff)
      .sort((a, b) => {
        if (a.last_activated_at === null || b.last_activated_at === null) {
          if (a.last_activated_at === b.last_activated_at) return a.id.localeCompare(b.id);
          return a.last_activated_at === null ? -1 : 1;
        }
        return a.last_activated_at - b.last_activated_at || a.id.localeCompare(b.id);
      })
      .map((a) => ({
        id: a.id,
        name: a.name,
        last_activated_at: a.last_activated_at === null ? null : iso(a.last_activated_at),
      }));
  }

  markActivated(agentId: string): AgentRecord {
    const agent = this.requireAgent(agentId, 'id');
    agent.last_activated_at = this.now();
    return agent;
  }

  notificationsFor(agentId: string, unreadOnly: boolean, limit: number): NotificationRecord[] {
    this.requireAgent(agentId);
    return [...this.notifications.values()]
      .filter((n) => n.agent_id === agentId && (!unreadOnly || !n.read))
      .sort((a, b) => a.created_at - b.created_at || a.seq - b.seq)
      .slice(0, limit);
  }

  markRead(ids: string[]): { marked: number; unknown: string[] } {
    let marked = 0;
    const unknown: string[] = [];
    for (const id of ids) {
      const n = this.notifications.get(id);
      if (!n) unknown.push(id);
      else if (!n.read) {
        n.read = true;
        marked += 1;
      }
    }
    return { marked, unknown };
  }

  createPost(b: {
    agent_id: string;
    content: string;
    title: string | null;
    community: string | null;
  }): PostRecord {
    const agent = this.requireAgent(b.agent_id);
    const post = this.insertPost({
      author: { id: agent.id, name: agent.name },
      title: b.title,
      content: b.content,
      community: b.community,
      created_at: this.now(),
    });
    if (this.social) this.notifyMentions(agent, post.id, post.content);
    return post;
  }

  createComment(
    postId: string,
    b: { agent_id: string; content: string; parent_id: string | null },
  ): CommentRecord {
    const agent = this.requireAgent(b.agent_id);
    const post = this.requirePost(postId);
    let parent: CommentRecord | undefined;
    if (b.parent_id) {
      parent = this.comments.get(b.parent_id);
      if (!parent || parent.post_id !== postId)
        throw new SimError(404, `unknown comment ${b.parent_id} on post ${postId}`);
    }
    const comment = this.insertComment({
      post_id: post.id,
      author: { id: agent.id, name: agent.name },
      content: b.content,
      parent_id: parent?.id ?? null,
      created_at: this.now(),
    });
    post.updated_at = comment.created_at;
    if (this.social) {
      const from = { id: agent.id, name: agent.name };
      const told = new Set<string>([agent.id]);
      const tell = (to: string, type: string): void => {
        if (told.has(to) || !this.agents.has(to)) return;
        told.add(to);
        this.insertNotification({
          agent_id: to,
          type,
          post_id: post.id,
          from_agent: from,
          content: b.content,
          created_at: this.now(),
          read: false,
        });
      };
      if (parent) tell(parent.author.id, 'reply');
      tell(post.author.id, 'comment');
      this.notifyMentions(agent, post.id, b.content, told);
    }
    return comment;
  }

  private notifyMentions(
    from: AgentRecord,
    postId: string,
    text: string,
    told = new Set<string>([from.id]),
  ): void {
    for (const match of text.matchAll(/@([a-z0-9][a-z0-9_-]*)/g)) {
      const to = match[1];
      if (!to || told.has(to) || !this.agents.has(to)) continue;
      told.add(to);
      this.insertNotification({
        agent_id: to,
        type: 'mention',
        post_id: postId,
        from_agent: { id: from.id, name: from.name },
        content: text,
        created_at: this.now(),
        read: false,
      });
    }
  }

  commentsOf(postId: string): CommentRecord[] {
    return [...this.comments.values()]
      .filter((c) => c.post_id === postId)
      .sort((a, b) => a.created_at - b.created_at || a.seq - b.seq);
  }

  /** Top-level posts, newest first. */
  private newestPosts(): PostRecord[] {
    return [...this.posts.values()].sort((a, b) => b.created_at - a.created_at || b.seq - a.seq);
  }

  search(q: { q: string; limit: number; community?: string; author?: string }): PostRecord[] {
    const terms = q.q.toLowerCase().split(/\s+/).filter(Boolean);
    return this.newestPosts()
      .filter((p) => !q.community || p.community === q.community)
      .filter((p) => !q.author || p.author.id === q.author || p.author.name === q.author)
      .filter((p) => {
        const text = `${p.title ?? ''}\n${p.content}`.toLowerCase();
        return terms.every((t) => text.includes(t));
      })
      .slice(0, q.limit);
  }

  discover(q: {
    agentId?: string;
    limit: number;
    communities: string[];
    keywords: string[];
    excludeResponded: boolean;
  }): PostRecord[] {
    const responded = new Set<string>();
    if (q.excludeResponded && q.agentId) {
      for (const c of this.comments.values()) if (c.author.id === q.agentId) responded.add(c.post_id);
    }
    const keywords = q.keywords.map((k) => k.toLowerCase());
    return this.newestPosts()
      .filter((p) => !q.agentId || p.author.id !== q.agentId)
      .filter((p) => !responded.has(p.id))
      .filter(
        (p) => q.communities.length === 0 || (p.community !== null && q.communities.includes(p.community)),
      )
      .filter((p) => {
        if (keywords.length === 0) return true;
        const text = `${p.title ?? ''}\n${p.content}`.toLowerCase();
        return keywords.some((k) => text.includes(k));
      })
      .slice(0, q.limit);
  }

  recordConsumption(r: Omit<ConsumptionRecord, 'at'>): ConsumptionRecord {
    this.requireAgent(r.agent_id);
    const rec = { ...r, at: this.now() };
    this.consumption.push(rec);
    return rec;
  }

  /** Budget as the Hub reports it: tokens today vs the daily limit, USD this month vs the monthly one. */
  budgetHealth(agentId: string): {
    daily_limit: number;
    daily_used: number;
    monthly_limit: number;
    monthly_used: number;
    healthy: boolean;
  } {
    const agent = this.requireAgent(agentId);
    const now = this.now();
    const day = utcDayStart(now);
    const month = utcMonthStart(now);
    let dailyUsed = 0;
    let monthlyUsed = 0;
    for (const r of this.consumption) {
      if (r.agent_id !== agentId) continue;
      if (r.at >= day) dailyUsed += r.tokens_input + r.tokens_output;
      if (r.at >= month) monthlyUsed += r.cost_usd;
    }
    monthlyUsed = Math.round(monthlyUsed * 1e6) / 1e6;
    const { daily_tokens: dailyLimit, monthly_cost_usd: monthlyLimit } = agent.limits;
    const healthy =
      (dailyLimit === 0 || dailyUsed < dailyLimit) && (monthlyLimit === 0 || monthlyUsed < monthlyLimit);
    return {
      daily_limit: dailyLimit,
      daily_used: dailyUsed,
      monthly_limit: monthlyLimit,
      monthly_used: monthlyUsed,
      healthy,
    };
  }

  /** Registration: new → registered; other hash or `force` → updated; else unchanged. */
  register(
    a: { name: string; display_name?: string; description?: string; type?: string; config_hash?: string },
    force: boolean,
  ): 'registered' | 'updated' | 'unchanged' {
    const existing = this.agents.get(a.name);
    if (!existing) {
      this.agents.set(a.name, {
        id: a.name,
        name: a.name,
        display_name: a.display_name ?? null,
        description: a.description ?? null,
        type: a.type ?? 'native',
        config_hash: a.config_hash ?? null,
        created_at: this.now(),
        last_activated_at: null,
        limits: { ...this.defaultLimits },
      });
      return 'registered';
    }
    if (!force && existing.config_hash === (a.config_hash ?? null)) return 'unchanged';
    existing.display_name = a.display_name ?? existing.display_name;
    existing.description = a.description ?? existing.description;
    existing.type = a.type ?? existing.type;
    existing.config_hash = a.config_hash ?? existing.config_hash;
    return 'updated';
  }
}

/** JSON shapes of records as hub-api.md defines them. */
export const view = {
  notification: (n: NotificationRecord) => ({
    id: n.id,
    type: n.type,
    post_id: n.post_id,
    from_agent: n.from_agent,
    content: n.content,
    created_at: iso(n.created_at),
    read: n.read,
  }),
  comment: (c: CommentRecord) => ({
    id: c.id,
    author: c.author,
    content: c.content,
    parent_id: c.parent_id,
    created_at: iso(c.created_at),
  }),
  post: (p: PostRecord) => ({
    id: p.id,
    author: p.author,
    title: p.title,
    content: p.content,
    community: p.community,
    parent_id: null,
    created_at: iso(p.created_at),
    updated_at: iso(p.updated_at),
  }),
  summary: (p: PostRecord) => ({
    id: p.id,
    author: p.author,
    title: p.title,
    content: p.content,
    community: p.community,
    created_at: iso(p.created_at),
  }),
  agent: (a: AgentRecord) => ({
    id: a.id,
    name: a.name,
    display_name: a.display_name,
    description: a.description,
    type: a.type,
    config_hash: a.config_hash,
    created_at: iso(a.created_at),
    last_activated_at: a.last_activated_at === null ? null : iso(a.last_activated_at),
  }),
  consumption: (r: ConsumptionRecord) => ({ ...r, at: iso(r.at) }),
};
