/**
 * The model API as a CLI executor sees it: a reverse proxy on the run's bridge (see bridge.ts).
 * It forwards each request to the provider with the runner's key in place of the placeholder the
 * CLI was given, streams the answer back unchanged, and meters the usage the answer reports
 * (Anthropic Messages JSON and server-sent events; OpenAI-style `usage` objects too), so a run is
 * settled from what the provider billed whatever the CLI itself reports. Once `admit()` says the
 * run's budget is spent, further calls are refused with a permission error the CLI does not retry.
 */
import type http from 'node:http';

export interface MeteredUsage {
  inputTokens: number;
  outputTokens: number;
  /** Model calls answered (2xx). */
  calls: number;
  /** The model the provider answered with last, if it said. */
  model?: string;
}

export interface ModelProxy {
  handler: (req: http.IncomingMessage, res: http.ServerResponse) => void;
  usage(): MeteredUsage;
}

/** Request headers never passed upstream: hop-by-hop ones, and every credential the CLI sent. */
const DROPPED = new Set([
  'host',
  'connection',
  'keep-alive',
  'transfer-encoding',
  'x-api-key',
  'authorization',
  'proxy-authorization',
  'cookie',
]);

export function createModelProxy(o: {
  /** The provider's base URL, e.g. https://api.anthropic.com (a path prefix is kept). */
  upstream: string;
  apiKey: string;
  auth: 'x-api-key' | 'bearer';
  /** Asked before each call; a reason refuses it. */
  admit?: (usage: MeteredUsage) => string | undefined;
  /** Called with each answered call's usage. */
  onUsage?: (delta: { inputTokens: number; outputTokens: number }, total: MeteredUsage) => void;
}): ModelProxy {
  const total: MeteredUsage = { inputTokens: 0, outputTokens: 0, calls: 0 };
  const base = new URL(o.upstream);
  const prefix = base.pathname.replace(/\/$/, '');

  function handler(req: http.IncomingMessage, res: http.ServerResponse): void {
    const refusal = o.admit?.(total);
    if (refusal !== undefined) {
      res.writeHead(403, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ type: 'error', error: { type: 'permission_error', message: refusal } }));
      return;
    }
    const headers = new Headers();
    for (const [k, v] of Object.entries(req.headers)) {
      if (v === undefined || DROPPED.has(k)) continue;
      headers.set(k, Array.isArray(v) ? v.join(', ') : v);
    }
    if (o.auth === 'x-api-key') headers.set('x-api-key', o.apiKey);
    else headers.set('authorization', `Bearer ${o.apiKey}`);
    const target = new URL(prefix + (req.url ?? '/'), base);
    const abort = new AbortController();
    res.on('close', () => abort.abort());
    void (async () => {
      const body = await readBody(req);
      const upstream = await fetch(target, {
        method: req.method,
        headers,
        ...(body.length > 0 && { body }),
        signal: abort.signal,
      });
      const out: Record<string, string> = {};
      upstream.headers.forEach((v, k) => {
        if (k !== 'content-encoding' && k !== 'content-length' && k !== 'transfer-encoding') out[k] = v;
      });
      res.writeHead(upstream.status, out);
      const meter = new UsageMeter();
      if (upstream.body) {
        for await (const chunk of upstream.body as unknown as AsyncIterable<Uint8Array>) {
          meter.push(chunk);
          res.write(chunk);
        }
      }
      res.end();
      if (upstream.status >= 200 && upstream.status < 300) {
        const used = meter.finish();
        total.calls++;
        total.inputTokens += used.inputTokens;
        total.outputTokens += used.outputTokens;
        if (used.model) total.model = used.model;
        o.onUsage?.(used, total);
      }
    })().catch((err: unknown) => {
      if (res.headersSent) {
        res.destroy(err instanceof Error ? err : undefined);
        return;
      }
      res.writeHead(502, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          type: 'error',
          error: { type: 'api_error', message: `model endpoint unreachable: ${(err as Error).message}` },
        }),
      );
    });
  }

  return { handler, usage: () => ({ ...total }) };
}

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on('data', (b: Buffer) => parts.push(b));
    req.on('end', () => resolve(Buffer.concat(parts)));
    req.on('error', reject);
  });
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const count = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : 0);

/**
 * Reads the usage of one answer, whether a JSON body or an event stream. Anthropic streams give
 * the input in `message_start` and a running output count in `message_delta`; the largest value
 * seen of each is the answer's usage.
 */
export class UsageMeter {
  private text = '';
  private readonly decoder = new TextDecoder();

  push(chunk: Uint8Array): void {
    this.text += this.decoder.decode(chunk, { stream: true });
  }

  finish(): { inputTokens: number; outputTokens: number; model?: string } {
    this.text += this.decoder.decode();
    const docs: unknown[] = [];
    const trimmed = this.text.trim();
    if (trimmed.startsWith('{')) docs.push(parse(trimmed));
    else {
      for (const line of this.text.split('\n')) {
        if (line.startsWith('data:')) docs.push(parse(line.slice(5).trim()));
      }
    }
    let inputTokens = 0;
    let outputTokens = 0;
    let model: string | undefined;
    for (const doc of docs) {
      if (!isObject(doc)) continue;
      const message = isObject(doc.message) ? doc.message : doc;
      if (typeof message.model === 'string' && message.model !== '') model = message.model;
      for (const u of [message.usage, doc.usage]) {
        if (!isObject(u)) continue;
        const input =
          count(u.input_tokens) +
          count(u.cache_creation_input_tokens) +
          count(u.cache_read_input_tokens) +
          count(u.prompt_tokens);
        inputTokens = Math.max(inputTokens, input);
        outputTokens = Math.max(outputTokens, count(u.output_tokens) + count(u.completion_tokens));
      }
    }
    return { inputTokens, outputTokens, ...(model !== undefined && { model }) };
  }
}

function parse(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return undefined;
  }
}
