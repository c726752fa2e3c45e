// Builds the UI into static assets. `EVERRUNS_UI_OUT` (set by the embedding crate's build script)
// puts them in Cargo's OUT_DIR; `npm run build` alone writes dist/. Asset names carry content
// hashes, so the server can cache them for ever; index.html is never cached.
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

export default defineConfig({
  plugins: [react()],
  base: "/",
  build: {
    outDir: process.env.EVERRUNS_UI_OUT ?? "dist",
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 400,
  },
  server: { proxy: { "/api": "http://127.0.0.1:9000" } },
});
