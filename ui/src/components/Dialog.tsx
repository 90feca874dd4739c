import { useEffect, useMemo } from "react";
import type { ChatRow, Mode, User } from "../api/types";
import { useDialog } from "../hooks/useDialog";
import type { Subscribe } from "../hooks/useRealtime";
import { Composer } from "./Composer";
import { DialogHeader } from "./DialogHeader";
import { ListingCard } from "./ListingCard";
import { MessageList } from "./MessageList";
import { useToast } from "./Toasts";

interface Props {
  chat: ChatRow;
  focusMessageId: number | null;
  user: User;
  switching: boolean;
  subscribe: Subscribe;
  onBack: () => void;
  onSwitch: (mode: Mode) => void;
}

/** The open chat: header with the hand-over switch, the listing, the history and the input. */
export function Dialog({ chat, focusMessageId, user, switching, subscribe, onBack, onSwitch }: Props) {
  const toast = useToast();
  const dialog = useDialog(chat.id, focusMessageId, user.id, toast);
  const { receive, reload } = dialog;

  useEffect(
    () =>
      subscribe((event) => {
        if (event.kind === "message" && event.data.chat_id === chat.id) receive(event.data.message);
        else if (event.kind === "resynced") reload();
      }),
    [subscribe, receive, reload, chat.id],
  );

  const variables = useMemo(
    () => ({
      buyer_name: chat.buyer?.name,
      item_title: chat.item?.title,
      item_price: chat.item?.price_text,
      account_name: chat.account_name,
      operator_name: user.display_name,
    }),
    [chat.buyer?.name, chat.item?.title, chat.item?.price_text, chat.account_name, user.display_name],
  );

  return (
    <section className="dialog" aria-label={`Диалог: ${chat.buyer?.name ?? "покупатель"}`}>
      <DialogHeader chat={chat} switching={switching} onBack={onBack} onSwitch={onSwitch} />
      {chat.item && <ListingCard item={chat.item} />}
      <MessageList
        messages={dialog.messages}
        loading={dialog.loading}
        error={dialog.error}
        hasOlder={dialog.hasOlder}
        hasNewer={dialog.hasNewer}
        focusId={focusMessageId}
        onOlder={dialog.loadOlder}
        onNewer={dialog.loadNewer}
        onRetry={dialog.retry}
        onDiscard={dialog.discard}
        onReload={reload}
      />
      {chat.mode === "bot" && (
        <p className="composer-hint">Диалог ведёт бот. Чтобы вести его самому, нажмите «Передать оператору».</p>
      )}
      <Composer
        accountId={chat.account_id}
        accountName={chat.account_name}
        isAdmin={user.role === "admin"}
        variables={variables}
        onSend={dialog.send}
        onSendImage={dialog.sendFile}
      />
    </section>
  );
}
