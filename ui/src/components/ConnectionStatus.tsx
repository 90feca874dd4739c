import type { ConnectionState } from "../api/socket";

const TEXT: Record<ConnectionState, string> = {
  connecting: "Подключаемся…",
  connected: "В сети",
  reconnecting: "Нет связи с сервером. Переподключаемся — новые сообщения появятся сами.",
  offline: "Нет подключения к интернету. Проверьте сеть — мы переподключимся сами.",
};

/** A strip under the tabs while the real-time connection is down; nothing while all is well. */
export function ConnectionStatus({ state }: { state: ConnectionState }) {
  const down = state === "reconnecting" || state === "offline";
  return (
    <div className={`connection ${state}`} role="status" aria-live="polite" data-state={state}>
      {down ? (
        <>
          <span className="connection-dot" aria-hidden="true" />
          {TEXT[state]}
        </>
      ) : (
        <span className="visually-hidden">{TEXT[state]}</span>
      )}
    </div>
  );
}
