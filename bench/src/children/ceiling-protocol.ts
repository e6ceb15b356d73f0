/**
 * Messages of the bare Socket.IO ceiling (sio-server.ts ↔ sio-client.ts): trivial tasks pushed
 * in batches, answered in batches — the orchestrator's message pattern with nothing else.
 */
export interface CeilingTask {
  id: number;
  a: number;
  b: number;
}

export interface CeilingResult {
  id: number;
  value: number;
}

export interface CeilingServerToClient {
  tasks: (tasks: CeilingTask[]) => void;
}

export interface CeilingClientToServer {
  results: (results: CeilingResult[]) => void;
}
