package server_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/uploads-dev/uploads/internal/faults"
	"github.com/uploads-dev/uploads/internal/server"
	"github.com/uploads-dev/uploads/internal/servertest"
)

func mustInjector(t testing.TB, rate float64, kinds string) *faults.Injector {
	return mustInjectorSeed(t, rate, kinds, 1)
}

func mustInjectorSeed(t testing.TB, rate float64, kinds string, seed uint64) *faults.Injector {
	t.Helper()
	k, err := faults.ParseKinds(kinds)
	if err != nil {
		t.Fatal(err)
	}
	inj, err := faults.New(faults.Config{Rate: rate, Kinds: k, Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	return inj
}

func TestCompleteValidation(t *testing.T) {
	s := servertest.Start(t, server.Config{})
	a, b := randomBytes(1, 300), randomBytes(2, 200)
	id := createUpload(t, s, key, 500)
	pa, pb := mustAddPart(t, s, key, id, a), mustAddPart(t, s, key, id, b)
	extra := mustAddPart(t, s, key, id, []byte("not listed"))
	otherUpload := createUpload(t, s, key, 500)
	foreign := mustAddPart(t, s, key, otherUpload, a)

	complete := func(body any) servertest.Response {
		return s.Do(t, "POST", "/uploads/"+id+"/complete", key, body, "application/json")
	}
	cases := []struct {
		name        string
		body        any
		param, code string
	}{
		{"malformed", `{"part_ids": [`, "", "invalid_json"},
		{"missing part_ids", map[string]any{}, "part_ids", "missing_required_parameter"},
		{"part_ids not array", map[string]any{"part_ids": "x"}, "part_ids", "invalid_type"},
		{"part_ids null", `{"part_ids": null}`, "part_ids", "invalid_type"},
		{"empty", map[string]any{"part_ids": []string{}}, "part_ids", "empty_part_ids"},
		{"duplicate", map[string]any{"part_ids": []string{pa, pa}}, "part_ids", "duplicate_part_id"},
		{"unknown", map[string]any{"part_ids": []string{pa, "part_nope"}}, "part_ids", "unknown_part_id"},
		{"foreign", map[string]any{"part_ids": []string{pa, foreign}}, "part_ids", "unknown_part_id"},
		{"too few bytes", map[string]any{"part_ids": []string{pa}}, "part_ids", "bytes_mismatch"},
		{"too many bytes", map[string]any{"part_ids": []string{pa, pb, extra}}, "part_ids", "bytes_mismatch"},
		{"md5 not hex", map[string]any{"part_ids": []string{pa, pb}, "md5": "xyz"}, "md5", "invalid_value"},
		{"md5 wrong", map[string]any{"part_ids": []string{pa, pb}, "md5": md5hex(append(append([]byte{}, b...), a...))}, "md5", "md5_mismatch"},
		{"md5 of wrong order", map[string]any{"part_ids": []string{pb, pa}, "md5": md5hex(append(append([]byte{}, a...), b...))}, "md5", "md5_mismatch"},
		{"unknown field", map[string]any{"part_ids": []string{pa, pb}, "sha": "x"}, "sha", "unknown_parameter"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { wantError(t, complete(c.body), 400, c.param, c.code) })
	}
	// Every refusal left the upload pending with its parts.
	if u := wantOK(t, s.Do(t, "GET", "/uploads/"+id, key, nil, "")); u["status"] != "pending" {
		t.Fatalf("status after refusals = %v", u["status"])
	}

	whole := append(append([]byte{}, a...), b...)
	u := wantOK(t, complete(map[string]any{"part_ids": []string{pa, pb}, "md5": md5hex(whole)}))
	f, _ := u["file"].(map[string]any)
	if u["status"] != "completed" || f == nil || f["bytes"] != float64(500) || f["object"] != "file" || f["status"] != "processed" {
		t.Fatalf("completed upload = %v", u)
	}
	if _, ok := f["expires_at"]; ok {
		t.Fatalf("a file without expires_after has expires_at: %v", f)
	}
	fid := f["id"].(string)
	if r := s.Do(t, "GET", "/files/"+fid+"/content", key, nil, ""); !bytes.Equal(r.Body, whole) {
		t.Fatal("content is not the listed parts in order")
	}
	// The part that was not listed is gone from disk; the listed ones are the file.
	entries := partFiles(t, s.DataDir, id)
	if len(entries) != 2 {
		t.Fatalf("%d part files after completion, want the 2 listed", len(entries))
	}
	// Final states refuse further changes, with 400 (never 409).
	wantError(t, complete(map[string]any{"part_ids": []string{pa, pb}}), 400, "", "upload_not_pending")
	wantError(t, s.Do(t, "POST", "/uploads/"+id+"/cancel", key, nil, ""), 400, "", "upload_not_pending")
	// GET /uploads/{id} (extension) shows the file too.
	if g := wantOK(t, s.Do(t, "GET", "/uploads/"+id, key, nil, "")); g["file"].(map[string]any)["id"] != fid {
		t.Fatalf("GET upload = %v", g)
	}
}

func TestCompleteWithoutMD5AndFileExpiry(t *testing.T) {
	s := servertest.Start(t, server.Config{})
	body := newUpload("video", "video/mp4", 4)
	body["expires_after"] = map[string]any{"anchor": "created_at", "seconds": 3600}
	id := wantOK(t, s.Do(t, "POST", "/uploads", key, body, ""))["id"].(string)
	p := mustAddPart(t, s, key, id, []byte("abcd"))
	f := wantOK(t, s.Do(t, "POST", "/uploads/"+id+"/complete", key, map[string]any{"part_ids": []string{p}}, ""))["file"].(map[string]any)
	if f["expires_at"].(float64)-f["created_at"].(float64) != 3600 {
		t.Fatalf("file expires_at = %v, created_at = %v", f["expires_at"], f["created_at"])
	}
	fid := f["id"].(string)
	s.Clock.Advance(3600 * time.Second)
	wantError(t, s.Do(t, "GET", "/files/"+fid, key, nil, ""), 404, "id", "not_found")
	if l := wantOK(t, s.Do(t, "GET", "/files", key, nil, "")); len(l["data"].([]any)) != 0 {
		t.Fatalf("an expired file is listed: %v", l)
	}
	if r, err := s.Store.Reap(); err != nil || r.Files != 1 {
		t.Fatalf("Reap = %+v, %v", r, err)
	}
	if left := partFiles(t, s.DataDir, id); len(left) != 0 {
		t.Fatalf("the expired file's bytes are still on disk: %v", left)
	}
	// The upload still says completed, and no longer shows a file.
	if u := wantOK(t, s.Do(t, "GET", "/uploads/"+id, key, nil, "")); u["status"] != "completed" || u["file"] != nil {
		t.Fatalf("upload of an expired file = %v", u)
	}
}

func TestCancel(t *testing.T) {
	s := servertest.Start(t, server.Config{})
	id := createUpload(t, s, key, 10)
	mustAddPart(t, s, key, id, []byte("01234"))
	u := wantOK(t, s.Do(t, "POST", "/uploads/"+id+"/cancel", key, nil, ""))
	if u["status"] != "cancelled" || u["object"] != "upload" || u["file"] != nil {
		t.Fatalf("cancelled upload = %v", u)
	}
	if left := partFiles(t, s.DataDir, id); len(left) != 0 {
		t.Fatalf("cancelled parts still on disk: %v", left)
	}
	if l := wantOK(t, s.Do(t, "GET", "/uploads/"+id+"/parts", key, nil, "")); len(l["data"].([]any)) != 0 {
		t.Fatalf("parts after cancel: %v", l)
	}
	wantError(t, s.Do(t, "POST", "/uploads/"+id+"/cancel", key, nil, ""), 400, "", "upload_not_pending")
	wantError(t, s.Do(t, "POST", "/uploads/"+id+"/complete", key, map[string]any{"part_ids": []string{"part_x"}}, ""), 400, "", "upload_not_pending")
}
