/** Live updates pushed to subscribers (the UI via Comlink, the simulator, tests). */
export type Update =
  | { kind: 'event'; roomId: string; eventId: string; status: string; stream: number }
  | { kind: 'room'; roomId: string }
  | { kind: 'invite'; roomId: string; userId: string; sender: string }
  | { kind: 'typing'; roomId: string; userIds: string[] }
  | { kind: 'receipt'; roomId: string; userId: string; eventId: string }
  | { kind: 'presence'; userId: string; presence: string }
  | { kind: 'network'; peer: string; up: boolean };

export type UpdateListener = (update: Update) => void;
