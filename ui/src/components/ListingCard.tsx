import type { Item } from "../api/types";
import { safeUrl } from "../lib/text";

/** The listing the chat is about: photo, title, price, a link to it on Avito. */
export function ListingCard({ item }: { item: Item }) {
  const image = safeUrl(item.image_url);
  const url = safeUrl(item.url);
  const body = (
    <>
      {image ? <img className="listing-photo" src={image} alt="" /> : <span className="listing-photo placeholder" />}
      <span className="listing-text">
        <span className="listing-title">{item.title}</span>
        {item.price_text && <span className="listing-price">{item.price_text}</span>}
      </span>
    </>
  );
  return (
    <div className="listing-card" aria-label="Объявление">
      {url ? (
        <a className="listing-link" href={url} target="_blank" rel="noopener noreferrer" title="Открыть объявление на Авито">
          {body}
        </a>
      ) : (
        <div className="listing-link">{body}</div>
      )}
    </div>
  );
}
