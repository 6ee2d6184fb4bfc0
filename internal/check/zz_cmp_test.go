package check

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"
)

// TestCompareVariants times objectLine variants side by side (temporary).
func TestCompareVariants(t *testing.T) {
	if os.Getenv("CMP") == "" {
		t.Skip()
	}
	variants := []struct {
		name string
		f    func([]byte) bool
	}{{"old", objectLineOld}, {"new", objectLine}}
	for _, in := range []string{"chat", "image", "batch"} {
		data := benchInputs(nil)[in]
		lines := bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
		times := make([][]float64, len(variants))
		for r := 0; r < 15; r++ {
			for v, vr := range variants {
				st := time.Now()
				for _, l := range lines {
					if !vr.f(l) {
						t.Fatal("invalid")
					}
				}
				times[v] = append(times[v], time.Since(st).Seconds()*float64(1<<30)/float64(len(data)))
			}
		}
		for v, vr := range variants {
			slices.Sort(times[v])
			fmt.Printf("%-6s %-5s min %.3f med %.3f s/GiB\n", in, vr.name, times[v][0], times[v][len(times[v])/2])
		}
	}
}
