import type { Account } from "../api/types";
import { usePopover } from "../hooks/usePopover";
import { ChevronIcon } from "./icons";

interface Props {
  accounts: Account[];
  selected: Set<number>;
  onChange: (selected: Set<number>) => void;
}

const STATE_LABEL: Record<Account["state"], string | null> = {
  active: null,
  paused: "приостановлен",
  error: "ошибка подключения",
};

/** «Аккаунты (N)»: which connected Avito accounts' chats are shown; the server remembers the choice per user. */
export function AccountsFilter({ accounts, selected, onChange }: Props) {
  const { open, setOpen, ref } = usePopover<HTMLDivElement>();
  const allOn = accounts.every((a) => selected.has(a.id));

  function toggle(id: number) {
    const next = new Set(selected);
    if (next.has(id)) next.delete(id);
    else next.add(id);
    onChange(next);
  }

  return (
    <div className="popover-anchor" ref={ref}>
      <button
        type="button"
        className={`chip${allOn ? "" : " active"}`}
        aria-haspopup="true"
        aria-expanded={open}
        onClick={() => setOpen(!open)}
      >
        Аккаунты ({selected.size})
        <ChevronIcon width={16} height={16} />
      </button>
      {open && (
        <div className="popover accounts-popover" role="group" aria-label="Аккаунты Авито">
          <div className="popover-title">Показывать чаты аккаунтов</div>
          <label className="check-row">
            <input
              type="checkbox"
              checked={allOn}
              onChange={() => onChange(allOn ? new Set() : new Set(accounts.map((a) => a.id)))}
            />
            <span>Все аккаунты</span>
          </label>
          <div className="popover-divider" />
          {accounts.map((account) => (
            <label className="check-row" key={account.id}>
              <input type="checkbox" checked={selected.has(account.id)} onChange={() => toggle(account.id)} />
              <span className="check-row-text">
                <span>{account.name}</span>
                {(STATE_LABEL[account.state] || account.is_sandbox) && (
                  <small>{[STATE_LABEL[account.state], account.is_sandbox ? "песочница" : null].filter(Boolean).join(", ")}</small>
                )}
              </span>
            </label>
          ))}
          {accounts.length === 0 && <p className="popover-empty">Нет подключённых аккаунтов. Подключите аккаунт Авито в настройках.</p>}
        </div>
      )}
    </div>
  );
}
