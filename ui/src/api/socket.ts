// The one Socket.io connection: the session cookie authenticates it; events arrive for the rooms of the
// accounts the user may see. After every reconnect the app resyncs and refetches what it shows, so nothing
// published while the connection was down is lost.
import { io, type Socket } from "socket.io-client";
import type { ChatEvent, ChatModeEvent, ChatUpdatedEvent, MessageNewEvent } from "./types";

export type ConnectionState = "connecting" | "connected" | "reconnecting" | "offline";

export interface ServerEvents {
  ready: (data: { accounts: number[] }) => void;
  "message.new": (data: MessageNewEvent) => void;
  "chat.created": (data: ChatEvent) => void;
  "chat.updated": (data: ChatUpdatedEvent) => void;
  "chat.mode": (data: ChatModeEvent) => void;
  "chat.read": (data: ChatEvent) => void;
}

export interface ClientEvents {
  resync: (ack: (data: { accounts: number[] }) => void) => void;
}

export type RealtimeSocket = Socket<ServerEvents, ClientEvents>;

export interface RealtimeHandlers {
  onState: (state: ConnectionState) => void;
  /** After the first connect and after every reconnect: refetch whatever is on screen. */
  onSynced: (reconnected: boolean) => void;
  /** The server refused the connection (the session ended). */
  onRefused: () => void;
}

export function connectRealtime(handlers: RealtimeHandlers): RealtimeSocket {
  const socket: RealtimeSocket = io({
    path: "/socket.io",
    withCredentials: true,
    reconnectionDelay: 500,
    reconnectionDelayMax: 5000,
  });
  let everConnected = false;
  handlers.onState("connecting");

  socket.on("connect", () => {
    handlers.onState("connected");
    const reconnected = everConnected;
    everConnected = true;
    if (reconnected) socket.emit("resync", () => handlers.onSynced(true));
    else handlers.onSynced(false);
  });
  socket.on("disconnect", (reason) => {
    if (reason === "io client disconnect") return;
    handlers.onState(navigator.onLine ? "reconnecting" : "offline");
  });
  socket.on("connect_error", () => {
    // A refusal by the server (not a network failure) means the session is gone.
    if (!socket.active) {
      handlers.onRefused();
      return;
    }
    handlers.onState(navigator.onLine ? "reconnecting" : "offline");
  });
  return socket;
}
