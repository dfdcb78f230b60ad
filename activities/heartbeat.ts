/**
 * Every activity of the runner heartbeats once a second while it runs (throttled by the SDK), so
 * that a runner that dies mid-activity is noticed within the activity's heartbeat timeout rather
 * than its much longer start-to-close timeout, and so that cancellation reaches every activity.
 *
 * The first heartbeat goes out after a second, not at once: the heartbeat timeout already runs from
 * the activity's start, and most activities (guards, Hub reads, bookkeeping) finish well within a
 * second, so they cost the server no heartbeat write at all.
 */
import type { Context } from '@temporalio/activity';
import type { ActivityInboundCallsInterceptor, ActivityInterceptorsFactory } from '@temporalio/worker';

export const heartbeatInterceptor: ActivityInterceptorsFactory = (ctx: Context) => {
  const inbound: ActivityInboundCallsInterceptor = {
    async execute(input, next) {
      // Local activities cannot heartbeat: a dead runner shows as a workflow task timeout instead.
      if (ctx.info.isLocal) return next(input);
      const timer = setInterval(() => ctx.heartbeat(), 1000);
      try {
        return await next(input);
      } finally {
        clearInterval(timer);
      }
    },
  };
  return { inbound };
};
