// Reading Avito's message content (a loose JSON object) safely, and the one-line preview of a message.
import type { Message } from "../api/types";

export function field(content: Record<string, unknown>, ...path: string[]): unknown {
  let value: unknown = content;
  for (const key of path) {
    if (!value || typeof value !== "object") return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

export function text(content: Record<string, unknown>, ...path: string[]): string | null {
  const value = field(content, ...path);
  return typeof value === "string" && value ? value : null;
}

export interface ImageSize {
  url: string;
  width: number;
  height: number;
}

/** The image's sizes ("640x480": url), smallest first. */
export function imageSizes(content: Record<string, unknown>): ImageSize[] {
  const sizes = field(content, "image", "sizes");
  if (!sizes || typeof sizes !== "object") return [];
  const found: ImageSize[] = [];
  for (const [key, url] of Object.entries(sizes as Record<string, unknown>)) {
    const match = /^(\d+)x(\d+)$/.exec(key);
    if (match && typeof url === "string") found.push({ url, width: Number(match[1]), height: Number(match[2]) });
  }
  return found.sort((a, b) => a.width - b.width);
}

/** The smallest size at least `width` wide (or the largest there is). */
export function pickSize(sizes: ImageSize[], width: number): ImageSize | null {
  return sizes.find((s) => s.width >= width) ?? sizes[sizes.length - 1] ?? null;
}

const PREVIEW_BY_TYPE: Record<string, string> = {
  image: "Фото",
  voice: "Голосовое сообщение",
  location: "Местоположение",
  item: "Объявление",
  call: "Звонок",
  deleted: "Сообщение удалено",
  file: "Файл",
  video: "Видео",
};

export function messagePreview(message: Pick<Message, "type" | "text" | "content">): string {
  if (message.text) return message.text;
  const fromContent = text(message.content, "text");
  if (fromContent) return fromContent;
  return PREVIEW_BY_TYPE[message.type] ?? "Сообщение";
}
