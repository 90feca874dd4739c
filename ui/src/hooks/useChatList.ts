// The chat list of one tab: the first page, more pages on scroll, and rows put in place as events arrive.
import { useCallback, useEffect, useRef, useState } from "react";
import { ApiError, listChats } from "../api/client";
import type { ChatRow, Mode, Tab, TabCounts } from "../api/types";

export const TAB_MODE: Record<Tab, Mode> = { bot: "bot", mine: "operator" };

interface ListState {
  items: ChatRow[];
  nextCursor: string | null;
  counts: Record<Tab, TabCounts> | null;
  loading: boolean;
  error: string | null;
}

const EMPTY: ListState = { items: [], nextCursor: null, counts: null, loading: true, error: null };

function newerFirst(a: ChatRow, b: ChatRow): number {
  const at = a.last_message_at ? Date.parse(a.last_message_at) : 0;
  const bt = b.last_message_at ? Date.parse(b.last_message_at) : 0;
  return bt - at || b.id - a.id;
}

/** `row` put where it belongs in `items` (or taken out when it belongs to the other tab). */
function place(items: ChatRow[], row: ChatRow, tab: Tab, hasMore: boolean): ChatRow[] {
  const rest = items.filter((r) => r.id !== row.id);
  if (row.mode !== TAB_MODE[tab]) return rest;
  const index = rest.findIndex((r) => newerFirst(row, r) < 0);
  // Older than everything loaded while more pages remain: the row arrives with its page.
  if (index === -1) return hasMore ? rest : [...rest, row];
  return [...rest.slice(0, index), row, ...rest.slice(index)];
}

export interface ChatList extends ListState {
  reload: () => void;
  loadMore: () => void;
  upsert: (row: ChatRow) => void;
  update: (chatId: number, change: (row: ChatRow) => ChatRow) => void;
  has: (chatId: number) => ChatRow | undefined;
  refreshCounts: () => void;
}

export function useChatList(tab: Tab, selectionKey: string, enabled: boolean): ChatList {
  const [state, setState] = useState<ListState>(EMPTY);
  const generation = useRef(0);
  const loadingMore = useRef(false);
  const countsTimer = useRef<number | undefined>(undefined);
  const latest = useRef(state);
  latest.current = state;

  const reload = useCallback(() => {
    const mine = ++generation.current;
    setState((s) => ({ ...s, loading: true, error: null }));
    listChats(tab, null)
      .then((page) => {
        if (mine !== generation.current) return;
        setState({ items: page.items, nextCursor: page.next_cursor, counts: page.counts, loading: false, error: null });
      })
      .catch((error: unknown) => {
        if (mine !== generation.current) return;
        const text = error instanceof ApiError ? error.message : "Не удалось загрузить чаты. Обновите страницу.";
        setState((s) => ({ ...s, loading: false, error: text }));
      });
  }, [tab]);

  useEffect(() => {
    if (!enabled) return;
    setState(EMPTY);
    reload();
  }, [reload, selectionKey, enabled]);

  const loadMore = useCallback(() => {
    const { nextCursor, loading } = latest.current;
    if (!nextCursor || loading || loadingMore.current) return;
    loadingMore.current = true;
    const mine = generation.current;
    listChats(tab, nextCursor)
      .then((page) => {
        if (mine !== generation.current) return;
        setState((s) => {
          const known = new Set(s.items.map((r) => r.id));
          return {
            ...s,
            items: [...s.items, ...page.items.filter((r) => !known.has(r.id))],
            nextCursor: page.next_cursor,
            counts: page.counts ?? s.counts,
          };
        });
      })
      .catch(() => undefined) // the next scroll tries again
      .finally(() => {
        loadingMore.current = false;
      });
  }, [tab]);

  const upsert = useCallback(
    (row: ChatRow) => setState((s) => ({ ...s, items: place(s.items, row, tab, s.nextCursor !== null) })),
    [tab],
  );

  const update = useCallback(
    (chatId: number, change: (row: ChatRow) => ChatRow) =>
      setState((s) => {
        const row = s.items.find((r) => r.id === chatId);
        return row ? { ...s, items: place(s.items, change(row), tab, s.nextCursor !== null) } : s;
      }),
    [tab],
  );

  const has = useCallback((chatId: number) => latest.current.items.find((r) => r.id === chatId), []);

  // Counts change with every event; one small request a moment after a burst keeps the tabs' numbers right.
  const refreshCounts = useCallback(() => {
    window.clearTimeout(countsTimer.current);
    countsTimer.current = window.setTimeout(() => {
      const mine = generation.current;
      listChats(tab, null, 1)
        .then((page) => {
          if (mine === generation.current) setState((s) => ({ ...s, counts: page.counts ?? s.counts }));
        })
        .catch(() => undefined);
    }, 400);
  }, [tab]);

  useEffect(() => () => window.clearTimeout(countsTimer.current), []);

  return { ...state, reload, loadMore, upsert, update, has, refreshCounts };
}
