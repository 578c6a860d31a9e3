/** Structured log lines; the simulator and the worker route them where they want. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type Logger = (level: LogLevel, message: string, data?: Record<string, unknown>) => void;

export const silentLogger: Logger = () => {};
export const consoleLogger =
  (prefix: string): Logger =>
  (level, message, data) => {
    if (level === 'debug') return;
    const line = `[${prefix}] ${level}: ${message}${data ? ` ${JSON.stringify(data)}` : ''}`;
    if (level === 'error' || level === 'warn') console.error(line);
    else console.log(line);
  };
