import type { ChatRow, Mode } from "../api/types";
import { safeUrl } from "../lib/text";
import { Avatar } from "./Avatar";
import { BUYER_FALLBACK } from "./ChatRow";
import { BackIcon } from "./icons";

interface Props {
  chat: ChatRow;
  switching: boolean;
  onBack: () => void;
  onSwitch: (mode: Mode) => void;
}

/** Who the buyer is, which account, who leads the dialog, and the one button that hands it over. */
export function DialogHeader({ chat, switching, onBack, onSwitch }: Props) {
  const name = chat.buyer?.name || BUYER_FALLBACK;
  const profile = safeUrl(chat.buyer?.profile_url);
  const leader = chat.mode === "bot" ? "Бот" : chat.operator_name ? `Оператор (${chat.operator_name})` : "Оператор";
  return (
    <header className="dialog-header">
      <button type="button" className="icon-button back-button" aria-label="Назад к чатам" onClick={onBack}>
        <BackIcon />
      </button>
      <Avatar name={name} url={chat.buyer?.avatar_url} size={40} />
      <div className="dialog-title">
        <h2>
          {profile ? (
            <a href={profile} target="_blank" rel="noopener noreferrer">
              {name}
            </a>
          ) : (
            name
          )}
        </h2>
        <div className="dialog-subtitle">
          <span className={`leader ${chat.mode}`} data-testid="leader">
            Ведёт диалог: {leader}
          </span>
          <span className="dialog-account">{chat.account_name}</span>
        </div>
      </div>
      <button
        type="button"
        className={`button ${chat.mode === "bot" ? "primary" : "secondary"} switch-button`}
        disabled={switching}
        onClick={() => onSwitch(chat.mode === "bot" ? "operator" : "bot")}
      >
        {chat.mode === "bot" ? "Передать оператору" : "Передать боту"}
      </button>
    </header>
  );
}
