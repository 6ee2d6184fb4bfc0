# uploads: see README.md. `make demo` and `make test` are the quick start.
GO      ?= go
BIN     := bin/uploads
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo none)
DATE    ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS := -s -w -X github.com/uploads-dev/uploads/internal/cli.Version=$(VERSION) \
           -X github.com/uploads-dev/uploads/internal/cli.Commit=$(COMMIT) \
           -X github.com/uploads-dev/uploads/internal/cli.Date=$(DATE)

.PHONY: build test race lint bench bench-put bench-peers demo fuzz tidy-check docs release-check snapshot clean

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/uploads

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
# (testing.B; packages run one after another; internal/bench uploads about 8 GiB
# with `uploads put` and the official SDK to `uploads serve`, about 2 minutes),
# then bench-peers with 256 MiB and 1 GiB files only (about 4 minutes).
bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 3x -timeout 30m ./...
	$(MAKE) bench-peers PEERS_FLAGS='--sizes 256MiB,1GiB'

# `uploads put` side by side with the official Go SDK (scripts/sdkput), the curl
# flow (scripts/curl-upload.sh), md5sum and a plain read, on loopback and under
# `uploads serve --throttle 40MiB`; prints markdown tables. The full set (256 MiB,
# 1 GiB and 4 GiB; about 15 minutes, ~13 GiB of free disk in $TMPDIR) is the
# default: make bench-peers. Fewer: make bench-peers PEERS_FLAGS='--sizes 1GiB --runs 3'.
PEERS_FLAGS ?= --sizes 256MiB,1GiB,4GiB --settings loopback,throttle --runs 1
bench-peers: build
	@command -v curl >/dev/null || apt-get install -y curl
	@[ -x /usr/bin/time ] || apt-get install -y time
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/sdkput ./scripts/sdkput
	$(GO) run ./scripts/benchpeers --uploads $(BIN) --sdkput bin/sdkput $(PEERS_FLAGS)

# Only the end-to-end benchmarks of `uploads put` (internal/bench).
bench-put:
	$(GO) test -run '^$$' -bench . -benchtime 3x -timeout 30m ./internal/bench

# Fuzz each request handler briefly (the seed corpus also runs in `make test`).
FUZZTIME ?= 30s
fuzz:
	$(GO) test ./internal/server -run '^$$' -fuzz '^FuzzHandlers$$' -fuzztime $(FUZZTIME)
	$(GO) test ./internal/server -run '^$$' -fuzz '^FuzzPartData$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 200x
	$(GO) test ./internal/units -run '^$$' -fuzz '^FuzzParseSize$$' -fuzztime $(FUZZTIME)
	$(GO) test ./internal/journal -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME)

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
