import { useEffect, useMemo, useRef, useState } from "react";
import { ApiError, deleteQuickReply, listQuickReplies } from "../api/client";
import type { QuickReply } from "../api/types";
import { fillVariables } from "../lib/text";
import { CloseIcon, PencilIcon, PlusIcon, TrashIcon } from "./icons";
import { QuickReplyForm } from "./QuickReplyForm";

interface Props {
  accountId: number;
  accountName: string;
  /** Admins change every reply and may make shared ones; operators only their accounts' replies. */
  isAdmin: boolean;
  variables: Record<string, string | null | undefined>;
  onPick: (reply: QuickReply) => void;
  onClose: () => void;
}

type View = { kind: "list" } | { kind: "form"; reply: QuickReply | null };

const cache = new Map<number, QuickReply[]>();

/** The server's order: shared first, then by account and title. */
function sorted(replies: QuickReply[]): QuickReply[] {
  const key = (r: QuickReply) => (r.account_id === null ? -1 : r.account_id);
  return [...replies].sort(
    (a, b) => key(a) - key(b) || a.title.toLowerCase().localeCompare(b.title.toLowerCase(), "ru") || a.id - b.id,
  );
}

/** Saved replies (shared and this account's): type to filter, arrows and Enter or a tap to insert; add, change and
 * delete the ones the user may. A popover above the input on a desktop, a bottom sheet on a phone. */
export function QuickReplies({ accountId, accountName, isAdmin, variables, onPick, onClose }: Props) {
  const [replies, setReplies] = useState<QuickReply[] | null>(cache.get(accountId) ?? null);
  const [error, setError] = useState<string | null>(null);
  const [query, setQuery] = useState("");
  const [active, setActive] = useState(0);
  const [view, setView] = useState<View>({ kind: "list" });
  const [confirming, setConfirming] = useState<number | null>(null);
  const [deleting, setDeleting] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  const list = useRef<HTMLUListElement>(null);

  useEffect(() => {
    listQuickReplies(accountId)
      .then((found) => {
        cache.set(accountId, found);
        setReplies(found);
      })
      .catch((failure: unknown) =>
        setError(failure instanceof ApiError ? failure.message : "Не удалось загрузить быстрые ответы. Повторите."),
      );
  }, [accountId]);

  useEffect(() => {
    // On a phone the focused search would raise the keyboard over half the sheet before the user asked to type.
    if (view.kind === "list" && !window.matchMedia("(pointer: coarse)").matches) input.current?.focus();
  }, [view]);

  const shown = useMemo(() => {
    const needle = query.trim().toLowerCase();
    return (replies ?? []).filter(
      (r) => !needle || r.title.toLowerCase().includes(needle) || r.text.toLowerCase().includes(needle),
    );
  }, [replies, query]);

  useEffect(() => {
    list.current?.querySelector('[aria-selected="true"]')?.scrollIntoView({ block: "nearest" });
  }, [active, shown]);

  const mayChange = (reply: QuickReply) => isAdmin || reply.account_id !== null;

  function replace(next: QuickReply[]) {
    // Shared replies show in every account's list: other accounts' cached lists may be stale now.
    cache.clear();
    cache.set(accountId, next);
    setReplies(next);
  }

  function saved(reply: QuickReply) {
    const next = sorted([...(replies ?? []).filter((r) => r.id !== reply.id), reply]);
    replace(next);
    setQuery("");
    setActive(next.findIndex((r) => r.id === reply.id));
    setView({ kind: "list" });
  }

  async function remove(reply: QuickReply) {
    setDeleting(true);
    setError(null);
    try {
      await deleteQuickReply(reply.id);
      replace((replies ?? []).filter((r) => r.id !== reply.id));
      setActive(0);
    } catch (failure) {
      setError(failure instanceof ApiError ? failure.message : "Не удалось удалить. Повторите.");
    } finally {
      setDeleting(false);
      setConfirming(null);
      input.current?.focus();
    }
  }

  function onKeyDown(event: React.KeyboardEvent) {
    if (event.key === "ArrowDown") setActive((i) => Math.min(i + 1, shown.length - 1));
    else if (event.key === "ArrowUp") setActive((i) => Math.max(i - 1, 0));
    else if (event.key === "Enter" && !event.nativeEvent.isComposing && shown[active]) onPick(shown[active]);
    else if (event.key === "Escape") onClose();
    else return;
    event.preventDefault();
  }

  if (view.kind === "form") {
    return (
      <>
        <div className="sheet-backdrop" onClick={onClose} aria-hidden="true" />
        <div className="popover quick-replies" role="dialog" aria-label="Быстрый ответ">
          <QuickReplyForm
            reply={view.reply}
            accountId={accountId}
            accountName={accountName}
            canShare={isAdmin}
            variables={variables}
            onSaved={saved}
            onCancel={() => setView({ kind: "list" })}
          />
        </div>
      </>
    );
  }

  return (
    <>
      <div className="sheet-backdrop" onClick={onClose} aria-hidden="true" />
      <div className="popover quick-replies" role="dialog" aria-label="Быстрые ответы">
        <div className="sheet-head">
          <h3>Быстрые ответы</h3>
          <button type="button" className="icon-button small" aria-label="Закрыть быстрые ответы" onClick={onClose}>
            <CloseIcon />
          </button>
        </div>
        <div className="quick-toolbar">
          <input
            ref={input}
            className="quick-search"
            type="search"
            placeholder="Найти ответ"
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
          <button type="button" className="button secondary quick-add" onClick={() => setView({ kind: "form", reply: null })}>
            <PlusIcon width={18} height={18} />
            Добавить
          </button>
        </div>
        {error && (
          <p className="popover-empty quick-error" role="alert">
            {error}
          </p>
        )}
        {replies === null && !error && <p className="popover-empty">Загружаем…</p>}
        {replies !== null && shown.length === 0 && (
          <p className="popover-empty">
            {replies.length === 0
              ? "Быстрых ответов пока нет. Нажмите «Добавить», чтобы создать первый."
              : "Ничего не нашлось. Измените запрос."}
          </p>
        )}
        <ul id="quick-reply-list" ref={list} role="listbox" aria-label="Быстрые ответы" className="quick-list">
          {shown.map((reply, i) =>
            confirming === reply.id ? (
              <li key={reply.id} role="none" className="quick-item confirming">
                <div
                  id={`quick-reply-${reply.id}`}
                  role="option"
                  aria-selected={i === active}
                  className="quick-confirm"
                  onKeyDown={(e) => {
                    if (e.key !== "Escape") return;
                    e.stopPropagation(); // cancels the question only, the popover stays
                    setConfirming(null);
                    input.current?.focus();
                  }}
                >
                  <span>Удалить быстрый ответ?</span>
                  <strong>{reply.title}</strong>
                  <div className="quick-confirm-actions">
                    <button
                      type="button"
                      className="button"
                      autoFocus
                      onClick={() => {
                        setConfirming(null);
                        input.current?.focus();
                      }}
                    >
                      Отмена
                    </button>
                    <button type="button" className="button danger" disabled={deleting} onClick={() => void remove(reply)}>
                      Удалить
                    </button>
                  </div>
                </div>
              </li>
            ) : (
              <li key={reply.id} role="none" className={`quick-item${i === active ? " active" : ""}`}>
                <div
                  id={`quick-reply-${reply.id}`}
                  role="option"
                  aria-selected={i === active}
                  className="quick-option"
                  onMouseEnter={() => setActive(i)}
                  onClick={() => onPick(reply)}
                >
                  <strong>
                    {reply.title}
                    {reply.account_id === null && <small className="quick-shared">для всех</small>}
                  </strong>
                  <span>{fillVariables(reply.text, variables)}</span>
                </div>
                {mayChange(reply) && (
                  <div className="quick-actions">
                    <button
                      type="button"
                      className="icon-button small"
                      aria-label={`Изменить «${reply.title}»`}
                      title="Изменить"
                      onClick={() => setView({ kind: "form", reply })}
                    >
                      <PencilIcon width={18} height={18} />
                    </button>
                    <button
                      type="button"
                      className="icon-button small"
                      aria-label={`Удалить «${reply.title}»`}
                      title="Удалить"
                      onClick={() => setConfirming(reply.id)}
                    >
                      <TrashIcon width={18} height={18} />
                    </button>
                  </div>
                )}
              </li>
            ),
          )}
        </ul>
      </div>
    </>
  );
}
