import type { ConnectionState } from "../api/socket";
import type { Preferences, User } from "../api/types";
import { usePopover } from "../hooks/usePopover";
import { initials } from "../lib/text";
import { MutedIcon, SoundIcon } from "./icons";

interface Props {
  user: User;
  prefs: Preferences;
  connection: ConnectionState;
  onChange: (change: Partial<Preferences>) => void;
  onSignOut: () => void;
}

const CONNECTION_LABEL: Record<ConnectionState, string> = {
  connecting: "подключаемся",
  connected: "в сети",
  reconnecting: "переподключаемся",
  offline: "нет сети",
};

/** The sound switch at hand, and the menu with notifications and sign-out. */
export function UserMenu({ user, prefs, connection, onChange, onSignOut }: Props) {
  const { open, setOpen, ref } = usePopover<HTMLDivElement>();
  return (
    <div className="user-tools">
      <button
        type="button"
        className="icon-button"
        aria-pressed={!prefs.sound}
        aria-label={prefs.sound ? "Выключить звук новых сообщений" : "Включить звук новых сообщений"}
        title={prefs.sound ? "Звук включён" : "Звук выключен"}
        onClick={() => onChange({ sound: !prefs.sound })}
      >
        {prefs.sound ? <SoundIcon /> : <MutedIcon />}
      </button>
      <div className="popover-anchor" ref={ref}>
        <button
          type="button"
          className="user-button"
          aria-haspopup="true"
          aria-expanded={open}
          aria-label={`Меню: ${user.display_name}, ${CONNECTION_LABEL[connection]}`}
          onClick={() => setOpen(!open)}
        >
          <span className="avatar avatar-initials user-avatar">{initials(user.display_name || user.login)}</span>
          <span className={`presence ${connection}`} aria-hidden="true" />
        </button>
        {open && (
          <div className="popover user-popover" role="menu" aria-label="Настройки">
            <div className="user-name">
              <strong>{user.display_name || user.login}</strong>
              <small>{user.role === "admin" ? "Администратор" : "Оператор"} · {CONNECTION_LABEL[connection]}</small>
            </div>
            <label className="check-row switch-row">
              <span>Звук новых сообщений</span>
              <input
                type="checkbox"
                role="switch"
                checked={prefs.sound}
                onChange={(e) => onChange({ sound: e.target.checked })}
              />
            </label>
            <label className="check-row switch-row">
              <span>Уведомления в браузере</span>
              <input
                type="checkbox"
                role="switch"
                checked={prefs.notifications}
                onChange={(e) => onChange({ notifications: e.target.checked })}
              />
            </label>
            <div className="popover-divider" />
            <button type="button" role="menuitem" className="menu-item danger" onClick={onSignOut}>
              Выйти
            </button>
          </div>
        )}
      </div>
    </div>
  );
}
