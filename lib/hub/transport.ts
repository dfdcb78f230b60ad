/**
 * HubClient's HTTP transport: node:http(s) over keep-alive agents. An activation makes a dozen
 * small JSON calls to the Hub, and `fetch` (undici with web streams) spends several times the CPU
 * of node:http on each of them; `bench/hub-long-poll.ts` prints both rates.
 *
 * The shape is the subset of `fetch` the client uses, so a `fetch` (or a fake of it) can stand in.
 */
import http from 'node:http';
import https from 'node:https';

export interface HubRequest {
  method: string;
  headers: Record<string, string>;
  body?: string | undefined;
  signal: AbortSignal;
}

export interface HubResponse {
  status: number;
  headers: { get(name: string): string | null };
  text(): Promise<string>;
}

export type HubTransport = (url: string, init: HubRequest) => Promise<HubResponse>;

// An idle socket is closed a second before the server's announced keep-alive timeout (Node reads
// the `Keep-Alive: timeout=n` hint only when the agent has a timeout of its own), so a call never
// goes out on a connection the server is closing at that moment.
const agentOptions = { keepAlive: true, timeout: 60_000 };
const agents = {
  'http:': new http.Agent(agentOptions),
  'https:': new https.Agent(agentOptions),
};

/** Sends one request and reads the whole answer; rejects on network errors, aborts and cut-off bodies. */
export const nodeHttpTransport: HubTransport = (url, init) =>
  new Promise<HubResponse>((resolve, reject) => {
    const target = new URL(url);
    const secure = target.protocol === 'https:';
    const headers: Record<string, string | number> = { ...init.headers };
    if (init.body !== undefined) headers['Content-Length'] = Buffer.byteLength(init.body);
    const req = (secure ? https : http).request(
      target,
      {
        method: init.method,
        headers,
        agent: secure ? agents['https:'] : agents['http:'],
        signal: init.signal,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let ended = false;
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          ended = true;
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({
            status: res.statusCode ?? 0,
            headers: { get: (name) => headerValue(res.headers[name.toLowerCase()]) },
            text: () => Promise.resolve(text),
          });
        });
        res.on('error', reject);
        // A connection closed in the middle of the body ends neither with 'end' nor always with 'error'.
        res.on('close', () => {
          if (!ended) reject(new Error('connection closed before the end of the response'));
        });
      },
    );
    req.on('error', reject);
    req.end(init.body);
  });

function headerValue(v: string | string[] | undefined): string | null {
  if (v === undefined) return null;
  return Array.isArray(v) ? v.join(', ') : v;
}
