import { memo, type ReactNode } from "react";
import type { ShownMessage } from "../hooks/useDialog";
import { imageSizes, pickSize, text as textOf } from "../lib/messages";
import { linkParts, safeUrl } from "../lib/text";
import { clock } from "../lib/time";
import { BotIcon, PhoneIcon, PinIcon } from "./icons";
import { VoicePlayer } from "./VoicePlayer";

interface Props {
  message: ShownMessage;
  highlighted: boolean;
  onOpenImage: (url: string) => void;
  onRetry: (requestId: string) => void;
  onDiscard: (requestId: string) => void;
  onImageLoad: () => void;
}

/** Text with its http(s) links clickable; everything else stays plain text (never markup). */
function RichText({ value }: { value: string }) {
  return (
    <span className="bubble-text">
      {linkParts(value).map((part, i) =>
        part.href ? (
          <a key={i} href={part.href} target="_blank" rel="noopener noreferrer nofollow">
            {part.text}
          </a>
        ) : (
          part.text
        ),
      )}
    </span>
  );
}

function ImageContent({ message, onOpenImage, onImageLoad }: Pick<Props, "message" | "onOpenImage" | "onImageLoad">) {
  const sizes = imageSizes(message.content);
  const shown = message.local?.previewUrl
    ? { url: message.local.previewUrl, width: 0, height: 0 }
    : pickSize(sizes, 480);
  const large = pickSize(sizes, 1280)?.url ?? shown?.url;
  const src = shown && (message.local?.previewUrl ?? safeUrl(shown.url));
  if (!src) return <span className="bubble-muted">Фото недоступно</span>;
  return (
    <button type="button" className="bubble-image" aria-label="Открыть фото" onClick={() => onOpenImage(safeUrl(large) ?? src)}>
      <img
        src={src}
        alt="Фото"
        width={shown.width || undefined}
        height={shown.height || undefined}
        loading="lazy"
        onLoad={onImageLoad}
      />
    </button>
  );
}

function LocationContent({ content }: { content: Record<string, unknown> }) {
  const lat = Number(content.lat);
  const lon = Number(content.lon);
  const title = textOf(content, "title") ?? "Местоположение";
  const address = textOf(content, "text");
  const map = Number.isFinite(lat) && Number.isFinite(lon) ? `https://yandex.ru/maps/?pt=${lon},${lat}&z=16&l=map` : null;
  return (
    <div className="card-content">
      <PinIcon className="card-icon" />
      <span className="card-lines">
        <strong>{title}</strong>
        {address && <span>{address}</span>}
        {map && (
          <a href={map} target="_blank" rel="noopener noreferrer">
            Открыть на карте
          </a>
        )}
      </span>
    </div>
  );
}

function LinkContent({ content }: { content: Record<string, unknown> }) {
  const url = safeUrl(content.url);
  const label = textOf(content, "text") ?? url ?? "";
  const title = textOf(content, "preview", "title");
  const description = textOf(content, "preview", "description");
  return (
    <>
      <RichText value={label} />
      {(title || description) && (
        <a className="link-preview" href={url ?? undefined} target="_blank" rel="noopener noreferrer nofollow">
          {title && <strong>{title}</strong>}
          {description && <span>{description}</span>}
        </a>
      )}
    </>
  );
}

function ItemContent({ content }: { content: Record<string, unknown> }) {
  const url = safeUrl(content.item_url);
  const image = safeUrl(content.image_url);
  return (
    <a className="item-card" href={url ?? undefined} target="_blank" rel="noopener noreferrer">
      {image && <img src={image} alt="" />}
      <span className="card-lines">
        <strong>{textOf(content, "title") ?? "Объявление"}</strong>
        {textOf(content, "price_string") && <span>{textOf(content, "price_string")}</span>}
      </span>
    </a>
  );
}

const CALL_STATUS: Record<string, string> = { missed: "Пропущенный звонок", declined: "Отклонённый звонок" };

function body(message: ShownMessage, props: Props): ReactNode {
  const { content } = message;
  switch (message.type) {
    case "text":
      return <RichText value={message.text ?? textOf(content, "text") ?? ""} />;
    case "image":
      return <ImageContent message={message} onOpenImage={props.onOpenImage} onImageLoad={props.onImageLoad} />;
    case "voice": {
      const voiceId = textOf(content, "voice_id");
      return voiceId ? <VoicePlayer chatId={message.chat_id} voiceId={voiceId} /> : <span className="bubble-muted">Голосовое сообщение</span>;
    }
    case "location":
      return <LocationContent content={content} />;
    case "link":
      return <LinkContent content={content} />;
    case "item":
      return <ItemContent content={content} />;
    case "call":
      return (
        <span className="card-content">
          <PhoneIcon className="card-icon" />
          {CALL_STATUS[String(content.status)] ?? "Звонок"}
        </span>
      );
    case "deleted":
      return <span className="bubble-muted">Сообщение удалено</span>;
    default:
      return <span className="bubble-muted">Сообщение этого типа можно посмотреть в приложении Авито</span>;
  }
}

/** One message: the buyer's on the left, ours (bot or operator) on the right, system notes in the middle. */
export const MessageBubble = memo(function MessageBubble(props: Props) {
  const { message, highlighted } = props;
  if (message.author_kind === "system" || message.type === "system") {
    return (
      <div className="system-message" role="note" data-message-id={message.id}>
        {message.text ?? textOf(message.content, "text") ?? "Системное сообщение"}
      </div>
    );
  }
  const ours = message.direction === "out";
  const local = message.local;
  const media = message.type === "image";
  return (
    <div
      className={`message ${ours ? "ours" : "theirs"}${highlighted ? " highlighted" : ""}`}
      data-message-id={message.id}
      data-author={message.author_kind}
    >
      <div className={`bubble${media ? " media" : ""}${message.author_kind === "bot" ? " bot" : ""}`}>
        {message.author_kind === "bot" && (
          <span className="bot-mark">
            <BotIcon width={14} height={14} /> Бот
          </span>
        )}
        {body(message, props)}
        <span className="bubble-meta">
          {local?.state === "sending" ? (
            <span className="sending" aria-label="Отправляется">
              ···
            </span>
          ) : local?.state === "failed" ? null : (
            <time dateTime={message.created_at}>{clock(message.created_at)}</time>
          )}
        </span>
      </div>
      {local?.state === "failed" && (
        <div className="send-failed" role="alert">
          Не отправлено.
          <button type="button" className="link-button" onClick={() => props.onRetry(local.requestId)}>
            Повторить
          </button>
          <button type="button" className="link-button muted" onClick={() => props.onDiscard(local.requestId)}>
            Удалить
          </button>
        </div>
      )}
    </div>
  );
});
