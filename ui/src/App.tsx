import { useCallback, useEffect, useState } from "react";
import { ApiError, me, onUnauthorized, setCsrfToken } from "./api/client";
import type { Me } from "./api/types";
import { LoginPage } from "./components/LoginPage";
import { Messenger } from "./components/Messenger";
import { ToastProvider } from "./components/Toasts";

type SessionState = { status: "loading" } | { status: "anonymous"; notice?: string } | { status: "in"; me: Me };

export function App() {
  const [session, setSession] = useState<SessionState>({ status: "loading" });

  const signedIn = useCallback((who: Me) => {
    setCsrfToken(who.csrf_token);
    setSession({ status: "in", me: who });
  }, []);

  useEffect(() => {
    onUnauthorized(() =>
      setSession({ status: "anonymous", notice: "Сессия завершилась. Войдите снова, чтобы продолжить." }),
    );
    me()
      .then(signedIn)
      .catch((error: unknown) => {
        const notice = error instanceof ApiError && error.status !== 401 ? error.message : undefined;
        setSession({ status: "anonymous", notice });
      });
    return () => onUnauthorized(null);
  }, [signedIn]);

  if (session.status === "loading") {
    return (
      <div className="splash" role="status" aria-live="polite">
        Загрузка…
      </div>
    );
  }
  return (
    <ToastProvider>
      {session.status === "anonymous" ? (
        <LoginPage notice={session.notice} onSignedIn={signedIn} />
      ) : (
        <Messenger
          me={session.me}
          onSignedOut={() => {
            setCsrfToken("");
            setSession({ status: "anonymous" });
          }}
        />
      )}
    </ToastProvider>
  );
}
