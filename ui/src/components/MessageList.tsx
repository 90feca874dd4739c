import { Fragment, useCallback, useLayoutEffect, useRef, useState } from "react";
import type { ShownMessage } from "../hooks/useDialog";
import { dayKey, dayLabel } from "../lib/time";
import { ImageViewer } from "./ImageViewer";
import { MessageBubble } from "./MessageBubble";

interface Props {
  messages: ShownMessage[];
  loading: boolean;
  error: string | null;
  hasOlder: boolean;
  hasNewer: boolean;
  /** A search hit: scrolled to and marked once loaded. */
  focusId: number | null;
  onOlder: () => void;
  onNewer: () => void;
  onRetry: (requestId: string) => void;
  onDiscard: (requestId: string) => void;
  onReload: () => void;
}

const NEAR = 120; // px from an edge that counts as "at the edge"

/** The history: stays at the bottom as messages arrive, keeps its place when older pages load above. */
export function MessageList(props: Props) {
  const { messages, loading, error, hasOlder, hasNewer, focusId } = props;
  const scroller = useRef<HTMLDivElement>(null);
  const atBottom = useRef(true);
  const lastHeight = useRef(0);
  const firstId = useRef<number | null>(null);
  const focused = useRef<number | null>(null);
  const [viewer, setViewer] = useState<string | null>(null);
  const closeViewer = useCallback(() => setViewer(null), []);

  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const first = messages[0]?.id ?? null;
    if (focusId !== null && focused.current !== focusId && messages.some((m) => m.id === focusId)) {
      focused.current = focusId;
      el.querySelector(`[data-message-id="${focusId}"]`)?.scrollIntoView({ block: "center" });
      atBottom.current = false;
    } else if (firstId.current !== null && first !== firstId.current && lastHeight.current) {
      el.scrollTop += el.scrollHeight - lastHeight.current; // older messages above: keep what was in view
    } else if (atBottom.current) {
      el.scrollTop = el.scrollHeight;
    }
    firstId.current = first;
    lastHeight.current = el.scrollHeight;
  }, [messages, focusId]);

  const onScroll = useCallback(() => {
    const el = scroller.current;
    if (!el) return;
    atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < NEAR && !hasNewer;
    lastHeight.current = el.scrollHeight;
    if (el.scrollTop < NEAR && hasOlder) props.onOlder();
    if (el.scrollHeight - el.scrollTop - el.clientHeight < NEAR && hasNewer) props.onNewer();
  }, [hasOlder, hasNewer, props]);

  const onImageLoad = useCallback(() => {
    const el = scroller.current;
    if (el && atBottom.current) el.scrollTop = el.scrollHeight;
    if (el) lastHeight.current = el.scrollHeight;
  }, []);

  return (
    <>
    <div className="messages" ref={scroller} onScroll={onScroll} role="log" aria-label="Сообщения" aria-busy={loading}>
      {hasOlder && <div className="messages-more">Загружаем более ранние сообщения…</div>}
      {error && (
        <div className="list-state" role="alert">
          <p>{error}</p>
          <button type="button" className="button" onClick={props.onReload}>
            Повторить
          </button>
        </div>
      )}
      {!loading && !error && messages.length === 0 && <div className="list-state">Сообщений пока нет.</div>}
      {messages.map((message, i) => {
        const newDay = i === 0 || dayKey(messages[i - 1].created_at) !== dayKey(message.created_at);
        return (
          <Fragment key={message.local?.requestId ?? message.id}>
            {newDay && (
              <div className="day-separator">
                <span>{dayLabel(message.created_at)}</span>
              </div>
            )}
            <MessageBubble
              message={message}
              highlighted={message.id === focusId}
              onOpenImage={setViewer}
              onRetry={props.onRetry}
              onDiscard={props.onDiscard}
              onImageLoad={onImageLoad}
            />
          </Fragment>
        );
      })}
    </div>
    {viewer && <ImageViewer url={viewer} onClose={closeViewer} />}
    </>
  );
}
