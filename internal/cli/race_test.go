//go:build race

package cli_test

// raceEnabled: the race detector's shadow memory raises every process's RSS
// by about 20 MiB, so memory bounds are relative to a baseline.
const raceEnabled = true
