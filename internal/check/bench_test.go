package check

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"testing"
)

// The benchmarks feed the same bytes, in the 1 MiB pieces the MD5 pass
// reads (internal/upload/hash.go), to crypto/md5 and to the Checker, so
// their costs per GiB compare directly. docs/checks.md records them.

const benchSize = 64 << 20

var (
	benchOnce                      sync.Once
	chatData, imageData, batchData []byte
)

// benchData builds three JSONL files of benchSize bytes: chat fine-tuning
// examples of about 0.5 to 3 KB a line, in a text where every other word
// needs an escape or is not ASCII (the worst case for the fast path);
// vision examples with a base64 image of about 1.3 MB a line (lines cross
// the 1 MiB pieces); and batch requests of about 0.5 to 6 KB a line in
// plain English with a few escapes.
func benchData() {
	benchOnce.Do(func() {
		rng := rand.New(rand.NewPCG(1, 2))
		words := []string{"the", "file", "upload", "part", "é", "日本", "model", "\"quoted\"", "line\nbreak", "tab\t", "42", "checksum"}
		text := func(n int) string {
			var b bytes.Buffer
			for b.Len() < n {
				b.WriteString(words[rng.IntN(len(words))])
				b.WriteByte(' ')
			}
			return b.String()
		}
		var b bytes.Buffer
		for b.Len() < benchSize {
			line, _ := json.Marshal(map[string]any{"messages": []map[string]any{
				{"role": "system", "content": text(100)},
				{"role": "user", "content": text(200 + rng.IntN(1500))},
				{"role": "assistant", "content": text(100 + rng.IntN(800)), "weight": 1},
			}})
			b.Write(line)
			b.WriteByte('\n')
		}
		chatData = b.Bytes()[:benchSize]

		img := make([]byte, 1<<20)
		for i := range img {
			img[i] = byte(rng.Uint32())
		}
		url := "data:image/png;base64," + base64.StdEncoding.EncodeToString(img)
		var v bytes.Buffer
		for v.Len() < benchSize {
			line, _ := json.Marshal(map[string]any{"messages": []map[string]any{
				{"role": "user", "content": []map[string]any{{"type": "image_url", "image_url": map[string]string{"url": url}}}},
				{"role": "assistant", "content": text(200)},
			}})
			v.Write(line)
			v.WriteByte('\n')
		}
		imageData = v.Bytes()[:benchSize]

		english := []string{"the", "request", "asks", "for", "a", "short", "summary", "of", "this", "document,", "which", "describes",
			"how", "files", "are", "uploaded", "in", "parts", "and", "checked", "before", "they", "are", "sent.", "\"Note\"", "it's", "\n\n"}
		var r bytes.Buffer
		for i := 0; r.Len() < benchSize; i++ {
			var t bytes.Buffer
			for n := 400 + rng.IntN(5000); t.Len() < n; {
				t.WriteString(english[rng.IntN(len(english))])
				t.WriteByte(' ')
			}
			line, _ := json.Marshal(map[string]any{"custom_id": fmt.Sprintf("request-%d", i), "method": "POST", "url": "/v1/chat/completions",
				"body": map[string]any{"model": "gpt-4o-mini", "max_tokens": 1000, "temperature": 0.2, "messages": []map[string]any{
					{"role": "system", "content": "You are a helpful assistant."},
					{"role": "user", "content": t.String()},
				}}})
			r.Write(line)
			r.WriteByte('\n')
		}
		batchData = r.Bytes()[:benchSize]
	})
}

// feed writes data to w in 1 MiB pieces.
func feed(w io.Writer, data []byte) {
	for len(data) > 0 {
		n := min(len(data), 1<<20)
		w.Write(data[:n])
		data = data[n:]
	}
}

func benchInputs(b *testing.B) map[string][]byte {
	benchData()
	// The last line is cut at benchSize: end the data at a whole line.
	whole := func(d []byte) []byte { return d[:bytes.LastIndexByte(d, '\n')+1] }
	return map[string][]byte{"chat": whole(chatData), "image": whole(imageData), "batch": whole(batchData)}
}

func BenchmarkMD5(b *testing.B) {
	for name, data := range benchInputs(b) {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				h := md5.New()
				feed(h, data)
				h.Sum(nil)
			}
		})
	}
}

func BenchmarkChecker(b *testing.B) {
	for name, data := range benchInputs(b) {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				c := New("fine-tune", "bench.jsonl", int64(len(data)))
				feed(c, data)
				if err := c.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkMD5AndChecker is the MD5 pass with the Checker beside it in an
// io.MultiWriter, on one goroutine: what the hash goroutine would pay.
func BenchmarkMD5AndChecker(b *testing.B) {
	for name, data := range benchInputs(b) {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				h := md5.New()
				c := New("fine-tune", "bench.jsonl", int64(len(data)))
				feed(io.MultiWriter(h, c), data)
				if err := c.Close(); err != nil {
					b.Fatal(err)
				}
				h.Sum(nil)
			}
		})
	}
}

// BenchmarkValidators compares ways to check each line, on lines already
// split: objectLine (the Checker's fast path), and with encoding/json:
// json.Valid (the Checker's slow path, for messages), Unmarshal into a
// json.RawMessage, and a json.Decoder over the whole stream (which does not
// even see line boundaries).
func BenchmarkValidators(b *testing.B) {
	data := benchInputs(b)["chat"]
	lines := bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
	b.Run("objectLine", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			for _, l := range lines {
				if !objectLine(l) {
					b.Fatal("invalid")
				}
			}
		}
	})
	b.Run("Valid", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			for _, l := range lines {
				if !json.Valid(l) {
					b.Fatal("invalid")
				}
			}
		}
	})
	b.Run("UnmarshalRawMessage", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			var v json.RawMessage
			for _, l := range lines {
				if err := json.Unmarshal(l, &v); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("DecoderRawMessage", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			d := json.NewDecoder(bytes.NewReader(data))
			for {
				var v json.RawMessage
				if err := d.Decode(&v); err == io.EOF {
					break
				} else if err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}
