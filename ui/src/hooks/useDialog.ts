// One open chat's messages: the latest page (or the page around a search hit), older and newer pages on scroll,
// events merged in, and optimistic sends that a failed request turns into «not sent — retry».
import { useCallback, useEffect, useRef, useState } from "react";
import { ApiError, listMessages, newRequestId, sendImage, sendText, type MessageAnchor } from "../api/client";
import type { Message } from "../api/types";

export interface LocalSend {
  requestId: string;
  state: "sending" | "failed";
  file?: File;
  previewUrl?: string;
}

/** A message as shown: a stored one, or one of ours on its way (negative id). */
export interface ShownMessage extends Message {
  local?: LocalSend;
}

interface DialogState {
  messages: ShownMessage[];
  hasOlder: boolean;
  hasNewer: boolean;
  loading: boolean;
  error: string | null;
}

const INITIAL: DialogState = { messages: [], hasOlder: false, hasNewer: false, loading: true, error: null };
export const SEND_FAILED = "Не удалось отправить сообщение. Проверьте соединение и повторите.";

function byTime(a: Message, b: Message): number {
  return Date.parse(a.created_at) - Date.parse(b.created_at) || a.id - b.id;
}

/** Stored messages merged by id and in order; our pending ones stay at the end. */
function merge(current: ShownMessage[], incoming: Message[]): ShownMessage[] {
  const stored = new Map<number, ShownMessage>();
  for (const m of current) if (!m.local) stored.set(m.id, m);
  for (const m of incoming) stored.set(m.id, m);
  return [...[...stored.values()].sort(byTime), ...current.filter((m) => m.local)];
}

export interface Dialog extends DialogState {
  loadOlder: () => void;
  loadNewer: () => void;
  reload: () => void;
  receive: (message: Message) => void;
  send: (text: string) => void;
  sendFile: (file: File) => void;
  retry: (requestId: string) => void;
  discard: (requestId: string) => void;
}

export function useDialog(
  chatId: number | null,
  aroundId: number | null,
  myUserId: number,
  onError: (text: string) => void,
): Dialog {
  const [state, setState] = useState<DialogState>(INITIAL);
  const generation = useRef(0);
  const paging = useRef(false);
  const latest = useRef(state);
  latest.current = state;
  const nextLocalId = useRef(-1);
  const openChat = useRef(chatId);
  openChat.current = chatId;

  const load = useCallback(
    (anchor: MessageAnchor) => {
      if (chatId === null) return;
      const mine = ++generation.current;
      setState((s) => ({ ...s, loading: true, error: null }));
      listMessages(chatId, anchor)
        .then((page) => {
          if (mine !== generation.current) return;
          // Messages that arrived by event while the page was on its way stay, unless the page is an older stretch.
          const newest = page.items.length ? page.items[page.items.length - 1].id : 0;
          setState((s) => ({
            messages: merge(
              s.messages.filter((m) => m.local || (!page.has_newer && m.id > newest)),
              page.items,
            ),
            hasOlder: page.has_older,
            hasNewer: page.has_newer,
            loading: false,
            error: null,
          }));
        })
        .catch((error: unknown) => {
          if (mine !== generation.current) return;
          const text = error instanceof ApiError ? error.message : "Не удалось загрузить сообщения. Повторите.";
          setState((s) => ({ ...s, loading: false, error: text }));
        });
    },
    [chatId],
  );

  useEffect(() => {
    setState(INITIAL);
    load(aroundId !== null ? { around: aroundId } : {});
  }, [load, aroundId]);

  const reload = useCallback(() => load(latest.current.hasNewer && aroundId !== null ? { around: aroundId } : {}), [
    load,
    aroundId,
  ]);

  const page = useCallback(
    (direction: "older" | "newer") => {
      const s = latest.current;
      const stored = s.messages.filter((m) => !m.local);
      if (chatId === null || paging.current || s.loading || stored.length === 0) return;
      if (direction === "older" ? !s.hasOlder : !s.hasNewer) return;
      paging.current = true;
      const mine = generation.current;
      const anchor = direction === "older" ? { before: stored[0].id } : { after: stored[stored.length - 1].id };
      listMessages(chatId, anchor)
        .then((result) => {
          if (mine !== generation.current) return;
          setState((cur) => ({
            ...cur,
            messages: merge(cur.messages, result.items),
            hasOlder: direction === "older" ? result.has_older : cur.hasOlder,
            hasNewer: direction === "newer" ? result.has_newer : cur.hasNewer,
          }));
        })
        .catch(() => undefined) // scrolling again retries
        .finally(() => {
          paging.current = false;
        });
    },
    [chatId],
  );

  const receive = useCallback(
    (message: Message) =>
      setState((s) => {
        // Viewing an older stretch of history: the newest messages come with the next page instead.
        if (s.hasNewer) return s;
        let messages = s.messages;
        if (message.direction === "out" && message.author_user_id === myUserId) {
          // Our own send, echoed before its request answered: it replaces the pending copy.
          const pending = messages.find(
            (m) => m.local?.state === "sending" && m.type === message.type && (m.type !== "text" || m.text === message.text),
          );
          if (pending) messages = messages.filter((m) => m !== pending);
        }
        return { ...s, messages: merge(messages, [message]) };
      }),
    [myUserId],
  );

  const deliver = useCallback(
    (local: ShownMessage) => {
      if (chatId === null || !local.local) return;
      const { requestId, file } = local.local;
      const request = file ? sendImage(chatId, file, requestId) : sendText(chatId, local.text ?? "", requestId);
      request
        .then(({ messages }) => {
          if (openChat.current !== chatId) return; // another chat is open by now; this one reloads when reopened
          setState((s) => ({
            ...s,
            messages: merge(
              s.messages.filter((m) => m.local?.requestId !== requestId),
              messages,
            ),
          }));
        })
        .catch((error: unknown) => {
          // The server's own words when the request itself was wrong (file too large, wrong type); otherwise
          // the general advice.
          onError(error instanceof ApiError && [400, 413, 415, 422].includes(error.status) ? error.message : SEND_FAILED);
          if (openChat.current !== chatId) return;
          setState((s) => ({
            ...s,
            messages: s.messages.map((m) =>
              m.local?.requestId === requestId ? { ...m, local: { ...m.local, state: "failed" } } : m,
            ),
          }));
        });
    },
    [chatId, onError],
  );

  const enqueue = useCallback(
    (partial: Pick<Message, "type" | "text" | "content">, file?: File) => {
      if (chatId === null) return;
      const local: ShownMessage = {
        id: nextLocalId.current--,
        chat_id: chatId,
        avito_message_id: null,
        direction: "out",
        author_kind: "operator",
        created_at: new Date().toISOString(),
        author_user_id: myUserId,
        ...partial,
        local: {
          requestId: newRequestId(),
          state: "sending",
          file,
          previewUrl: file ? URL.createObjectURL(file) : undefined,
        },
      };
      setState((s) => ({ ...s, messages: [...s.messages, local] }));
      deliver(local);
    },
    [chatId, myUserId, deliver],
  );

  const send = useCallback((text: string) => enqueue({ type: "text", text, content: { text } }), [enqueue]);
  const sendFile = useCallback((file: File) => enqueue({ type: "image", text: null, content: {} }, file), [enqueue]);

  const retry = useCallback(
    (requestId: string) => {
      const failed = latest.current.messages.find((m) => m.local?.requestId === requestId);
      if (!failed?.local) return;
      const again: ShownMessage = { ...failed, local: { ...failed.local, state: "sending" } };
      setState((s) => ({ ...s, messages: s.messages.map((m) => (m === failed ? again : m)) }));
      deliver(again); // the same request_id: if the first attempt did reach the server, it is not sent twice
    },
    [deliver],
  );

  const discard = useCallback(
    (requestId: string) =>
      setState((s) => ({ ...s, messages: s.messages.filter((m) => m.local?.requestId !== requestId) })),
    [],
  );

  return {
    ...state,
    loadOlder: () => page("older"),
    loadNewer: () => page("newer"),
    reload,
    receive,
    send,
    sendFile,
    retry,
    discard,
  };
}
