# One image for every paystream process; the command names the process file:
#   docker run paystream src/processes/api.ts        (the default)
#   docker run paystream src/processes/gateway.ts
#   docker run paystream src/processes/projector.ts
#   docker run paystream src/processes/bank-sandbox.ts
# docker-compose.yml runs them together on EventStoreDB and PostgreSQL.

FROM node:20-bookworm-slim AS dependencies
WORKDIR /app
COPY package.json package-lock.json ./
# Rationale: tsx is a runtime dependency (the processes run their TypeScript through
# it, as the npm scripts do), so --omit=dev keeps everything a process needs and
# drops jest, testcontainers and the compiler. No dependency needs its install
# script at run time (see "allowScripts" in package.json), so none runs here.
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force

FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    DATA_DIR=/app/data
WORKDIR /app
COPY --from=dependencies /app/node_modules ./node_modules
COPY package.json tsconfig.json ./
COPY src ./src
# The code stays root-owned and read-only to the process; only DATA_DIR is writable.
RUN mkdir -p /app/data && chown node:node /app/data
USER node
EXPOSE 3000
# Every process serves /health/ready (its store answers); HEALTHCHECK_URL names the one of this
# container (the API's by default; compose sets it for the others).
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch(process.env.HEALTHCHECK_URL || 'http://127.0.0.1:' + (process.env.PORT || 3000) + '/health/ready', { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Node runs as PID 1 and gets SIGTERM itself; each process stops cleanly on it
# (src/processes/run.ts). `node --import tsx` rather than npm: npm would not pass the signal on.
ENTRYPOINT ["node", "--import", "tsx"]
CMD ["src/processes/api.ts"]
