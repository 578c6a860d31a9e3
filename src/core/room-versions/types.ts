/**
 * Everything that differs between room versions lives in one rules record
 * (as ruma's RoomVersionRules): adding a version is one file and a registry line.
 */
export type RoomVersionId = '10' | '11' | 'I.1';

export interface RedactionRules {
  /** Top-level keys kept by redaction. */
  readonly keepTopLevel: ReadonlySet<string>;
  /** Per event type: content keys kept, or 'all'. */
  readonly keepContent: Readonly<Record<string, ReadonlySet<string> | 'all'>>;
  /** v11: m.room.member keeps `third_party_invite.signed`. */
  readonly keepThirdPartyInviteSigned: boolean;
}

export interface AuthRules {
  /** v11: the room creator is the create event's `sender`; `content.creator` is not required. */
  readonly creatorFromSender: boolean;
  /** v10+: power level values must be integers (no stringy numbers). */
  readonly integerPowerLevels: boolean;
  /** v7+: knocking. */
  readonly knocking: boolean;
  /** v8+: restricted joins; v10+: also knock_restricted. */
  readonly restrictedJoins: boolean;
  readonly knockRestricted: boolean;
  /** v11: m.room.power_levels `invite` is protected from redaction (affects nothing in auth itself). */
}

export interface RoomVersionRules {
  readonly id: RoomVersionId;
  /** Human summary for docs and UI. */
  readonly description: string;
  /** Event format family: all our versions use v4 (hash-derived, URL-safe event IDs). */
  readonly eventFormat: 'v4';
  /** v11: the `redacts` of m.room.redaction is in content rather than top level. */
  readonly redactsInContent: boolean;
  readonly redaction: RedactionRules;
  readonly auth: AuthRules;
  readonly stateResolution: 'v2';
  /** How messages are encoded: classic m.room.message, or MSC1767 extensible m.message. */
  readonly contentFormat: 'classic' | 'extensible';
  /** Whether the version is stable (advertised as such in m.room.create / capabilities). */
  readonly stability: 'stable' | 'unstable';
}
