import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * The process logger: pino JSON on stderr (stdout stays free for command output).
 * Level from TORTIE_LOG_LEVEL (default info). Library code receives a child logger via deps.
 */
export function createLogger(name: string, level = process.env['TORTIE_LOG_LEVEL'] ?? 'info'): Logger {
  return pino({ name, level, base: { pid: process.pid } }, pino.destination({ fd: 2, sync: false }));
}

/** A logger that drops everything, for unit tests. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
