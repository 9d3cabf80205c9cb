# meshlock. `make demo` starts the dashboard on the simulated mesh; `make test` runs every test.
SHELL := /bin/bash
GO ?= go
export GOFLAGS ?= -buildvcs=false
# go.mod's toolchain line (the newest patch release, for the standard
# library's security fixes) is honoured even where Go's own go.env says
# local; the go command fetches it once from the module proxy.
export GOTOOLCHAIN ?= auto

# The test bed's server builds live here (ignored by git); test/testbed finds them.
TESTBED_BIN := $(CURDIR)/.testbed/bin
KUBE_VERSION := v1.37.2
KUBE_LDFLAGS := -s -w \
	-X k8s.io/component-base/version.gitVersion=$(KUBE_VERSION) \
	-X k8s.io/component-base/version.gitMajor=1 \
	-X k8s.io/component-base/version.gitMinor=37 \
	-X k8s.io/component-base/version.gitTreeState=clean \
	-X k8s.io/component-base/version.buildDate=2026-01-01T00:00:00Z

.PHONY: loadtest vulncheck all build bench bench-browser docs demo image test-image generate generate-check screenshot testbed test test-js test-unit lint lint-chart vendor-js clean scale

all: build

build:
	$(GO) build -o bin/meshlock ./cmd/server

# The simulated bookinfo mesh, an embedded Prometheus and fake Kubernetes: nothing to install.
DEMO_ADDR ?= 127.0.0.1:8080
demo:
	@echo "meshlock demo: open http://$(DEMO_ADDR)/ (Ctrl-C stops it)"
	$(GO) run ./cmd/server --demo --demo-clusters=2 --addr=$(DEMO_ADDR)

generate:
	$(GO) tool templ generate

# Fails when committed *_templ.go files differ from what templ generates now.
generate-check: generate
	@git diff --exit-code -- '*_templ.go' || { echo "generated templ files are out of date: run make generate and commit"; exit 1; }

# kube-apiserver from k8s.io/kubernetes, rebuilt only when the tools module changes.
testbed: $(TESTBED_BIN)/kube-apiserver $(TESTBED_BIN)/kustomize $(TESTBED_BIN)/helm $(TESTBED_BIN)/thanos
	@command -v etcd >/dev/null || test -x $(TESTBED_BIN)/etcd || { echo "testbed: etcd missing: apt-get install etcd-server (or run .ci/run)"; exit 1; }
	@command -v prometheus >/dev/null || { echo "testbed: prometheus missing: apt-get install prometheus (or run .ci/run)"; exit 1; }

$(TESTBED_BIN)/kube-apiserver: test/tools/go.mod test/tools/go.sum
	@mkdir -p $(TESTBED_BIN)
	cd test/tools && $(GO) build -ldflags "$(KUBE_LDFLAGS)" -o $@ k8s.io/kubernetes/cmd/kube-apiserver

# kustomize, to render deploy/ in the deploy test, from the same tools module.
$(TESTBED_BIN)/kustomize: test/tools/go.mod test/tools/go.sum
	@mkdir -p $(TESTBED_BIN)
	cd test/tools && $(GO) build -ldflags "-s -w" -o $@ sigs.k8s.io/kustomize/kustomize/v5

# helm, to lint deploy/helm/meshlock and render it in the deploy test, from a module of its own
# (test/tools/helm): Helm's Kubernetes modules never move the kube-apiserver build's.
HELM_VERSION := $(shell sed -n 's|^require helm.sh/helm/v4 ||p' test/tools/helm/go.mod)
$(TESTBED_BIN)/helm: test/tools/helm/go.mod test/tools/helm/go.sum
	@mkdir -p $(TESTBED_BIN)
	cd test/tools/helm && $(GO) build -trimpath -ldflags "-s -w \
		-X helm.sh/helm/v4/internal/version.version=$(HELM_VERSION) \
		-X helm.sh/helm/v4/internal/version.gitTreeState=clean" -o $@ helm.sh/helm/v4/cmd/helm

# Thanos (a sidecar beside the test bed's Prometheus and a Querier in front of it), built from its
# Go module in a module of its own (test/tools/thanos): its Prometheus and gRPC modules never move
# the kube-apiserver build's nor meshlock's. Its tags are those of Thanos' own release build
# (.promu.yml): Thanos casts Prometheus' labels.Labels to its protobuf labels in place, which holds
# only for the slicelabels layout (without the tag its gRPC store API panics at the first call).
THANOS_VERSION := $(shell sed -n 's|^require github.com/thanos-io/thanos v||p' test/tools/thanos/go.mod)
$(TESTBED_BIN)/thanos: test/tools/thanos/go.mod test/tools/thanos/go.sum
	@mkdir -p $(TESTBED_BIN)
	cd test/tools/thanos && $(GO) build -trimpath -tags netgo,slicelabels -ldflags "-s -w \
		-X github.com/prometheus/common/version.Version=$(THANOS_VERSION)" -o $@ github.com/thanos-io/thanos/cmd/thanos

lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' | grep -v '_templ.go$$')); \
		if [ -n "$$unformatted" ]; then echo "gofmt wants changes in:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...

# The Helm chart, read-only and with everything on: --strict fails on any warning.
lint-chart: $(TESTBED_BIN)/helm
	$(TESTBED_BIN)/helm lint --strict deploy/helm/meshlock
	$(TESTBED_BIN)/helm lint --strict deploy/helm/meshlock --set enforce.enabled=true --set serviceMonitor.enabled=true --set prometheusRule.enabled=true --set metrics.port=9090 --set auth.mode=token --set prometheus.historyUrl=https://longterm.example --set prometheus.credentials.secret=prometheus-credentials --set prometheus.credentials.caKey=ca.crt --set prometheus.credentials.historyBearerTokenKey=token

# Every test, the integration tests on the real test bed and the browser tests included.
# Tests assert behaviour and bound time only to detect a hang: they pass on a busy
# machine. Speed is held to its targets by the benchmarks (bench, bench-browser, scale).
test: testbed lint lint-chart generate-check test-js test-image
	$(GO) test -race -count=1 -timeout 20m ./...

# The image builder is a module of its own: ./... of the main module does not reach it.
test-image:
	cd build/image && $(GO) vet ./... && $(GO) test -race -count=1 ./...

# The container image, without Docker or a registry: build/image (its own Go module,
# go-containerregistry) assembles a distroless/static:nonroot equivalent around the
# static binary and writes bin/meshlock-image.tar (docker load -i / podman load -i)
# and its digest. IMAGE_ARCHES="amd64 arm64" gives a multi-platform OCI index.
IMAGE_VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
IMAGE_ARCHES ?= amd64
image:
	for arch in $(IMAGE_ARCHES); do \
		CGO_ENABLED=0 GOOS=linux GOARCH=$$arch $(GO) build -trimpath -ldflags "-s -w" -o bin/meshlock-linux-$$arch ./cmd/server || exit 1; \
	done
	cd build/image && $(GO) run . --version "$(IMAGE_VERSION)" \
		$(foreach a,$(IMAGE_ARCHES),--binary linux/$(a)=../../bin/meshlock-linux-$(a)) \
		--out ../../bin/meshlock-image.tar --digest-file ../../bin/meshlock-image.digest

# govulncheck against a local copy of the Go vulnerability database built
# from the golang.org/x/vulndb module (SECURITY.md); fails on any
# vulnerability meshlock's code reaches.
vulncheck:
	scripts/govulncheck.sh ./...

# The page's pure JavaScript (static/model.mjs) under Node's test runner.
test-js:
	node --test static/

# Refreshes static/vendor/ (and axe-core for the browser tests, test/e2e/testdata/) from npm at the versions pinned in package.json and package-lock.json.
vendor-js:
	scripts/vendor-js.sh

# The README's picture of the dashboard, taken by the browser test on the demo.
screenshot:
	MESHLOCK_SCREENSHOT=$(CURDIR)/docs/dashboard.png $(GO) test -count=1 -run TestDashboardInBrowser ./cmd/server/

# Unit tests only: no test bed needed.
test-unit:
	$(GO) test -race -count=1 -short ./internal/... ./web/... ./cmd/...

# Rewrites the table of flags in docs/operating.md from the binary's flag set, and deploy/prometheus/ from the recording rules.
docs:
	$(GO) test -count=1 -run TestREADMEDocumentsEveryFlag ./cmd/server/ -args -update-readme
	$(GO) test -count=1 -run TestShippedRecordingRules ./internal/prom/ -args -update-rules

# The graph builder's benchmark, whose figures docs/performance.md quotes.
bench:
	$(GO) test -run '^$$' -bench Build -benchmem ./internal/graph/
	$(GO) test -run '^$$' -bench Publish -benchmem ./internal/live/
	$(GO) test -run '^$$' -bench Fetch -benchmem ./internal/prom/
	$(GO) test -run '^$$' -bench PodCache -benchtime 3x ./internal/k8s/

# The page on generated meshes of 5,000 and 20,000 edges in headless Chromium: each
# figure (time to ready, renderer memory, a 1% delta's apply time) printed beside its
# target, failing when one is missed. Three visits each, the median held. Run it on a
# quiet machine: its figures are the machine's as much as the page's.
BROWSER_VISITS ?= 3
bench-browser:
	$(GO) test -count=1 -run '^$$' -bench 'MeshInBrowser$$' -benchtime $(BROWSER_VISITS)x -timeout 10m ./cmd/server/

# V WebSocket viewers of a 5,000-edge graph on the real binary (issue 14): delivery latency,
# RSS, CPU, goroutines. VIEWERS=1000,10000 by default.
VIEWERS ?= 1000,10000
loadtest: testbed
	$(GO) run ./test/loadtest -viewers=$(VIEWERS)

# meshlock on a synthetic mesh on the real test bed (test/scale): SCALE is namespaces,services per
# namespace,edges, DURATION the measurement after a minute of warm-up. The table goes to stdout.
# SCRAPE_INTERVAL is Prometheus' scrape of the mesh (1s by default).
SCALE ?= 20,50,5000
DURATION ?= 2m
SCRAPE_INTERVAL ?= 1s
SCALE_FLAGS ?=
CLUSTERS ?= 1
scale: testbed
	$(GO) run ./test/scale -scale=$(SCALE) -clusters=$(CLUSTERS) -duration=$(DURATION) -scrape-interval=$(SCRAPE_INTERVAL) $(SCALE_FLAGS)

clean:
	rm -rf bin .testbed
