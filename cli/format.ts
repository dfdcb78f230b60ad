/**
 * Text output of the CLI: aligned tables and key/value blocks, durations, times, money and the
 * `--since` parser. Pure functions, unit-tested.
 */
import { roundUsd } from '../lib/usd';

/** Left-aligned columns separated by two spaces; numbers in `right` columns are right-aligned. */
export function table(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  right: readonly number[] = [],
): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (right.includes(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/** `key  value` lines with the keys padded to one width; undefined values are left out. */
export function keyValues(pairs: readonly (readonly [string, string | undefined])[]): string {
  const shown = pairs.filter((p): p is readonly [string, string] => p[1] !== undefined);
  const width = Math.max(0, ...shown.map(([k]) => k.length));
  return shown.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n');
}

/** 850 → `850ms`, 4200 → `4.2s`, 125000 → `2m05s`, 7_500_000 → `2h05m`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '-';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.floor(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  const m = Math.floor(s / 60);
  if (m < 48 * 60) return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(m / 1440)}d${String(Math.floor((m % 1440) / 60)).padStart(2, '0')}h`;
}

/** A UTC time without milliseconds: `2026-11-27 18:09:34Z`. */
export function formatTime(d: Date | number | undefined): string {
  if (d === undefined) return '-';
  const date = typeof d === 'number' ? new Date(d) : d;
  if (Number.isNaN(date.getTime())) return '-';
  return `${date.toISOString().slice(0, 19).replace('T', ' ')}Z`;
}

/** USD with cents for large amounts and four decimals for the small ones activations cost. */
export function formatUsd(usd: number | undefined): string {
  if (usd === undefined || !Number.isFinite(usd)) return '-';
  return usd >= 1 ? `$${usd.toFixed(2)}` : `$${usd.toFixed(4)}`;
}

/** The first eight characters of a run id: enough to tell runs apart in a table. */
export function shortId(runId: string): string {
  return runId.slice(0, 8);
}

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/**
 * `--since`: a relative age (`90s`, `30m`, `1h`, `2d`, `1w`) before `now`, or an ISO-8601 time.
 * Returns undefined for anything else (the caller reports the usage error).
 */
export function parseSince(raw: string, now: number): Date | undefined {
  const rel = /^(\d+)([smhdw])$/.exec(raw.trim());
  if (rel) return new Date(now - Number(rel[1]) * UNIT_MS[rel[2]!]!);
  // Only ISO-like text: Date.parse also accepts forms like "1" that are surely a typo.
  if (!/^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(raw.trim())) return undefined;
  const t = Date.parse(raw.trim());
  return Number.isNaN(t) ? undefined : new Date(t);
}

/** `--json` output: indented, with every `costUsd` rounded to micro-dollars (no float noise). */
export function toJson(value: unknown): string {
  return JSON.stringify(
    value,
    (key, v: unknown) => (key === 'costUsd' && typeof v === 'number' ? roundUsd(v) : v),
    2,
  );
}
