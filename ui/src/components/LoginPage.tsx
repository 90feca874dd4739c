import { useState, type FormEvent } from "react";
import { ApiError, login } from "../api/client";
import type { Me } from "../api/types";

interface Props {
  notice?: string;
  onSignedIn: (me: Me) => void;
}

export function LoginPage({ notice, onSignedIn }: Props) {
  const [name, setName] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (!name.trim() || !password) {
      setError("Введите логин и пароль.");
      return;
    }
    setBusy(true);
    setError(null);
    try {
      onSignedIn(await login(name.trim(), password));
    } catch (failure) {
      setError(failure instanceof ApiError ? failure.message : "Не удалось войти. Повторите попытку.");
      setBusy(false);
    }
  }

  return (
    <main className="login">
      <form className="login-card" onSubmit={submit} aria-labelledby="login-title" noValidate>
        <div className="login-logo" aria-hidden="true">
          <img src="/favicon.svg" alt="" width={40} height={40} />
        </div>
        <h1 id="login-title">Вход в сообщения</h1>
        <p className="login-hint">Чаты ваших аккаунтов Авито и ответы бота — в одном окне.</p>
        {notice && !error && (
          <p className="login-notice" role="status">
            {notice}
          </p>
        )}
        <label className="field">
          <span>Логин</span>
          <input
            name="login"
            autoComplete="username"
            autoCapitalize="none"
            spellCheck={false}
            value={name}
            onChange={(e) => setName(e.target.value)}
            autoFocus
          />
        </label>
        <label className="field">
          <span>Пароль</span>
          <input
            name="password"
            type="password"
            autoComplete="current-password"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
        </label>
        {error && (
          <p className="form-error" role="alert">
            {error}
          </p>
        )}
        <button className="button primary wide" type="submit" disabled={busy}>
          {busy ? "Входим…" : "Войти"}
        </button>
      </form>
    </main>
  );
}
