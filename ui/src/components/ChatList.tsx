import { useVirtualizer } from "@tanstack/react-virtual";
import { useEffect, useRef } from "react";
import type { ChatRow as Row } from "../api/types";
import { ChatRow } from "./ChatRow";

export const ROW_HEIGHT = 84;

interface Props {
  chats: Row[];
  selectedId: number | null;
  loading: boolean;
  error: string | null;
  hasMore: boolean;
  emptyText: string;
  onOpen: (chat: Row) => void;
  onLoadMore: () => void;
  onRetry: () => void;
}

/** The chats as a virtualised list: only the rows on screen are in the DOM, so thousands of chats scroll smoothly. */
export function ChatList({ chats, selectedId, loading, error, hasMore, emptyText, onOpen, onLoadMore, onRetry }: Props) {
  const scroller = useRef<HTMLDivElement>(null);
  const virtualizer = useVirtualizer({
    count: chats.length,
    getScrollElement: () => scroller.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 8,
    getItemKey: (index) => chats[index].id,
  });
  const rows = virtualizer.getVirtualItems();
  const lastShown = rows.length ? rows[rows.length - 1].index : -1;

  useEffect(() => {
    if (hasMore && lastShown >= chats.length - 15) onLoadMore();
  }, [hasMore, lastShown, chats.length, onLoadMore]);

  if (error && chats.length === 0) {
    return (
      <div className="list-state" role="alert">
        <p>{error}</p>
        <button type="button" className="button" onClick={onRetry}>
          Повторить
        </button>
      </div>
    );
  }
  if (!loading && chats.length === 0) {
    return <div className="list-state">{emptyText}</div>;
  }
  return (
    <div className="chat-list" ref={scroller} role="list" aria-label="Чаты" aria-busy={loading}>
      {loading && chats.length === 0 && <ChatListSkeleton />}
      <div style={{ height: virtualizer.getTotalSize(), position: "relative" }}>
        {rows.map((item) => (
          <div
            key={item.key}
            role="listitem"
            className="chat-list-item"
            style={{ height: item.size, transform: `translateY(${item.start}px)` }}
          >
            <ChatRow chat={chats[item.index]} selected={chats[item.index].id === selectedId} onOpen={onOpen} />
          </div>
        ))}
      </div>
    </div>
  );
}

function ChatListSkeleton() {
  return (
    <div aria-hidden="true">
      {Array.from({ length: 8 }, (_, i) => (
        <div key={i} className="chat-row skeleton">
          <span className="avatar" />
          <span className="chat-row-body">
            <span className="bar" style={{ width: "45%" }} />
            <span className="bar" style={{ width: "80%" }} />
          </span>
        </div>
      ))}
    </div>
  );
}
