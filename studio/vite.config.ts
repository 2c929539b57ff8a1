// Vite config of the studio's single-page app: `npm run build:studio` writes studio/dist, which
// `dermosynth serve` serves. For development, `npx vite studio` proxies the API to a running
// `dermosynth serve` on port 8080.
import { defineConfig } from 'vite';

export default defineConfig({
  base: '/',
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022', sourcemap: false },
  server: {
    proxy: {
      '/api': 'http://127.0.0.1:8080',
      '/healthz': 'http://127.0.0.1:8080',
    },
  },
});
