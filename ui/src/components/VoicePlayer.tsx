import { useEffect, useRef, useState } from "react";
import { ApiError, voiceUrl } from "../api/client";
import { PauseIcon, PlayIcon } from "./icons";
import { useToast } from "./Toasts";

function mmss(seconds: number): string {
  if (!Number.isFinite(seconds)) return "0:00";
  const s = Math.max(0, Math.round(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

/** A voice message: the playable URL is asked for on the first play (Avito's links expire). */
export function VoicePlayer({ chatId, voiceId }: { chatId: number; voiceId: string }) {
  const audio = useRef<HTMLAudioElement>(null);
  const [src, setSrc] = useState<string | null>(null);
  const [playing, setPlaying] = useState(false);
  const [position, setPosition] = useState(0);
  const [duration, setDuration] = useState(0);
  const toast = useToast();

  useEffect(() => {
    if (src && audio.current) void audio.current.play().catch(() => setPlaying(false));
  }, [src]);

  async function toggle() {
    const element = audio.current;
    if (!element) return;
    if (playing) {
      element.pause();
      return;
    }
    if (src) {
      void element.play();
      return;
    }
    try {
      setSrc((await voiceUrl(chatId, voiceId)).url);
    } catch (error) {
      toast(error instanceof ApiError ? error.message : "Не удалось загрузить голосовое сообщение. Повторите.");
    }
  }

  const progress = duration ? (position / duration) * 100 : 0;
  return (
    <div className="voice">
      <button
        type="button"
        className="voice-button"
        aria-label={playing ? "Пауза" : "Прослушать голосовое сообщение"}
        onClick={toggle}
      >
        {playing ? <PauseIcon width={18} height={18} /> : <PlayIcon width={18} height={18} />}
      </button>
      <div
        className="voice-track"
        role="progressbar"
        aria-label="Прослушано"
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={Math.round(progress)}
      >
        <div className="voice-progress" style={{ width: `${progress}%` }} />
      </div>
      <span className="voice-time">{mmss(playing || position ? position : duration)}</span>
      <audio
        ref={audio}
        src={src ?? undefined}
        preload="none"
        onPlay={() => setPlaying(true)}
        onPause={() => setPlaying(false)}
        onEnded={() => {
          setPlaying(false);
          setPosition(0);
        }}
        onTimeUpdate={(e) => setPosition(e.currentTarget.currentTime)}
        onLoadedMetadata={(e) => setDuration(e.currentTarget.duration)}
      />
    </div>
  );
}
