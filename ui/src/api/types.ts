// The messenger API's shapes (REST under /api/v1 and Socket.io events), as the server sends them.

export type Role = "admin" | "operator";

export interface User {
  id: number;
  login: string;
  role: Role;
  display_name: string;
  is_active: boolean;
  created_at: string;
  last_login_at: string | null;
}

export interface Me {
  user: User;
  csrf_token: string;
}

export interface Account {
  id: number;
  name: string;
  avito_user_id: number;
  state: "active" | "paused" | "error";
  is_sandbox: boolean;
  selected: boolean;
}

export interface Preferences {
  sound: boolean;
  notifications: boolean;
}

export type Tab = "bot" | "mine";
export type Mode = "bot" | "operator";
export type AuthorKind = "client" | "bot" | "operator" | "system";

export interface Buyer {
  id: number;
  name: string;
  avatar_url: string | null;
  profile_url: string | null;
}

export interface Item {
  id: number;
  avito_item_id: number;
  title: string;
  price_text: string | null;
  url: string | null;
  image_url: string | null;
}

export interface ChatRow {
  id: number;
  account_id: number;
  account_name: string;
  avito_chat_id: string;
  chat_type: string;
  mode: Mode;
  operator_id: number | null;
  operator_name: string | null;
  unread_count: number;
  last_message_at: string | null;
  last_message_text: string | null;
  last_message_author: AuthorKind | null;
  buyer: Buyer | null;
  item: Item | null;
}

export interface TabCounts {
  chats: number;
  unread: number;
}

export interface ChatPage {
  items: ChatRow[];
  next_cursor: string | null;
  counts: Record<Tab, TabCounts> | null; // on the first page only
}

export interface Message {
  id: number;
  chat_id: number;
  avito_message_id: string | null;
  direction: "in" | "out";
  author_kind: AuthorKind;
  type: string;
  text: string | null;
  content: Record<string, unknown>;
  created_at: string;
  author_user_id: number | null;
}

export interface MessagePage {
  items: Message[];
  has_older: boolean;
  has_newer: boolean;
}

export interface SearchMatch {
  message_id: number;
  created_at: string;
  author_kind: AuthorKind;
  text: string;
  highlights: [number, number][];
}

export interface SearchHit {
  chat: ChatRow;
  match_count: number;
  matches: SearchMatch[];
}

export interface SearchPage {
  total_chats: number;
  /** false: at least total_chats (the server stops counting at 100) — shown as «100+». */
  total_is_exact: boolean;
  items: SearchHit[];
  next_cursor: string | null;
}

export interface QuickReply {
  id: number;
  account_id: number | null;
  title: string;
  text: string;
  created_at: string;
  updated_at: string;
}

// Socket.io events (server → browser); every one names its account.
export interface MessageNewEvent {
  account_id: number;
  chat_id: number;
  message: Message;
}
export interface ChatEvent {
  account_id: number;
  chat_id: number;
}
export interface ChatUpdatedEvent extends ChatEvent {
  unread_count: number | null;
}
export interface ChatModeEvent extends ChatEvent {
  mode: Mode;
  reason: "handoff_node" | "operator" | "avito_app" | "api";
  operator_id: number | null;
}
