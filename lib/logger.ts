import pino from 'pino';
import type { Logger } from 'pino';

export type { Logger };

/** The one JSON logger of a process; components take child loggers from it. */
export function createLogger(name: string, level = 'info'): Logger {
  return pino({
    name,
    level,
    base: { service: name, pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  });
}
