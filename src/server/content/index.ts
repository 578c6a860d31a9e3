/** Message content builders/readers and timeline aggregation for the UI (pure, no I/O). */
export * from './aggregate.ts';
export * from './messages.ts';
export * from './timeline-window.ts';
