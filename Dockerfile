# ubackup: encrypted, streaming backups of Docker containers, as a service.
#
#   docker build -t ubackup .
#   docker run -d --name ubackup \
#     -v /var/run/docker.sock:/var/run/docker.sock \
#     -e UBACKUP_CONF="$(base64 -w0 config.json)" ubackup
#
# The config (base64 JSON in UBACKUP_CONF) needs
# "docker_endpoint": "unix:///var/run/docker.sock" for container discovery.
# It runs as root because it talks to the Docker socket. A local storage path
# in the config is relative to /var/lib/ubackup (mount a volume there).

# --- build: the bundled CLI (dist/cli.mjs + dist/vendor/*.mjs) ---------------
FROM node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
# no install scripts: "prepare" would build before the sources are here
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY scripts/ scripts/
COPY bin/ bin/
COPY src/ src/
RUN node scripts/build.mjs --cli-only

# --- the image: Node, the launcher and the bundle; no node_modules, no sources -
FROM node:24-bookworm-slim
ARG VERSION=dev
LABEL org.opencontainers.image.title="ubackup" \
      org.opencontainers.image.description="Encrypted, streaming backups of Docker containers and host commands to S3 or a local folder" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.base.name="node:24-bookworm-slim"
COPY --from=build /src/bin/ubackup /opt/ubackup/bin/ubackup
COPY --from=build /src/dist/ /opt/ubackup/dist/
RUN ln -s /opt/ubackup/bin/ubackup /usr/local/bin/ubackup \
 && mkdir -p /var/lib/ubackup \
 && ubackup --version
ENV NODE_ENV=production \
    UBACKUP_STATE_DIR=/var/lib/ubackup
WORKDIR /var/lib/ubackup
CMD ["ubackup", "scheduler", "run"]
