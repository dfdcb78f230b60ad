/**
 * Typed client of the simulator's `/_admin/` endpoints, for tests and the local run. Talks HTTP so
 * it works the same against an in-process simulator and one started by `dev/hub-sim/main.ts`.
 */
import type { SeedActor, WorldSeed } from './seed';
import type { ActiveFault, FaultSpec, PollStats } from './server';
import type { Limits } from './world';

type Actor = { id: string; name: string };

export interface AdminNotification {
  id: string;
  agent_id: string;
  type: string;
  post_id: string | null;
  from_agent: Actor;
  content: string;
  created_at: string;
  read: boolean;
}

export interface AdminPost {
  id: string;
  author: Actor;
  title: string | null;
  content: string;
  community: string | null;
  parent_id: null;
  created_at: string;
  updated_at: string;
}

export interface AdminComment {
  id: string;
  post_id: string;
  author: Actor;
  content: string;
  parent_id: string | null;
  created_at: string;
}

/** Everything one agent wrote, in the order it wrote it. */
export interface AgentActivity {
  agent_id: string;
  posts: AdminPost[];
  comments: AdminComment[];
}

export interface ConsumptionView {
  agent_id: string;
  tokens_input: number;
  tokens_output: number;
  cost_usd: number;
  at: string;
}

export interface SimState {
  agents: (Record<string, unknown> & {
    id: string;
    name: string;
    last_activated_at: string | null;
    limits: Limits;
  })[];
  communities: { name: string; description: string | null }[];
  posts: AdminPost[];
  comments: AdminComment[];
  notifications: AdminNotification[];
  config: { long_poll: boolean; social: boolean };
}

type TimeLike = number | string | Date;

const toQueryTime = (t: TimeLike): string => String(t instanceof Date ? t.getTime() : t);

export class HubSimAdmin {
  private readonly baseUrl: string;

  constructor(
    baseUrl: string,
    private readonly fetchImpl: typeof fetch = globalThis.fetch,
  ) {
    this.baseUrl = baseUrl.replace(/\/$/, '');
  }

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.fetchImpl(this.baseUrl + path, {
      method,
      headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`hub-sim admin ${method} ${path}: HTTP ${res.status}: ${text}`);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /** Back to the initial seed (or `seed`), clearing faults, request counts, poll statistics and idempotency keys. */
  async reset(seed?: WorldSeed): Promise<void> {
    await this.call('POST', '/_admin/reset', seed === undefined ? {} : { seed });
  }

  /** The whole in-memory world. */
  state(): Promise<SimState> {
    return this.call('GET', '/_admin/state');
  }

  /** Switches the long poll off (404, the fallback case) or on; toggles social notifications. */
  setConfig(c: { long_poll?: boolean; social?: boolean }): Promise<{ long_poll: boolean; social: boolean }> {
    return this.call('POST', '/_admin/config', c);
  }

  /** Gives `agent_id` an unread notification; open long polls answer at once. */
  injectNotification(n: {
    agent_id: string;
    type?: string;
    from_agent?: SeedActor;
    post_id?: string | null;
    content?: string;
    id?: string;
  }): Promise<AdminNotification> {
    return this.call('POST', '/_admin/notifications', n);
  }

  /** Every notification (read ones too), optionally of one agent. */
  async notifications(agentId?: string): Promise<AdminNotification[]> {
    const q = agentId ? `?agent_id=${encodeURIComponent(agentId)}` : '';
    return (await this.call<{ notifications: AdminNotification[] }>('GET', `/_admin/notifications${q}`))
      .notifications;
  }

  /** A post by anyone (default author `hub-user`). */
  injectPost(p: {
    content: string;
    author?: SeedActor;
    title?: string;
    community?: string;
    id?: string;
  }): Promise<AdminPost> {
    return this.call('POST', '/_admin/posts', p);
  }

  /** A comment by anyone on `post_id`. */
  injectComment(c: {
    post_id: string;
    content: string;
    author?: SeedActor;
    parent_id?: string;
    id?: string;
  }): Promise<AdminComment> {
    return this.call('POST', '/_admin/comments', c);
  }

  /** Every post and comment `agentId` made. */
  activity(agentId: string): Promise<AgentActivity> {
    return this.call('GET', `/_admin/agents/${encodeURIComponent(agentId)}/activity`);
  }

  /** Sets the limits budget-health compares consumption with (0 = no limit). */
  setLimits(agentId: string, l: Partial<Limits>): Promise<Limits> {
    return this.call('POST', `/_admin/agents/${encodeURIComponent(agentId)}/limits`, l);
  }

  /** Usage reports received, optionally of one agent. */
  async consumption(agentId?: string): Promise<ConsumptionView[]> {
    const q = agentId ? `?agent_id=${encodeURIComponent(agentId)}` : '';
    return (await this.call<{ records: ConsumptionView[] }>('GET', `/_admin/consumption${q}`)).records;
  }

  /** Switches on a fault; returns it with its id. */
  addFault(f: FaultSpec): Promise<ActiveFault> {
    return this.call('POST', '/_admin/faults', f);
  }

  async faults(): Promise<ActiveFault[]> {
    return (await this.call<{ faults: ActiveFault[] }>('GET', '/_admin/faults')).faults;
  }

  /** Clears every fault, or those of one endpoint; returns how many were cleared. */
  async clearFaults(endpoint?: string): Promise<number> {
    const q = endpoint ? `?endpoint=${encodeURIComponent(endpoint)}` : '';
    return (await this.call<{ cleared: number }>('DELETE', `/_admin/faults${q}`)).cleared;
  }

  async clearFault(id: string): Promise<number> {
    return (await this.call<{ cleared: number }>('DELETE', `/_admin/faults/${encodeURIComponent(id)}`))
      .cleared;
  }

  /** Long-poll statistics per `X-Botburrow-Client`; with a window, who polled inside it. */
  pollStats(window?: { since?: TimeLike; until?: TimeLike }): Promise<PollStats> {
    const q = new URLSearchParams();
    if (window?.since !== undefined) q.set('since', toQueryTime(window.since));
    if (window?.until !== undefined) q.set('until', toQueryTime(window.until));
    const qs = q.toString();
    return this.call('GET', `/_admin/polls${qs ? `?${qs}` : ''}`);
  }

  /** Forgets poll totals, history and the concurrency high-water mark (open polls stay). */
  async resetPollStats(): Promise<void> {
    await this.call('POST', '/_admin/polls/reset');
  }

  /** Requests received per endpoint label (`GET /api/v1/posts/{id}`), faulted and refused ones included. */
  async requestCounts(): Promise<Record<string, number>> {
    return (await this.call<{ counts: Record<string, number> }>('GET', '/_admin/requests')).counts;
  }

  async requestCount(endpoint: string): Promise<number> {
    return (await this.requestCounts())[endpoint] ?? 0;
  }

  async resetRequestCounts(): Promise<void> {
    await this.call('POST', '/_admin/requests/reset');
  }
}
