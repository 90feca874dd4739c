// Connects the socket for the signed-in user and hands its events to whoever subscribed (the list, the dialog).
import { useCallback, useEffect, useRef, useState } from "react";
import { connectRealtime, type ConnectionState, type RealtimeSocket } from "../api/socket";
import type { ChatEvent, ChatModeEvent, ChatUpdatedEvent, MessageNewEvent } from "../api/types";

export type RealtimeEvent =
  | { kind: "message"; data: MessageNewEvent }
  | { kind: "created"; data: ChatEvent }
  | { kind: "updated"; data: ChatUpdatedEvent }
  | { kind: "mode"; data: ChatModeEvent }
  | { kind: "read"; data: ChatEvent }
  /** Connected again after a break: refetch what is shown, events may have been missed. */
  | { kind: "resynced" };

export type Listener = (event: RealtimeEvent) => void;
export type Subscribe = (listener: Listener) => () => void;

export function useRealtime(onRefused: () => void): { state: ConnectionState; subscribe: Subscribe } {
  const [state, setState] = useState<ConnectionState>("connecting");
  const listeners = useRef(new Set<Listener>());
  const refused = useRef(onRefused);
  refused.current = onRefused;

  const subscribe = useCallback<Subscribe>((listener) => {
    listeners.current.add(listener);
    return () => {
      listeners.current.delete(listener);
    };
  }, []);

  useEffect(() => {
    const emit = (event: RealtimeEvent) => listeners.current.forEach((listener) => listener(event));
    let retry: number | undefined;
    const socket: RealtimeSocket = connectRealtime({
      onState: setState,
      onSynced: (reconnected) => {
        if (reconnected) emit({ kind: "resynced" });
      },
      onRefused: () => {
        // Usually the session ended (the app then shows the login screen and this hook goes away); if the
        // session is fine after all, try again in a while rather than stay without live updates.
        setState("reconnecting");
        refused.current();
        retry = window.setTimeout(() => socket.connect(), 5000);
      },
    });
    socket.on("message.new", (data) => emit({ kind: "message", data }));
    socket.on("chat.created", (data) => emit({ kind: "created", data }));
    socket.on("chat.updated", (data) => emit({ kind: "updated", data }));
    socket.on("chat.mode", (data) => emit({ kind: "mode", data }));
    socket.on("chat.read", (data) => emit({ kind: "read", data }));

    // The browser knows about the network before the socket's timers do.
    const offline = () => setState("offline");
    const online = () => {
      if (socket.connected) {
        setState("connected");
        return;
      }
      setState("reconnecting");
      socket.connect();
    };
    window.addEventListener("offline", offline);
    window.addEventListener("online", online);
    return () => {
      window.removeEventListener("offline", offline);
      window.removeEventListener("online", online);
      window.clearTimeout(retry);
      socket.disconnect();
    };
  }, []);

  return { state, subscribe };
}
