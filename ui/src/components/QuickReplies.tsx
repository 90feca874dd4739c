import { useEffect, useMemo, useRef, useState } from "react";
import { ApiError, listQuickReplies } from "../api/client";
import type { QuickReply } from "../api/types";
import { fillVariables } from "../lib/text";

interface Props {
  accountId: number;
  variables: Record<string, string | null | undefined>;
  onPick: (reply: QuickReply) => void;
  onClose: () => void;
}

const cache = new Map<number, QuickReply[]>();

/** Saved replies (shared and this account's): type to filter, arrows and Enter or a tap to insert. */
export function QuickReplies({ accountId, variables, onPick, onClose }: Props) {
  const [replies, setReplies] = useState<QuickReply[] | null>(cache.get(accountId) ?? null);
  const [error, setError] = useState<string | null>(null);
  const [query, setQuery] = useState("");
  const [active, setActive] = useState(0);
  const input = useRef<HTMLInputElement>(null);

  useEffect(() => {
    input.current?.focus();
    listQuickReplies(accountId)
      .then((found) => {
        cache.set(accountId, found);
        setReplies(found);
      })
      .catch((failure: unknown) =>
        setError(failure instanceof ApiError ? failure.message : "Не удалось загрузить быстрые ответы. Повторите."),
      );
  }, [accountId]);

  const shown = useMemo(() => {
    const needle = query.trim().toLowerCase();
    return (replies ?? []).filter(
      (r) => !needle || r.title.toLowerCase().includes(needle) || r.text.toLowerCase().includes(needle),
    );
  }, [replies, query]);

  function onKeyDown(event: React.KeyboardEvent) {
    if (event.key === "ArrowDown") setActive((i) => Math.min(i + 1, shown.length - 1));
    else if (event.key === "ArrowUp") setActive((i) => Math.max(i - 1, 0));
    else if (event.key === "Enter" && shown[active]) onPick(shown[active]);
    else if (event.key === "Escape") onClose();
    else return;
    event.preventDefault();
  }

  return (
    <div className="popover quick-replies" role="dialog" aria-label="Быстрые ответы">
      <input
        ref={input}
        className="quick-search"
        type="search"
        placeholder="Поиск по быстрым ответам"
        aria-label="Поиск по быстрым ответам"
        value={query}
        onChange={(e) => {
          setQuery(e.target.value);
          setActive(0);
        }}
        onKeyDown={onKeyDown}
        role="combobox"
        aria-expanded="true"
        aria-controls="quick-reply-list"
        aria-activedescendant={shown[active] ? `quick-reply-${shown[active].id}` : undefined}
      />
      {error && (
        <p className="popover-empty" role="alert">
          {error}
        </p>
      )}
      {replies === null && !error && <p className="popover-empty">Загружаем…</p>}
      {replies !== null && shown.length === 0 && (
        <p className="popover-empty">
          {replies.length === 0
            ? "Быстрых ответов пока нет. Их добавляет администратор."
            : "Ничего не нашлось. Измените запрос."}
        </p>
      )}
      <ul id="quick-reply-list" role="listbox" className="quick-list">
        {shown.map((reply, i) => (
          <li
            key={reply.id}
            id={`quick-reply-${reply.id}`}
            role="option"
            aria-selected={i === active}
            className={i === active ? "active" : undefined}
            onMouseEnter={() => setActive(i)}
            onClick={() => onPick(reply)}
          >
            <strong>{reply.title}</strong>
            <span>{fillVariables(reply.text, variables)}</span>
          </li>
        ))}
      </ul>
    </div>
  );
}
