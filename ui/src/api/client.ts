// The one module that talks to the REST API: typed functions, the CSRF header on state-changing requests, and
// errors turned into ApiError with a Russian `detail` that says what to do.
import type {
  Account,
  ChatPage,
  ChatRow,
  Me,
  Message,
  MessagePage,
  Mode,
  Preferences,
  QuickReply,
  SearchPage,
  Tab,
} from "./types";

const BASE = "/api/v1";

export class ApiError extends Error {
  readonly status: number;
  constructor(status: number, detail: string) {
    super(detail);
    this.status = status;
    this.name = "ApiError";
  }
}

const FALLBACK: Record<number, string> = {
  0: "Нет связи с сервером. Проверьте подключение к интернету и повторите.",
  401: "Войдите в систему, чтобы продолжить.",
  403: "Недостаточно прав для этого действия. Обратитесь к администратору.",
  404: "Не найдено: возможно, чат удалён или вам больше не доступен. Обновите список.",
  413: "Файл слишком большой: можно отправить изображение до 24 МБ.",
  415: "Этот тип файла не поддерживается: отправьте изображение JPEG, PNG, GIF, BMP или HEIC.",
  429: "Слишком много запросов. Подождите немного и повторите.",
};

function fallbackDetail(status: number): string {
  return FALLBACK[status] ?? "Ошибка на сервере. Повторите через минуту; если не помогает — сообщите администратору.";
}

/** The server's Russian message: `detail` per the contract (`error` is what the app's handlers send too). */
function messageOf(payload: unknown): string | null {
  if (!payload || typeof payload !== "object") return null;
  for (const key of ["detail", "error"]) {
    const value = (payload as Record<string, unknown>)[key];
    if (typeof value === "string" && value) return value;
  }
  return null;
}

let csrfToken = "";
let unauthorizedHandler: (() => void) | null = null;

export function setCsrfToken(token: string): void {
  csrfToken = token;
}

/** Called on any 401 (the session ended): the app shows the login screen. */
export function onUnauthorized(handler: (() => void) | null): void {
  unauthorizedHandler = handler;
}

type Query = Record<string, string | number | boolean | (string | number)[] | null | undefined>;

function withQuery(path: string, query?: Query): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === null || value === undefined) continue;
    for (const one of Array.isArray(value) ? value : [value]) params.append(key, String(one));
  }
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

interface RequestOptions {
  query?: Query;
  json?: unknown;
  form?: FormData;
  signal?: AbortSignal;
}

async function request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { accept: "application/json" };
  if (method !== "GET" && csrfToken) headers["x-csrf-token"] = csrfToken;
  let body: BodyInit | undefined;
  if (options.json !== undefined) {
    headers["content-type"] = "application/json";
    body = JSON.stringify(options.json);
  } else if (options.form) {
    body = options.form; // the browser sets the multipart boundary itself
  }
  let response: Response;
  try {
    response = await fetch(BASE + withQuery(path, options.query), {
      method,
      headers,
      body,
      credentials: "same-origin",
      signal: options.signal,
    });
  } catch (error) {
    if (error instanceof DOMException && error.name === "AbortError") throw error;
    throw new ApiError(0, fallbackDetail(0));
  }
  if (response.status === 204) return undefined as T;
  const payload: unknown = await response.json().catch(() => null);
  if (!response.ok) {
    const detail = messageOf(payload) ?? fallbackDetail(response.status);
    if (response.status === 401 && !path.startsWith("/auth/login")) unauthorizedHandler?.();
    throw new ApiError(response.status, detail);
  }
  return payload as T;
}

// Auth
export const login = (login: string, password: string) =>
  request<Me>("POST", "/auth/login", { json: { login, password } });
export const logout = () => request<void>("POST", "/auth/logout");
export const me = () => request<Me>("GET", "/auth/me");

// Accounts and the user's choices
export const listAccounts = () => request<Account[]>("GET", "/accounts");
export const setSelectedAccounts = (accountIds: number[] | null) =>
  request<{ account_ids: number[] | null }>("PUT", "/me/selected-accounts", { json: { account_ids: accountIds } });
export const getPreferences = () => request<Preferences>("GET", "/me/preferences");
export const setPreferences = (changes: Partial<Preferences>) =>
  request<Preferences>("PUT", "/me/preferences", { json: changes });

// Chats
export const listChats = (tab: Tab, cursor: string | null, limit = 50, signal?: AbortSignal) =>
  request<ChatPage>("GET", "/chats", { query: { tab, cursor, limit }, signal });
export const getChat = (chatId: number) => request<ChatRow>("GET", `/chats/${chatId}`);

export type MessageAnchor = { before: number } | { after: number } | { around: number } | Record<string, never>;
export const listMessages = (chatId: number, anchor: MessageAnchor = {}, limit = 50) =>
  request<MessagePage>("GET", `/chats/${chatId}/messages`, { query: { limit, ...anchor } });
export const voiceUrl = (chatId: number, voiceId: string) =>
  request<{ url: string }>("GET", `/chats/${chatId}/voice/${encodeURIComponent(voiceId)}`);
export const sendText = (chatId: number, text: string, requestId: string) =>
  request<{ messages: Message[] }>("POST", `/chats/${chatId}/messages`, { json: { text, request_id: requestId } });
export function sendImage(chatId: number, file: File, requestId: string) {
  const form = new FormData();
  form.append("file", file);
  form.append("request_id", requestId);
  return request<{ messages: Message[] }>("POST", `/chats/${chatId}/images`, { form });
}
export const setMode = (chatId: number, mode: Mode) =>
  request<ChatRow>("POST", `/chats/${chatId}/mode`, { json: { mode } });
export const markRead = (chatId: number) => request<void>("POST", `/chats/${chatId}/read`);

// Search and quick replies
export const search = (q: string, mode: Mode | null, cursor: string | null, signal?: AbortSignal) =>
  request<SearchPage>("GET", "/search", { query: { q, mode, cursor, limit: 20 }, signal });
export const listQuickReplies = (accountId: number) =>
  request<QuickReply[]>("GET", "/quick-replies", { query: { account_id: accountId } });
/** Fields of a quick reply an operator writes; `account_id` null makes it shared (admins only). */
export interface QuickReplyDraft {
  title: string;
  text: string;
  account_id: number | null;
}
export const createQuickReply = (draft: QuickReplyDraft) =>
  request<QuickReply>("POST", "/quick-replies", { json: draft });
export const updateQuickReply = (id: number, draft: Partial<QuickReplyDraft>) =>
  request<QuickReply>("PATCH", `/quick-replies/${id}`, { json: draft });
export const deleteQuickReply = (id: number) => request<void>("DELETE", `/quick-replies/${id}`);

/** A random id per send, so a retried request is not sent twice. */
export function newRequestId(): string {
  // crypto.randomUUID exists only on https/localhost; getRandomValues works on a plain-http LAN address too.
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
