// The sound and the browser notification for a new buyer message.

const SOUND_URL = "/sounds/message.wav";
let audio: HTMLAudioElement | null = null;

/** Loads the sound once, so the first message does not wait for the network. */
export function preloadSound(): void {
  if (audio) return;
  audio = new Audio(SOUND_URL);
  audio.preload = "auto";
  audio.volume = 0.7;
  audio.load();
}

export function playMessageSound(): void {
  preloadSound();
  if (!audio) return;
  audio.currentTime = 0;
  // Browsers refuse to play before the user's first interaction with the page; a missed chime is harmless.
  audio.play().catch(() => undefined);
}

const ASKED_KEY = "avibot.notifications-asked";

/** Asks for the notification permission once per browser (on a user gesture, as browsers require). */
export function askNotificationPermissionOnce(): void {
  if (!("Notification" in window) || Notification.permission !== "default") return;
  if (localStorage.getItem(ASKED_KEY)) return;
  localStorage.setItem(ASKED_KEY, "1");
  void Notification.requestPermission();
}

export function notify(title: string, body: string, tag: string, onClick: () => void): void {
  if (!("Notification" in window) || Notification.permission !== "granted") return;
  try {
    const notification = new Notification(title, { body, tag, icon: "/favicon.svg" });
    notification.onclick = () => {
      window.focus();
      onClick();
      notification.close();
    };
  } catch {
    // Some mobile browsers allow notifications only through a service worker; the sound still plays.
  }
}
