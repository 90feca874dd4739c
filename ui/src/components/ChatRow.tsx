import { memo } from "react";
import type { ChatRow as Row } from "../api/types";
import { safeUrl } from "../lib/text";
import { shortWhen } from "../lib/time";
import { Avatar } from "./Avatar";

export const BUYER_FALLBACK = "Покупатель";

const AUTHOR_PREFIX: Partial<Record<NonNullable<Row["last_message_author"]>, string>> = {
  bot: "Бот: ",
  operator: "Вы: ",
};

interface Props {
  chat: Row;
  selected: boolean;
  onOpen: (chat: Row) => void;
}

/** One chat in the list: who, what was said last and when, the listing, the account, who leads it, unread. */
export const ChatRow = memo(function ChatRow({ chat, selected, onOpen }: Props) {
  const name = chat.buyer?.name || BUYER_FALLBACK;
  const thumb = safeUrl(chat.item?.image_url);
  const unread = chat.unread_count > 0;
  const preview = chat.last_message_text ?? "";
  const leader = chat.mode === "bot" ? "бот" : chat.operator_name ? `оператор · ${chat.operator_name}` : "оператор";
  return (
    <a
      href={`/chats/${chat.id}`}
      className={`chat-row${selected ? " selected" : ""}${unread ? " unread" : ""}`}
      aria-current={selected ? "page" : undefined}
      aria-label={`${name}${unread ? `, непрочитанных: ${chat.unread_count}` : ""}`}
      data-chat-id={chat.id}
      onClick={(event) => {
        if (event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) return; // new tab: as a link
        event.preventDefault();
        onOpen(chat);
      }}
    >
      <Avatar name={name} url={chat.buyer?.avatar_url} size={48} />
      <span className="chat-row-body">
        <span className="chat-row-line">
          <span className="chat-row-name">{name}</span>
          <time className="chat-row-time" dateTime={chat.last_message_at ?? undefined}>
            {shortWhen(chat.last_message_at)}
          </time>
        </span>
        <span className="chat-row-line">
          <span className="chat-row-preview">
            {chat.last_message_author && AUTHOR_PREFIX[chat.last_message_author] && (
              <span className="chat-row-author">{AUTHOR_PREFIX[chat.last_message_author]}</span>
            )}
            {preview}
          </span>
          {unread && (
            <span className="unread-badge" aria-hidden="true">
              {chat.unread_count > 99 ? "99+" : chat.unread_count}
            </span>
          )}
        </span>
        <span className="chat-row-line chat-row-meta">
          <span className={`status-pill ${chat.mode}`}>{leader}</span>
          <span className="chat-row-account">{chat.account_name}</span>
        </span>
      </span>
      {chat.item &&
        (thumb ? (
          <img className="chat-row-thumb" src={thumb} alt="" loading="lazy" decoding="async" title={chat.item.title} />
        ) : (
          <span className="chat-row-thumb placeholder" title={chat.item.title} aria-hidden="true" />
        ))}
    </a>
  );
});
