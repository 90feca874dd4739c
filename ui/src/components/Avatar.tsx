import { useState } from "react";
import { safeUrl, initials } from "../lib/text";

const COLORS = ["#ffd6a5", "#caffbf", "#bde0fe", "#ffc6ff", "#d0f4de", "#fde2e4", "#e2ece9", "#fff1b6"];

function colorOf(name: string): string {
  let hash = 0;
  for (const ch of name) hash = (hash * 31 + ch.charCodeAt(0)) | 0;
  return COLORS[Math.abs(hash) % COLORS.length];
}

/** The buyer's round photo, or their initials on a soft colour when there is none (or it fails to load). */
export function Avatar({ name, url, size = 48 }: { name: string; url: string | null | undefined; size?: number }) {
  const [broken, setBroken] = useState(false);
  const src = safeUrl(url);
  const style = { width: size, height: size, fontSize: Math.round(size * 0.36) };
  if (src && !broken) {
    return <img className="avatar" src={src} alt="" style={style} loading="lazy" decoding="async" onError={() => setBroken(true)} />;
  }
  return (
    <span className="avatar avatar-initials" style={{ ...style, background: colorOf(name) }} aria-hidden="true">
      {initials(name)}
    </span>
  );
}
