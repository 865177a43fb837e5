# syntax=docker/dockerfile:1
# One image with the three binaries of the project (worker, starter, zendesksim);
# docker-compose.yml picks one per service. Default command: the worker.
#
#   docker build -t zendesk-sync .
#   docker run --rm zendesk-sync starter --help    (or see docker-compose.yml)

ARG GO_VERSION=1.26

FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
# Modules first, so code changes reuse the download layer.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/ ./worker ./starter ./zendesksim

FROM debian:bookworm-slim
# ca-certificates: the worker talks HTTPS to real Zendesk accounts.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates tzdata \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin app
COPY --from=build /out/ /usr/local/bin/
USER 10001:10001
# Worker metrics; the simulator listens where -addr says (8090 in docker-compose.yml).
EXPOSE 9464 8090
CMD ["worker"]
