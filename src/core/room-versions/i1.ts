import type { RoomVersionRules } from './types.ts';
import { V10 } from './v10.ts';

/**
 * Room version I.1 (draft-ralston-mimi-matrix-framework): version 10's
 * algorithms unchanged — event format, redaction, auth rules, state
 * resolution — with MSC1767 extensible events (`m.message` with
 * `m.text` content blocks) as the message format.
 */
export const I1: RoomVersionRules = {
  ...V10,
  id: 'I.1',
  description: 'MIMI room version I.1 (v10 algorithms, MSC1767 extensible events)',
  contentFormat: 'extensible',
  stability: 'unstable',
};
