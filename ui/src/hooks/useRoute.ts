// The address says which chat is open (/chats/42, ?message=7 for a search hit), so the phone's back button,
// a reload and a notification click all land in the right place.
import { useCallback, useEffect, useState } from "react";

export interface Route {
  chatId: number | null;
  messageId: number | null;
}

function parse(): Route {
  const match = /^\/chats\/(\d+)\/?$/.exec(window.location.pathname);
  const message = new URLSearchParams(window.location.search).get("message");
  return {
    chatId: match ? Number(match[1]) : null,
    messageId: match && message && /^\d+$/.test(message) ? Number(message) : null,
  };
}

export function useRoute() {
  const [route, setRoute] = useState<Route>(parse);

  useEffect(() => {
    const onPop = () => setRoute(parse());
    window.addEventListener("popstate", onPop);
    return () => window.removeEventListener("popstate", onPop);
  }, []);

  const openChat = useCallback((chatId: number, messageId: number | null = null) => {
    const url = `/chats/${chatId}${messageId !== null ? `?message=${messageId}` : ""}`;
    const fromList = parse().chatId === null;
    // From the list: a new history entry (back returns to it); from chat to chat: replace, so back means "list".
    if (fromList) window.history.pushState({ fromList: true }, "", url);
    else window.history.replaceState(window.history.state, "", url);
    setRoute({ chatId, messageId });
  }, []);

  const closeChat = useCallback(() => {
    if ((window.history.state as { fromList?: boolean } | null)?.fromList) window.history.back();
    else {
      window.history.replaceState(null, "", "/");
      setRoute({ chatId: null, messageId: null });
    }
  }, []);

  return { route, openChat, closeChat };
}
