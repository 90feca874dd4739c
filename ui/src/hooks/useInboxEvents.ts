// What the socket's events do to the screen: rows updated or fetched and put in place, the open chat kept
// current, and the sound and notification for a buyer's message.
import { useCallback, useEffect, useRef, type Dispatch, type SetStateAction } from "react";
import * as api from "../api/client";
import type { ChatRow, Message, Preferences } from "../api/types";
import { BUYER_FALLBACK } from "../components/ChatRow";
import { notify, playMessageSound } from "../lib/alerts";
import { messagePreview } from "../lib/messages";
import type { ChatList } from "./useChatList";
import type { RealtimeEvent, Subscribe } from "./useRealtime";

interface Options {
  subscribe: Subscribe;
  list: ChatList;
  selected: Set<number>;
  accountsLoaded: boolean;
  prefs: Preferences;
  openChat: ChatRow | null;
  setOpenChat: Dispatch<SetStateAction<ChatRow | null>>;
  onNotificationClick: (chatId: number) => void;
}

export function useInboxEvents({
  subscribe,
  list,
  selected,
  accountsLoaded,
  prefs,
  openChat,
  setOpenChat,
  onNotificationClick,
}: Options): void {
  // Events are handled with the latest state, whatever render the socket's callbacks were made in.
  const current = useRef({ selected, prefs, openChat, list, accountsLoaded });
  current.current = { selected, prefs, openChat, list, accountsLoaded };
  const rowTimers = useRef(new Map<number, number>());

  const refreshRow = useCallback((chatId: number) => {
    // A burst of events for one chat (message, updated, read) costs one request.
    window.clearTimeout(rowTimers.current.get(chatId));
    rowTimers.current.set(
      chatId,
      window.setTimeout(() => {
        rowTimers.current.delete(chatId);
        api
          .getChat(chatId)
          .then((row) => {
            current.current.list.upsert(row);
            setOpenChat((open) => (open && open.id === row.id ? row : open));
          })
          .catch(() => undefined);
      }, 150),
    );
  }, []);

  useEffect(() => {
    const timers = rowTimers.current;
    return () => timers.forEach((timer) => window.clearTimeout(timer));
  }, []);

  const alertBuyerMessage = useCallback(
    (chatId: number, message: Message) => {
      const { prefs, openChat, list } = current.current;
      if (prefs.sound) playMessageSound();
      if (prefs.notifications && document.hidden) {
        const row = list.has(chatId) ?? (openChat?.id === chatId ? openChat : undefined);
        notify(row?.buyer?.name || BUYER_FALLBACK, messagePreview(message), `chat-${chatId}`, () =>
          onNotificationClick(chatId),
        );
      }
    },
    [onNotificationClick],
  );

  useEffect(
    () =>
      subscribe((event: RealtimeEvent) => {
        const { selected, openChat, list, accountsLoaded } = current.current;
        if (event.kind === "resynced") {
          list.reload();
          if (openChat) refreshRow(openChat.id);
          return;
        }
        // Unticked accounts are out of sight: no rows, no sounds.
        if (accountsLoaded && !selected.has(event.data.account_id)) return;
        switch (event.kind) {
          case "message": {
            const { chat_id: chatId, message } = event.data;
            const fromBuyer = message.author_kind === "client";
            const watching = openChat?.id === chatId && !document.hidden;
            if (list.has(chatId)) {
              list.update(chatId, (row) => ({
                ...row,
                last_message_at: message.created_at,
                last_message_text: messagePreview(message),
                last_message_author: message.author_kind,
                unread_count: fromBuyer && !watching ? row.unread_count + 1 : row.unread_count,
              }));
            } else refreshRow(chatId);
            if (openChat?.id === chatId)
              setOpenChat((row) => row && { ...row, last_message_at: message.created_at });
            if (fromBuyer) {
              alertBuyerMessage(chatId, message);
              if (watching) api.markRead(chatId).catch(() => undefined);
              list.refreshCounts();
            }
            break;
          }
          case "read":
            list.update(event.data.chat_id, (row) => ({ ...row, unread_count: 0 }));
            list.refreshCounts();
            break;
          case "created":
          case "updated":
          case "mode":
            refreshRow(event.data.chat_id);
            list.refreshCounts();
            break;
        }
      }),
    [subscribe, refreshRow, alertBuyerMessage],
  );
}
