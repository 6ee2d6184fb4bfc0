// Package bench holds the end-to-end benchmarks of uploads put against the
// bundled server in --strict mode (exactly the real service's API) and the
// official SDK.
//
// The benchmarks build cmd/uploads and scripts/sdkput once per process, run
// `uploads serve --strict` as a real process on a loopback port, and run
// each upload as a child process under GNU time, so that its time, CPU and
// peak RSS are its own (see benchkit.GNUTime). Every file they upload is
// read back and its MD5 compared with the source's. BenchmarkLimitRate
// instead runs the engine in the benchmark's process with an
// upload.NewLimiter cap (the server checks the MD5 at complete) and fails
// unless the cap holds within 5 %. They are benchmarks only
// (`make bench` or `make bench-put`); nothing here runs in `make test`, and
// they skip under -short. scripts/benchpeers measures more sizes, tools and
// the many-files case; figures are in docs/benchmarks.md.
package bench
