# uploads: see README.md. `make demo` and `make test` are the quick start.
GO      ?= go
BIN     := bin/uploads
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo none)
DATE    ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS := -s -w -X github.com/uploads-dev/uploads/internal/cli.Version=$(VERSION) \
           -X github.com/uploads-dev/uploads/internal/cli.Commit=$(COMMIT) \
           -X github.com/uploads-dev/uploads/internal/cli.Date=$(DATE)

.PHONY: build install test race lint bench bench-put bench-peers demo fuzz tidy-check docs release-check snapshot clean

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/uploads

# Install the binary: into $(go env GOPATH)/bin, or $(PREFIX)/bin when PREFIX is set.
PREFIX ?=
install: build
	@dest="$(PREFIX)"; if [ -z "$$dest" ]; then dest="$$($(GO) env GOPATH)"; fi; \
	mkdir -p "$$dest/bin" && install -m 0755 $(BIN) "$$dest/bin/uploads" && echo "installed $$dest/bin/uploads"

# All tests, always with the race detector.
test:
	$(GO) test -race -count=1 -timeout 20m ./...

race: test

# Formatting, vet, golangci-lint (pinned; installed into bin/tools on first
# use) and a tidy go.mod.
GOLANGCI_LINT_VERSION := v2.6.2
GOLANGCI_LINT := bin/tools/golangci-lint-$(GOLANGCI_LINT_VERSION)

$(GOLANGCI_LINT):
	mkdir -p bin/tools
	GOBIN=$(CURDIR)/bin/tools $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)
	mv bin/tools/golangci-lint $(GOLANGCI_LINT)

lint: $(GOLANGCI_LINT)
	@out=$$(gofmt -l cmd internal scripts 2>/dev/null); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GOLANGCI_LINT) run ./...
	$(MAKE) tidy-check

# go mod tidy must leave go.mod and go.sum as they are.
tidy-check:
	@tmp=$$(mktemp -d); cp go.mod go.sum $$tmp/; $(GO) mod tidy; \
	if ! cmp -s go.mod $$tmp/go.mod || ! cmp -s go.sum $$tmp/go.sum; then \
	  echo "go mod tidy changes go.mod/go.sum: run it and commit the result"; diff -u $$tmp/go.mod go.mod; \
	  cp $$tmp/go.mod $$tmp/go.sum .; rm -rf $$tmp; exit 1; fi; rm -rf $$tmp

# Benchmarks; figures go to docs/benchmarks.md. First the Go benchmarks
# (testing.B; packages run one after another; internal/bench uploads with
# `uploads put` and the official SDK to `uploads serve --strict`, far and on
# loopback, about 4 minutes, and checks that the engine's rate cap holds
# within 5 %, about 1 minute), then a short bench-peers (one run of 200 MiB and
# 1 GiB and the many-files scenario, about 4 minutes).
bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 3x -timeout 30m ./...
	$(MAKE) bench-peers PEERS_FLAGS='--sizes 200MiB,1GiB --runs 1'

# `uploads put` side by side with the official Go SDK (scripts/sdkput), curl
# (scripts/curl-upload.sh), md5sum and a plain read, against `uploads serve
# --strict --tls` (HTTPS, HTTP/2 offered by ALPN, as the real service's edge):
# "far" (--latency 20ms --throttle 10MiB: what one TCP flow over a long path
# gets, what users of the real service meet) and loopback (TLS too); then 200
# files of 1 MiB, `uploads put --jobs 8` against a loop of sdkput. Prints
# markdown tables (with the TCP connections the server held, and each
# client's CPU against the floor md5sum + curl) and the goals met. The default
# set (far: 256 MiB, 512 MiB, 1 GiB and the 200 files; loopback: 1 GiB; 3 runs
# of each tool; 30-35 minutes on the shared 2-core machine, the SDK and curl
# sending at 10 MiB/s; ~4 GiB free in $TMPDIR) is `make bench-peers`.
# Knobs, through PEERS_FLAGS (see `go run ./scripts/benchpeers -h`):
#   --sizes 1GiB,4GiB               file sizes in the far (and link) setting
#   --loopback-sizes 512MiB         file sizes on loopback (for information)
#   --settings far,link             of far, link, loopback; link (opt-in): one
#                                   cap shared by all connections, none each
#   --link-throttle 80MiB           the link setting's shared cap
#   --tls=false                     plain HTTP in every setting, for comparison
#   --scenarios files               files and/or many
#   --tools put,sdk,md5sum          of read, md5sum, sdk, curl, put, put-c4, put-c16
#   --runs 1                        runs of each tool (time, CPU: medians)
#   --latency 50ms --throttle 20MiB the far setting
#   --many 500x4MiB --jobs 16       the many-files scenario
# e.g. make bench-peers PEERS_FLAGS='--sizes 512MiB --settings far,link --tools md5sum,curl,put,put-c4,put-c16 --runs 1 --scenarios files'
PEERS_FLAGS ?=
bench-peers: build
	@command -v curl >/dev/null || apt-get install -y curl
	@[ -x /usr/bin/time ] || apt-get install -y time
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/sdkput ./scripts/sdkput
	$(GO) run ./scripts/benchpeers --uploads $(BIN) --sdkput bin/sdkput $(PEERS_FLAGS)

# Only the end-to-end benchmarks of `uploads put` (internal/bench).
bench-put:
	$(GO) test -run '^$$' -bench . -benchtime 3x -timeout 30m ./internal/bench

# Fuzz every fuzz target briefly, FUZZTIME each (the seed corpus also runs in
# `make test`). Keep the list whole: grep -rn "func Fuzz" internal.
FUZZTIME ?= 30s
fuzz:
	@want=$$(grep -rhoE '^func Fuzz[A-Za-z0-9_]+' internal | wc -l); \
	have=$$(grep -cE -- "-fuzz '.Fuzz[A-Za-z0-9]+[$$]" $(firstword $(MAKEFILE_LIST))); \
	if [ "$$want" != "$$have" ]; then echo "make fuzz runs $$have fuzz targets of $$want: add the others"; exit 1; fi
	$(GO) test ./internal/server -run '^$$' -fuzz '^FuzzHandlers$$' -fuzztime $(FUZZTIME)
	$(GO) test ./internal/server -run '^$$' -fuzz '^FuzzPartData$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 200x
	$(GO) test ./internal/units -run '^$$' -fuzz '^FuzzParseSize$$' -fuzztime $(FUZZTIME)
	$(GO) test ./internal/journal -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME)
	$(GO) test ./internal/seen -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME)
	$(GO) test ./internal/check -run '^$$' -fuzz '^FuzzJSONL$$' -fuzztime $(FUZZTIME)
	$(GO) test ./internal/fileset -run '^$$' -fuzz '^FuzzPattern$$' -fuzztime $(FUZZTIME)

# The command reference, generated from the commands: docs/reference/*.md
# and docs/man/*.1 (committed; run after changing a command's help or flags).
docs:
	SOURCE_DATE_EPOCH=$$(git log -1 --format=%ct 2>/dev/null || date +%s) $(GO) run ./scripts/gendocs

# Build, start a throw-away server, upload a sample file through it, show the file id.
demo: build
	bash scripts/demo.sh $(BIN)

# Release: a pinned goreleaser, installed into bin/tools on first use.
GORELEASER_VERSION := v2.12.7
GORELEASER := bin/tools/goreleaser-$(GORELEASER_VERSION)

$(GORELEASER):
	mkdir -p bin/tools
	GOBIN=$(CURDIR)/bin/tools $(GO) install github.com/goreleaser/goreleaser/v2@$(GORELEASER_VERSION)
	mv bin/tools/goreleaser $(GORELEASER)

# Check .goreleaser.yaml.
release-check: $(GORELEASER)
	$(GORELEASER) check

# Build a local snapshot release into dist/: six platforms, archives, checksums.
snapshot: $(GORELEASER)
	$(GORELEASER) release --snapshot --clean

clean:
	rm -rf bin dist
