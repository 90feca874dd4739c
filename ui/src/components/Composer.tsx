import { useRef, useState, type KeyboardEvent } from "react";
import type { QuickReply } from "../api/types";
import { usePopover } from "../hooks/usePopover";
import { fillVariables } from "../lib/text";
import { BoltIcon, ClipIcon, SendIcon } from "./icons";
import { QuickReplies } from "./QuickReplies";
import { useToast } from "./Toasts";

const MAX_IMAGE_BYTES = 24 * 1024 * 1024;
const IMAGE_TYPES = ".jpg,.jpeg,.png,.gif,.bmp,.heic,image/jpeg,image/png,image/gif,image/bmp,image/heic";

interface Props {
  accountId: number;
  accountName: string;
  /** Admins manage every quick reply (shared ones too); operators those of their accounts. */
  isAdmin: boolean;
  /** Values for quick reply variables: {buyer_name}, {item_title}, {item_price}, {account_name}, {operator_name}. */
  variables: Record<string, string | null | undefined>;
  onSend: (text: string) => void;
  onSendImage: (file: File) => void;
}

/** The input: Enter sends (Shift+Enter is a new line), the clip attaches a photo, the lightning opens quick replies. */
export function Composer({ accountId, accountName, isAdmin, variables, onSend, onSendImage }: Props) {
  const [text, setText] = useState("");
  const area = useRef<HTMLTextAreaElement>(null);
  const fileInput = useRef<HTMLInputElement>(null);
  const quick = usePopover<HTMLDivElement>();
  const toast = useToast();

  function grow() {
    const el = area.current;
    if (!el) return;
    el.style.height = "auto";
    el.style.height = `${Math.min(el.scrollHeight, 160)}px`;
  }

  function submit() {
    const value = text.trim();
    if (!value) return;
    onSend(value);
    setText("");
    requestAnimationFrame(grow);
    area.current?.focus();
  }

  function onKeyDown(event: KeyboardEvent<HTMLTextAreaElement>) {
    if (event.key === "Enter" && !event.shiftKey && !event.nativeEvent.isComposing) {
      event.preventDefault();
      submit();
    }
  }

  function insert(reply: QuickReply) {
    const filled = fillVariables(reply.text, variables);
    const el = area.current;
    const start = el?.selectionStart ?? text.length;
    const end = el?.selectionEnd ?? text.length;
    const next = text.slice(0, start) + filled + text.slice(end);
    setText(next);
    quick.setOpen(false);
    requestAnimationFrame(() => {
      grow();
      el?.focus();
      el?.setSelectionRange(start + filled.length, start + filled.length);
    });
  }

  function attach(files: FileList | null) {
    for (const file of Array.from(files ?? [])) {
      if (file.size > MAX_IMAGE_BYTES) {
        toast(`Файл «${file.name}» больше 24 МБ: уменьшите его и отправьте снова.`);
        continue;
      }
      onSendImage(file);
    }
    if (fileInput.current) fileInput.current.value = "";
  }

  return (
    <div className="composer">
      <div className="popover-anchor" ref={quick.ref}>
        {quick.open && (
          <QuickReplies
            accountId={accountId}
            accountName={accountName}
            isAdmin={isAdmin}
            variables={variables}
            onPick={insert}
            onClose={() => quick.setOpen(false)}
          />
        )}
        <button
          type="button"
          className={`icon-button${quick.open ? " active" : ""}`}
          aria-label="Быстрые ответы"
          aria-expanded={quick.open}
          onClick={() => quick.setOpen(!quick.open)}
        >
          <BoltIcon />
        </button>
      </div>
      <button type="button" className="icon-button" aria-label="Прикрепить фото" onClick={() => fileInput.current?.click()}>
        <ClipIcon />
      </button>
      <input
        ref={fileInput}
        type="file"
        accept={IMAGE_TYPES}
        multiple
        hidden
        aria-label="Фото для отправки"
        onChange={(e) => attach(e.target.files)}
      />
      <textarea
        ref={area}
        className="composer-input"
        rows={1}
        placeholder="Написать сообщение…"
        aria-label="Сообщение"
        value={text}
        onChange={(e) => {
          setText(e.target.value);
          grow();
        }}
        onKeyDown={onKeyDown}
        onPaste={(e) => {
          if (e.clipboardData.files.length) {
            e.preventDefault();
            attach(e.clipboardData.files);
          }
        }}
      />
      <button type="button" className="send-button" aria-label="Отправить" disabled={!text.trim()} onClick={submit}>
        <SendIcon />
      </button>
    </div>
  );
}
