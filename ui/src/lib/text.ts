// Text the buyer wrote is only ever rendered as React text nodes; these helpers cut it into pieces.

/** Split `text` into plain and highlighted parts; offsets and lengths are in Unicode code points. */
export function highlightParts(text: string, highlights: [number, number][]): { text: string; hit: boolean }[] {
  const chars = Array.from(text);
  const parts: { text: string; hit: boolean }[] = [];
  let at = 0;
  for (const [offset, length] of [...highlights].sort((a, b) => a[0] - b[0])) {
    const start = Math.max(offset, at);
    const end = Math.min(offset + length, chars.length);
    if (end <= start) continue;
    if (start > at) parts.push({ text: chars.slice(at, start).join(""), hit: false });
    parts.push({ text: chars.slice(start, end).join(""), hit: true });
    at = end;
  }
  if (at < chars.length) parts.push({ text: chars.slice(at).join(""), hit: false });
  return parts;
}

/** Only http(s) links (and same-site paths) are followed; anything else (javascript:, data:) is dropped. */
export function safeUrl(url: unknown): string | null {
  if (typeof url !== "string" || !url) return null;
  try {
    const parsed = new URL(url, window.location.origin);
    return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
  } catch {
    return null;
  }
}

const URL_PATTERN = /https?:\/\/[^\s<>"']+[^\s<>"'.,;:!?)\]]/g;

/** Plain text with the http(s) links found in it, for rendering as text and <a> elements. */
export function linkParts(text: string): { text: string; href: string | null }[] {
  const parts: { text: string; href: string | null }[] = [];
  let at = 0;
  for (const match of text.matchAll(URL_PATTERN)) {
    const index = match.index ?? 0;
    if (index > at) parts.push({ text: text.slice(at, index), href: null });
    parts.push({ text: match[0], href: safeUrl(match[0]) });
    at = index + match[0].length;
  }
  if (at < text.length) parts.push({ text: text.slice(at), href: null });
  return parts;
}

/** Quick reply variables: {buyer_name}, {item_title}…; an unknown or empty one becomes an empty string. */
export function fillVariables(template: string, values: Record<string, string | null | undefined>): string {
  return template.replace(/\{([a-z_]+)\}/g, (_, name: string) => values[name] ?? "");
}

export function initials(name: string): string {
  const words = name.trim().split(/\s+/).filter(Boolean);
  return (words.length > 1 ? words[0][0] + words[1][0] : (words[0] ?? "?").slice(0, 2)).toUpperCase();
}
