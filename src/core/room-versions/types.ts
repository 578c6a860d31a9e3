/**
 * Everything that differs between room versions lives in one rules record
 * (as ruma's RoomVersionRules): adding a version is one file and a registry line.
 */
export type RoomVersionId = '10' | '11' | '12' | 'I.1';

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
  /**
   * v12 (MSC4291): the room ID is `!` + the create event's reference hash. The
   * create event has no `room_id`; other events do not list it in
   * `auth_events` (their `room_id` implies it), and the rules gain rule 2
   * (the room ID names an accepted create event), which renumbers the rest.
   */
  readonly roomIdFromCreateEvent: boolean;
  /**
   * v12 (MSC4289): the create event's sender and `content.additional_creators`
   * are *room creators* with infinite power; power levels may not list them.
   */
  readonly privilegedCreators: boolean;
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
  /** v2 (room versions 2–11) or v2.1 (v12, MSC4297: conflicted state subgraph, iterative checks from an empty state). */
  readonly stateResolution: 'v2' | 'v2.1';
  /** How messages are encoded: classic m.room.message, or MSC1767 extensible m.message. */
  readonly contentFormat: 'classic' | 'extensible';
  /** Whether the version is stable (advertised as such in m.room.create / capabilities). */
  readonly stability: 'stable' | 'unstable';
}
