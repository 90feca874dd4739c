import { useEffect, useRef } from "react";
import { CloseIcon } from "./icons";

/** A photo full-screen; Escape, the cross or a click beside the photo closes it. */
export function ImageViewer({ url, onClose }: { url: string; onClose: () => void }) {
  const close = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    const previous = document.activeElement as HTMLElement | null;
    close.current?.focus();
    const onKey = (event: KeyboardEvent) => {
      if (event.key === "Escape") onClose();
    };
    document.addEventListener("keydown", onKey);
    return () => {
      document.removeEventListener("keydown", onKey);
      previous?.focus();
    };
  }, [onClose]);
  return (
    <div className="viewer" role="dialog" aria-modal="true" aria-label="Просмотр фото" onClick={onClose}>
      <img src={url} alt="Фото из переписки" onClick={(e) => e.stopPropagation()} />
      <button ref={close} type="button" className="icon-button viewer-close" aria-label="Закрыть просмотр" onClick={onClose}>
        <CloseIcon />
      </button>
    </div>
  );
}
