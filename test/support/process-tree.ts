/**
 * The processes a test started, found through /proc: every descendant of a pid, and which of a set
 * are still alive. Used to prove a stopped or killed program left nothing behind.
 */
import { readFileSync, readdirSync } from 'node:fs';
import net from 'node:net';

/** pid → parent pid of every live (not zombie) process of this PID namespace. */
function parents(): Map<number, number> {
  const out = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // `pid (comm) state ppid …`; comm may hold spaces and parentheses, so split after the last ')'.
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (state === 'Z' || state === 'X') continue;
      out.set(Number(entry), Number(ppid));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** Every live descendant of `pid` (children, their children, …), not `pid` itself. */
export function descendants(pid: number): number[] {
  const tree = parents();
  const found: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const p = queue.shift()!;
    for (const [child, parent] of tree) {
      if (parent === p && !found.includes(child)) {
        found.push(child);
        queue.push(child);
      }
    }
  }
  return found;
}

/** Which of `pids` are still alive (zombies count as gone), with their command lines. */
export function alive(pids: readonly number[]): string[] {
  const live = parents();
  return pids
    .filter((p) => live.has(p))
    .map((p) => {
      try {
        return `${p} ${readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').join(' ').trim()}`;
      } catch {
        return String(p);
      }
    });
}

/** True when something accepts TCP connections on 127.0.0.1:port. */
export function listening(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, host);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/**
 * Polls until none of `pids` is alive and none of `ports` is listening, or `timeoutMs` passes;
 * resolves to what was still there at the end (empty when everything is gone) and the time taken.
 */
export async function waitAllGone(
  pids: readonly number[],
  ports: readonly number[],
  timeoutMs: number,
): Promise<{ left: string[]; ms: number }> {
  const started = Date.now();
  for (;;) {
    const left = [
      ...alive(pids),
      ...(await Promise.all(ports.map(async (p) => ((await listening(p)) ? `port ${p}` : '')))).filter(
        Boolean,
      ),
    ];
    if (left.length === 0 || Date.now() - started > timeoutMs) return { left, ms: Date.now() - started };
    await new Promise((r) => setTimeout(r, 100));
  }
}
