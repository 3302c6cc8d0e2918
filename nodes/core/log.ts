import { pino, type Logger } from "pino";

export type { Logger };

/**
 * Structured logs for every agent. JSON by default (for machines); CERBERUS_LOG_PRETTY=1 or a TTY with
 * CERBERUS_LOG_PRETTY unset gives human-readable lines. Level from CERBERUS_LOG_LEVEL (default "info").
 */
export function createLogger(name: string, level: string = process.env.CERBERUS_LOG_LEVEL ?? "info"): Logger {
  const pretty = process.env.CERBERUS_LOG_PRETTY === "1";
  return pino({
    name,
    level,
    ...(pretty ? { transport: { target: "pino-pretty", options: { colorize: true, destination: 2 } } } : {}),
  }, pretty ? undefined : pino.destination(2));
}
