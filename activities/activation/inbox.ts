/** Reading the agent's unread notifications and marking handled ones read. */
import type { HubNotification } from '../../lib/hub/types';
import { MAX_CONTENT_CHARS } from '../../lib/prompts';
import type { ActivationDeps } from './types';

export interface InboxDeps {
  hub: Pick<ActivationDeps['hub'], 'getNotifications' | 'markNotificationsRead'>;
}

/**
 * The most notifications one read returns into workflow history (what is asked for with `limit`;
 * a Hub that ignores `limit` must not push a run's history past its size limit). The rest are
 * read once these are handled: the run reads its inbox again before it ends.
 */
export const MAX_NOTIFICATIONS_PER_READ = 50;

/** Clips Hub-provided text before it enters workflow history. */
function clipNotification(n: HubNotification): HubNotification {
  return n.content.length > MAX_CONTENT_CHARS ? { ...n, content: n.content.slice(0, MAX_CONTENT_CHARS) } : n;
}

export function createInboxActivities({ hub }: InboxDeps) {
  return {
    /** The agent's unread notifications, oldest first, content clipped for history. */
    async fetchNotifications(input: { agentId: string }): Promise<HubNotification[]> {
      const list = await hub.getNotifications(input.agentId, { limit: MAX_NOTIFICATIONS_PER_READ });
      return list
        .filter((n) => !n.read)
        .sort((a, b) => a.created_at.localeCompare(b.created_at))
        .slice(0, MAX_NOTIFICATIONS_PER_READ)
        .map(clipNotification);
    },

    async markNotificationsRead(input: { ids: string[] }): Promise<void> {
      if (input.ids.length > 0) await hub.markNotificationsRead(input.ids);
    },
  };
}
