# lienthong: the same checks run here and in CI (.ci/run).
GO          ?= go
STATICCHECK ?= staticcheck
FUZZTIME    ?= 5s

# VERSION names the package and is what -version (lienthongd) and
# --version (lienthong) print.
VERSION     ?= 0.1.0
LDFLAGS     := -s -w -X lienthong/gateway.Version=$(VERSION) -X main.version=$(VERSION)
PKGROOT     := dist/root

.PHONY: all build test lint bench bench-smoke fuzz-smoke deb clean

all: lint test

build:
	$(GO) build ./...

## test: the whole suite with the race detector
test:
	$(GO) test -race -count=1 ./...

## lint: gofmt, go vet and staticcheck must be silent
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(STATICCHECK) ./...
	cd deploy/deb && $(GO) vet . && $(STATICCHECK) .

## bench: every benchmark, five runs each, for benchstat
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 5 ./...

## bench-smoke: every benchmark once, so none can rot
bench-smoke:
	$(GO) test -run '^$$' -bench . -benchtime 1x ./...

## fuzz-smoke: each fuzz target for $(FUZZTIME)
fuzz-smoke:
	GO=$(GO) FUZZTIME=$(FUZZTIME) .ci/fuzz-smoke

## deb: dist/lienthong_$(VERSION)_amd64.deb with both binaries, the unit, man pages and completions
deb:
	rm -rf $(PKGROOT) && mkdir -p $(PKGROOT)
	$(GO) build -trimpath -buildmode=pie -ldflags '$(LDFLAGS)' -o $(PKGROOT)/lienthongd ./cmd/lienthongd
	$(GO) build -trimpath -buildmode=pie -ldflags '$(LDFLAGS)' -o $(PKGROOT)/lienthong ./cmd/lienthong
	gzip -9n < deploy/deb/changelog > $(PKGROOT)/changelog.gz
	env -u LIENTHONG_API -u LIENTHONG_METRICS -u LIENTHONG_PEER -u LIENTHONG_PEER_API -u LIENTHONG_DAEMON \
	  SOURCE_DATE_EPOCH=$$(git log -1 --format=%ct 2>/dev/null || date +%s) $(PKGROOT)/lienthong man $(PKGROOT)/man1
	gzip -9n $(PKGROOT)/man1/*.1
	gzip -9n < docs/lienthongd.8 > $(PKGROOT)/lienthongd.8.gz
	for sh in bash zsh fish; do env -u LIENTHONG_API $(PKGROOT)/lienthong completion $$sh > $(PKGROOT)/lienthong.$$sh; done
	cd deploy/deb && VERSION=$(VERSION) $(GO) run . -config nfpm.yaml -target $(CURDIR)/dist

clean:
	rm -rf dist
