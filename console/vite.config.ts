import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// Served by the gateway at /console (services/gateway/console.py); in development, `npm run dev`
// proxies the API to a gateway on localhost:8000.
export default defineConfig({
  base: "/console/",
  plugins: [react()],
  build: {
    target: "es2022",
    sourcemap: false,
    reportCompressedSize: false,
  },
  server: {
    proxy: { "/v1": "http://localhost:8000" },
  },
});
