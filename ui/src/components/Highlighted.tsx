import { highlightParts } from "../lib/text";

/** Text with the search matches marked; the offsets come from the server, the text stays text. */
export function Highlighted({ text, highlights }: { text: string; highlights: [number, number][] }) {
  return (
    <>
      {highlightParts(text, highlights).map((part, i) => (part.hit ? <mark key={i}>{part.text}</mark> : part.text))}
    </>
  );
}
