// Image builder for meshlock: assembles a distroless/static:nonroot-equivalent
// OCI image from a prebuilt static binary, with no Docker and no registry.
// Kept apart from the main module so that meshlock's go.mod never depends on
// go-containerregistry.
module github.com/meshlock/meshlock/build/image

go 1.26.7

require github.com/google/go-containerregistry v0.22.1

require (
	github.com/google/go-cmp v0.7.0 // indirect
	github.com/klauspost/compress v1.19.2 // indirect
	github.com/opencontainers/go-digest v1.0.0 // indirect
	github.com/opencontainers/image-spec v1.1.1 // indirect
	golang.org/x/sync v0.22.0 // indirect
)
