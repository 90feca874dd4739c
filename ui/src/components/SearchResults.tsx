import { useEffect, useState } from "react";
import { ApiError, search } from "../api/client";
import type { ChatRow, Mode, SearchHit } from "../api/types";
import { dateAndTime } from "../lib/time";
import { Avatar } from "./Avatar";
import { BUYER_FALLBACK } from "./ChatRow";
import { Highlighted } from "./Highlighted";

interface Props {
  query: string;
  onOpen: (chat: ChatRow, messageId: number | null) => void;
}

const FILTERS: { mode: Mode | null; label: string }[] = [
  { mode: null, label: "Все" },
  { mode: "bot", label: "Бот" },
  { mode: "operator", label: "Оператор" },
];

function chatsWord(n: number): string {
  const mod10 = n % 10;
  const mod100 = n % 100;
  if (mod10 === 1 && mod100 !== 11) return "чат";
  if (mod10 >= 2 && mod10 <= 4 && (mod100 < 12 || mod100 > 14)) return "чата";
  return "чатов";
}

interface Results {
  total: number;
  exact: boolean;
  items: SearchHit[];
  cursor: string | null;
}

/** Full-text search over messages: chats with the matching fragments, newest first; a click opens the message. */
export function SearchResults({ query, onOpen }: Props) {
  const [mode, setMode] = useState<Mode | null>(null);
  const [results, setResults] = useState<Results | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    const controller = new AbortController();
    setBusy(true);
    setError(null);
    // Typing does not send a request per key: the last query wins after a short pause.
    const timer = window.setTimeout(() => {
      search(query, mode, null, controller.signal)
        .then((page) =>
          setResults({
            total: page.total_chats,
            exact: page.total_is_exact,
            items: page.items,
            cursor: page.next_cursor,
          }),
        )
        .catch((failure: unknown) => {
          if (controller.signal.aborted) return;
          setError(failure instanceof ApiError ? failure.message : "Поиск не удался. Повторите.");
        })
        .finally(() => {
          if (!controller.signal.aborted) setBusy(false);
        });
    }, 250);
    return () => {
      window.clearTimeout(timer);
      controller.abort();
    };
  }, [query, mode]);

  function more() {
    if (!results?.cursor) return;
    search(query, mode, results.cursor)
      .then((page) =>
        setResults((cur) => cur && { ...cur, items: [...cur.items, ...page.items], cursor: page.next_cursor }),
      )
      .catch((failure: unknown) =>
        setError(failure instanceof ApiError ? failure.message : "Не удалось загрузить ещё. Повторите."),
      );
  }

  return (
    <section className="search-results" aria-label="Результаты поиска" aria-busy={busy}>
      <div className="search-head">
        <div className="search-total" role="status">
          {results
            ? `Найдено ${results.total}${results.exact ? "" : "+"} ${chatsWord(results.total)}`
            : "Ищем…"}
        </div>
        <div className="chips" role="radiogroup" aria-label="Кто ведёт диалог">
          {FILTERS.map((filter) => (
            <button
              key={filter.label}
              type="button"
              role="radio"
              aria-checked={mode === filter.mode}
              className={`chip${mode === filter.mode ? " active" : ""}`}
              onClick={() => setMode(filter.mode)}
            >
              {filter.label}
            </button>
          ))}
        </div>
      </div>
      {error && (
        <p className="list-state" role="alert">
          {error}
        </p>
      )}
      {results && results.items.length === 0 && !busy && !error && (
        <p className="list-state">Ничего не нашлось. Попробуйте другое слово или уберите фильтр.</p>
      )}
      <ul className="search-list">
        {results?.items.map((hit) => (
          <SearchHitRow key={hit.chat.id} hit={hit} onOpen={onOpen} />
        ))}
      </ul>
      {results?.cursor && (
        <button type="button" className="button ghost wide" onClick={more}>
          Показать ещё
        </button>
      )}
    </section>
  );
}

function SearchHitRow({ hit, onOpen }: { hit: SearchHit; onOpen: Props["onOpen"] }) {
  const name = hit.chat.buyer?.name || BUYER_FALLBACK;
  return (
    <li className="search-hit">
      <button type="button" className="search-hit-chat" onClick={() => onOpen(hit.chat, null)}>
        <Avatar name={name} url={hit.chat.buyer?.avatar_url} size={40} />
        <span className="search-hit-title">
          <span className="chat-row-name">{name}</span>
          <span className="search-hit-sub">
            <span className={`status-pill ${hit.chat.mode}`}>{hit.chat.mode === "bot" ? "бот" : "оператор"}</span>
            <span className="search-hit-item">{hit.chat.item?.title ?? hit.chat.account_name}</span>
          </span>
        </span>
      </button>
      {hit.match_count > 0 && (
        <div className="search-hit-label">
          Совпадение в сообщениях{hit.match_count > 1 ? ` · ${hit.match_count}` : ""}
        </div>
      )}
      {hit.matches.map((match) => (
        <button
          key={match.message_id}
          type="button"
          className="search-match"
          onClick={() => onOpen(hit.chat, match.message_id)}
          aria-label={`Открыть сообщение от ${dateAndTime(match.created_at)}`}
        >
          <time dateTime={match.created_at}>{dateAndTime(match.created_at)}</time>
          <span className="search-match-text">
            {match.author_kind === "bot" && <span className="chat-row-author">Бот: </span>}
            <Highlighted text={match.text} highlights={match.highlights} />
          </span>
        </button>
      ))}
    </li>
  );
}
