import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// `npm run dev` serves the UI with hot reload and passes API calls to a running `avibot up`
// (AVIBOT_URL, default the app's own default port).
const target = process.env.AVIBOT_URL ?? "http://127.0.0.1:8000";

export default defineConfig({
  plugins: [react()],
  build: { outDir: "dist", sourcemap: false, chunkSizeWarningLimit: 400 },
  server: {
    proxy: {
      "/api": { target },
      "/healthz": { target },
      "/socket.io": { target, ws: true },
    },
  },
});
