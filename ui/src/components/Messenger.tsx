import { useCallback, useEffect, useMemo, useState } from "react";
import * as api from "../api/client";
import type { Account, ChatRow, Mode, Preferences, Tab, User } from "../api/types";
import { TAB_MODE, useChatList } from "../hooks/useChatList";
import { useInboxEvents } from "../hooks/useInboxEvents";
import { useRealtime } from "../hooks/useRealtime";
import { useRoute } from "../hooks/useRoute";
import { askNotificationPermissionOnce, preloadSound } from "../lib/alerts";
import { AccountsFilter } from "./AccountsFilter";
import { ChatList } from "./ChatList";
import { ConnectionStatus } from "./ConnectionStatus";
import { Dialog } from "./Dialog";
import { ChatsIcon, CloseIcon, SearchIcon } from "./icons";
import { SearchResults } from "./SearchResults";
import { useToast } from "./Toasts";
import { UserMenu } from "./UserMenu";

interface Props {
  me: { user: User };
  onSignedOut: () => void;
}

const TABS: { id: Tab; label: string }[] = [
  { id: "bot", label: "Бот" },
  { id: "mine", label: "Мои" },
];

/** The messenger: the chat list (or search results) on the left, the open dialog on the right. */
export function Messenger({ me, onSignedOut }: Props) {
  const user = me.user;
  const toast = useToast();
  const [accounts, setAccounts] = useState<Account[]>([]);
  const [selected, setSelected] = useState<Set<number>>(new Set());
  const [accountsLoaded, setAccountsLoaded] = useState(false);
  const [prefs, setPrefs] = useState<Preferences>({ sound: true, notifications: true });
  const [tab, setTab] = useState<Tab>("bot");
  const [query, setQuery] = useState("");
  const [openChat, setOpenChat] = useState<ChatRow | null>(null);
  const [switching, setSwitching] = useState(false);
  const { route, openChat: navigateToChat, closeChat } = useRoute();
  const selectionKey = useMemo(() => [...selected].sort((a, b) => a - b).join(","), [selected]);
  const list = useChatList(tab, selectionKey, accountsLoaded);
  const realtime = useRealtime(() => void api.me().catch(() => undefined)); // a 401 there shows the login screen

  useEffect(() => {
    preloadSound();
    api
      .listAccounts()
      .then((found) => {
        setAccounts(found);
        setSelected(new Set(found.filter((a) => a.selected).map((a) => a.id)));
      })
      .catch((error: unknown) => toast(error instanceof api.ApiError ? error.message : "Не удалось загрузить аккаунты."))
      .finally(() => setAccountsLoaded(true));
    api
      .getPreferences()
      .then(setPrefs)
      .catch(() => undefined); // defaults: sound and notifications on
  }, [toast]);

  // Browsers ask for the notification permission only after a user gesture; once per browser.
  useEffect(() => {
    if (!prefs.notifications) return;
    const ask = () => askNotificationPermissionOnce();
    document.addEventListener("pointerdown", ask, { once: true });
    return () => document.removeEventListener("pointerdown", ask);
  }, [prefs.notifications]);

  // The open chat: from the list when it is there, otherwise fetched (a reload, a search hit, a notification).
  useEffect(() => {
    if (route.chatId === null) {
      setOpenChat(null);
      return;
    }
    if (openChat?.id === route.chatId) return;
    const known = list.has(route.chatId);
    if (known) {
      setOpenChat(known);
      return;
    }
    let cancelled = false;
    api
      .getChat(route.chatId)
      .then((row) => !cancelled && setOpenChat(row))
      .catch((error: unknown) => {
        if (cancelled) return;
        toast(error instanceof api.ApiError ? error.message : "Не удалось открыть чат. Повторите.");
        closeChat();
      });
    return () => {
      cancelled = true;
    };
  }, [route.chatId]); // only the address decides which chat is open; the rest is read as it is now

  const markRead = useCallback(
    (chat: ChatRow) => {
      if (chat.unread_count === 0) return;
      list.update(chat.id, (row) => ({ ...row, unread_count: 0 }));
      setOpenChat((row) => (row && row.id === chat.id ? { ...row, unread_count: 0 } : row));
      api.markRead(chat.id).then(list.refreshCounts, () => undefined);
    },
    [list],
  );

  // The open chat in view is read: when it opens, and when its row (loaded or refreshed later) says otherwise.
  const rowUnread = openChat ? (list.has(openChat.id)?.unread_count ?? 0) : 0;
  const openUnread = openChat ? Math.max(openChat.unread_count, rowUnread) : 0;
  useEffect(() => {
    if (openChat && openUnread > 0 && !document.hidden) markRead({ ...openChat, unread_count: openUnread });
  }, [openChat?.id, openUnread]); // markRead changes with the list; reading again is not wanted

  // Back to a background tab with the chat open: what arrived meanwhile is read now.
  useEffect(() => {
    const onVisible = () => {
      if (document.hidden || !openChat) return;
      markRead(list.has(openChat.id) ?? openChat);
    };
    document.addEventListener("visibilitychange", onVisible);
    return () => document.removeEventListener("visibilitychange", onVisible);
  }, [openChat, list, markRead]);

  useInboxEvents({
    subscribe: realtime.subscribe,
    list,
    selected,
    accountsLoaded,
    prefs,
    openChat,
    setOpenChat,
    onNotificationClick: navigateToChat,
  });

  const open = useCallback(
    (chat: ChatRow, messageId: number | null = null) => {
      setOpenChat(chat);
      navigateToChat(chat.id, messageId);
    },
    [navigateToChat],
  );

  const changeAccounts = useCallback(
    (next: Set<number>) => {
      const previous = selected;
      setSelected(next);
      const all = accounts.every((a) => next.has(a.id));
      api.setSelectedAccounts(all ? null : [...next]).then(
        () => list.reload(),
        (error: unknown) => {
          setSelected(previous);
          toast(error instanceof api.ApiError ? error.message : "Не удалось сохранить выбор аккаунтов. Повторите.");
        },
      );
    },
    [accounts, selected, list, toast],
  );

  const changePrefs = useCallback(
    (change: Partial<Preferences>) => {
      const previous = prefs;
      setPrefs({ ...prefs, ...change });
      if (change.notifications) askNotificationPermissionOnce();
      api.setPreferences(change).then(setPrefs, (error: unknown) => {
        setPrefs(previous);
        toast(error instanceof api.ApiError ? error.message : "Не удалось сохранить настройку. Повторите.");
      });
    },
    [prefs, toast],
  );

  const switchMode = useCallback(
    (mode: Mode) => {
      if (!openChat) return;
      setSwitching(true);
      api
        .setMode(openChat.id, mode)
        .then((row) => {
          setOpenChat(row);
          list.upsert(row);
          list.refreshCounts();
          toast(mode === "operator" ? "Диалог передан вам: бот больше не отвечает." : "Диалог передан боту.", "info");
        })
        .catch((error: unknown) =>
          toast(error instanceof api.ApiError ? error.message : "Не удалось передать диалог. Повторите."),
        )
        .finally(() => setSwitching(false));
    },
    [openChat, list, toast],
  );

  const signOut = useCallback(() => {
    api
      .logout()
      .catch(() => undefined)
      .finally(onSignedOut);
  }, [onSignedOut]);

  const counts = list.counts;
  const unreadTotal = counts ? counts.bot.unread + counts.mine.unread : 0;
  useEffect(() => {
    document.title = unreadTotal > 0 ? `(${unreadTotal}) Сообщения — avibot` : "Сообщения — avibot";
  }, [unreadTotal]);

  const searching = query.trim().length > 0;
  return (
    <div className="app" data-view={route.chatId !== null ? "dialog" : "list"}>
      <aside className="sidebar" aria-label="Чаты">
        <header className="sidebar-top">
          <h1 className="brand">Сообщения</h1>
          <UserMenu user={user} prefs={prefs} connection={realtime.state} onChange={changePrefs} onSignOut={signOut} />
        </header>
        <div className="search-box">
          <SearchIcon className="search-icon" width={20} height={20} />
          <input
            type="search"
            placeholder="Поиск или новый чат"
            aria-label="Поиск или новый чат"
            value={query}
            onChange={(e) => setQuery(e.target.value)}
          />
          {searching && (
            <button type="button" className="icon-button small" aria-label="Очистить поиск" onClick={() => setQuery("")}>
              <CloseIcon width={18} height={18} />
            </button>
          )}
        </div>
        {searching ? (
          <SearchResults query={query.trim()} onOpen={open} />
        ) : (
          <>
            <div className="list-toolbar">
              <div className="tabs" role="tablist" aria-label="Кто ведёт чаты">
                {TABS.map((t) => {
                  const unread = counts?.[t.id].unread ?? 0;
                  return (
                    <button
                      key={t.id}
                      type="button"
                      role="tab"
                      aria-selected={tab === t.id}
                      title={counts ? `Чатов: ${counts[t.id].chats}` : undefined}
                      className={`tab${tab === t.id ? " active" : ""}`}
                      onClick={() => setTab(t.id)}
                    >
                      {t.label}
                      {unread > 0 && (
                        <span className="unread-badge small" aria-label={`непрочитанных: ${unread}`}>
                          {unread > 99 ? "99+" : unread}
                        </span>
                      )}
                    </button>
                  );
                })}
              </div>
              <AccountsFilter accounts={accounts} selected={selected} onChange={changeAccounts} />
            </div>
            <ConnectionStatus state={realtime.state} />
            <ChatList
              chats={list.items}
              selectedId={route.chatId}
              loading={list.loading}
              error={list.error}
              hasMore={list.nextCursor !== null}
              emptyText={
                selected.size === 0 && accounts.length > 0
                  ? "Не выбран ни один аккаунт. Отметьте аккаунты в списке «Аккаунты»."
                  : TAB_MODE[tab] === "bot"
                    ? "Здесь появятся чаты, которые ведёт бот."
                    : "Здесь появятся чаты, переданные операторам."
              }
              onOpen={open}
              onLoadMore={list.loadMore}
              onRetry={list.reload}
            />
          </>
        )}
      </aside>
      <main className="dialog-pane">
        {openChat && route.chatId === openChat.id ? (
          <Dialog
            key={openChat.id}
            chat={openChat}
            focusMessageId={route.messageId}
            user={user}
            switching={switching}
            subscribe={realtime.subscribe}
            onBack={closeChat}
            onSwitch={switchMode}
          />
        ) : (
          <div className="dialog-empty">
            <ChatsIcon width={56} height={56} />
            <p>{route.chatId !== null ? "Открываем чат…" : "Выберите чат, чтобы начать переписку"}</p>
          </div>
        )}
      </main>
    </div>
  );
}
