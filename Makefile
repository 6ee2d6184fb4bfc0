# uploads: see README.md. `make demo` and `make test` are the quick start.
GO      ?= go
BIN     := bin/uploads
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo none)
DATE    ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS := -s -w -X github.com/uploads-dev/uploads/internal/cli.Version=$(VERSION) \
           -X github.com/uploads-dev/uploads/internal/cli.Commit=$(COMMIT) \
           -X github.com/uploads-dev/uploads/internal/cli.Date=$(DATE)

.PHONY: build test race lint bench demo fuzz tidy-check docs clean

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/uploads

# All tests, always with the race detector.
test:
	$(GO) test -race -count=1 -timeout 20m ./...

race: test

# Formatting, vet, and a tidy go.mod.
lint:
	@out=$$(gofmt -l cmd internal scripts 2>/dev/null); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(MAKE) tidy-check

tidy-check:
	@cp go.mod /tmp/uploads-go.mod.bak; cp go.sum /tmp/uploads-go.sum.bak; \
	$(GO) mod tidy; \
	if ! git diff --quiet -- go.mod go.sum; then echo "go mod tidy changes go.mod/go.sum"; git diff -- go.mod go.sum; \
	  cp /tmp/uploads-go.mod.bak go.mod; cp /tmp/uploads-go.sum.bak go.sum; exit 1; fi

# Benchmarks of the hot paths (Go testing.B); figures go to docs/benchmarks.md.
bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 3x ./...

# Fuzz each request handler briefly (the seed corpus also runs in `make test`).
FUZZTIME ?= 30s
fuzz:
	$(GO) test ./internal/server -run '^$$' -fuzz '^FuzzHandlers$$' -fuzztime $(FUZZTIME)
	$(GO) test ./internal/units -run '^$$' -fuzz '^FuzzParseSize$$' -fuzztime $(FUZZTIME)
	$(GO) test ./internal/journal -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME)

# The command reference, generated from the commands: docs/reference/*.md
# and docs/man/*.1 (committed; run after changing a command's help or flags).
docs:
	SOURCE_DATE_EPOCH=$$(git log -1 --format=%ct 2>/dev/null || date +%s) $(GO) run ./scripts/gendocs

# Build, start a throw-away server, upload a sample file through it, show the file id.
demo: build
	bash scripts/demo.sh $(BIN)

clean:
	rm -rf bin dist
