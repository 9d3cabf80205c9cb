# meshlock's image for those who build with Docker, Podman or Buildah. The same
# image without any of them (and without a registry): make image, which uses
# build/image (go-containerregistry) and writes bin/meshlock-image.tar.
#
#   docker build -t meshlock --build-arg VERSION=$(git describe --tags --always --dirty) .
#   docker buildx build --platform linux/amd64,linux/arm64 -t REGISTRY/meshlock:TAG --push .

# The builder runs on the build machine's platform and cross-compiles.
FROM --platform=$BUILDPLATFORM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG TARGETOS=linux
ARG TARGETARCH=amd64
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -buildvcs=false -ldflags "-s -w" -o /out/meshlock ./cmd/server

# Static binary, CA certificates, /etc/passwd with nonroot (65532), /tmp; no shell.
FROM gcr.io/distroless/static:nonroot
ARG VERSION=dev
LABEL org.opencontainers.image.title="meshlock" \
      org.opencontainers.image.source="https://github.com/meshlock/meshlock" \
      org.opencontainers.image.licenses="NOASSERTION" \
      org.opencontainers.image.version="$VERSION"
COPY --from=build /out/meshlock /meshlock
USER 65532:65532
WORKDIR /
EXPOSE 8080/tcp
ENTRYPOINT ["/meshlock"]
