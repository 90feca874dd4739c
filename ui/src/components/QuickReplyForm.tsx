import { useEffect, useRef, useState, type FormEvent, type KeyboardEvent } from "react";
import { ApiError, createQuickReply, updateQuickReply, type QuickReplyDraft } from "../api/client";
import type { QuickReply } from "../api/types";
import { fillVariables } from "../lib/text";
import { BackIcon } from "./icons";

/** What the browser fills in when a reply is inserted (see fillVariables), in the words an operator uses. */
const VARIABLES: { name: string; label: string }[] = [
  { name: "buyer_name", label: "Имя покупателя" },
  { name: "item_title", label: "Объявление" },
  { name: "item_price", label: "Цена" },
  { name: "account_name", label: "Аккаунт" },
  { name: "operator_name", label: "Ваше имя" },
];

interface Props {
  /** The reply being edited, or null for a new one. */
  reply: QuickReply | null;
  accountId: number;
  accountName: string;
  /** Admins may make a reply shared (account_id null); operators write only for the chat's account. */
  canShare: boolean;
  variables: Record<string, string | null | undefined>;
  onSaved: (reply: QuickReply) => void;
  onCancel: () => void;
}

/** Add or change one quick reply: title, text with variables, and (for admins) where it is offered. */
export function QuickReplyForm({ reply, accountId, accountName, canShare, variables, onSaved, onCancel }: Props) {
  const [title, setTitle] = useState(reply?.title ?? "");
  const [text, setText] = useState(reply?.text ?? "");
  const [shared, setShared] = useState(reply ? reply.account_id === null : false);
  const [error, setError] = useState<string | null>(null);
  const [saving, setSaving] = useState(false);
  const titleInput = useRef<HTMLInputElement>(null);
  const textArea = useRef<HTMLTextAreaElement>(null);

  useEffect(() => titleInput.current?.focus(), []);

  async function save(event?: FormEvent) {
    event?.preventDefault();
    if (saving) return;
    setSaving(true);
    setError(null);
    // The server checks lengths and rights and answers in Russian; its message is shown as is.
    const draft: Partial<QuickReplyDraft> = { title, text };
    if (canShare || !reply) draft.account_id = shared ? null : (reply?.account_id ?? accountId);
    try {
      onSaved(reply ? await updateQuickReply(reply.id, draft) : await createQuickReply(draft as QuickReplyDraft));
    } catch (failure) {
      setError(failure instanceof ApiError ? failure.message : "Не удалось сохранить. Повторите.");
      setSaving(false);
    }
  }

  function insertVariable(name: string) {
    const el = textArea.current;
    const token = `{${name}}`;
    const start = el?.selectionStart ?? text.length;
    const end = el?.selectionEnd ?? text.length;
    setText(text.slice(0, start) + token + text.slice(end));
    requestAnimationFrame(() => {
      el?.focus();
      el?.setSelectionRange(start + token.length, start + token.length);
    });
  }

  function onKeyDown(event: KeyboardEvent) {
    if (event.key === "Escape") {
      // Esc leaves the form for the list; the popover itself stays open (its own Esc handler must not see it).
      event.preventDefault();
      event.stopPropagation();
      onCancel();
    } else if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      void save();
    }
  }

  const preview = /\{[a-z_]+\}/.test(text) ? fillVariables(text, variables) : null;

  return (
    <form className="quick-form" onSubmit={save} onKeyDown={onKeyDown} noValidate aria-label="Быстрый ответ">
      <div className="quick-form-head">
        <button type="button" className="icon-button small" aria-label="Назад к быстрым ответам" onClick={onCancel}>
          <BackIcon />
        </button>
        <h3>{reply ? "Изменить быстрый ответ" : "Новый быстрый ответ"}</h3>
      </div>
      <div className="quick-form-body">
        <label className="field">
          Название
          <input
            ref={titleInput}
            value={title}
            onChange={(e) => {
              setTitle(e.target.value);
              setError(null);
            }}
            placeholder="Например: Приветствие"
            autoComplete="off"
          />
        </label>
        <label className="field">
          Текст
          <textarea
            ref={textArea}
            rows={4}
            value={text}
            onChange={(e) => {
              setText(e.target.value);
              setError(null);
            }}
            placeholder="Здравствуйте, {buyer_name}! Товар в наличии."
            aria-describedby="quick-variables-hint"
          />
        </label>
        <div className="quick-variables">
          <p id="quick-variables-hint">
            Нажмите, чтобы вставить переменную — в чате она заменится значением:
          </p>
          <div className="quick-variable-list">
            {VARIABLES.map((v) => (
              <button
                key={v.name}
                type="button"
                className="variable-chip"
                title={`{${v.name}}`}
                aria-label={`Вставить {${v.name}} — ${v.label.toLowerCase()}`}
                onClick={() => insertVariable(v.name)}
              >
                {v.label}
              </button>
            ))}
          </div>
        </div>
        {preview !== null && (
          <p className="quick-preview">
            <span>В этом чате:</span> {preview}
          </p>
        )}
        {canShare ? (
          <div className="quick-scope-choice">
            <span id="quick-scope-label">Где предлагать</span>
            <div className="chips" role="radiogroup" aria-labelledby="quick-scope-label">
              {[
                { value: true, label: "Для всех аккаунтов" },
                { value: false, label: accountName },
              ].map((choice) => (
              <button
                key={choice.label}
                type="button"
                role="radio"
                aria-checked={shared === choice.value}
                className={`chip${shared === choice.value ? " active" : ""}`}
                onClick={() => setShared(choice.value)}
              >
                {choice.label}
              </button>
              ))}
            </div>
          </div>
        ) : (
          <p className="quick-scope">
            {reply?.account_id === null ? "Общий ответ для всех аккаунтов" : `Для аккаунта «${accountName}»`}
          </p>
        )}
        {error && (
          <p className="form-error" role="alert">
            {error}
          </p>
        )}
      </div>
      <div className="quick-form-actions">
        <button type="button" className="button" onClick={onCancel}>
          Отмена
        </button>
        <button type="submit" className="button primary" disabled={saving}>
          {saving ? "Сохраняем…" : "Сохранить"}
        </button>
      </div>
    </form>
  );
}
