package server_test

// These tests validate the JSON the server answers against the component
// schemas of the official OpenAPI description (a verbatim copy lives in
// testdata/openapi at the repository root), and prove that the check can
// fail: a validator that cannot read a schema and then accepts everything
// would otherwise go unnoticed.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"mime/multipart"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"

	"github.com/uploads-dev/uploads/internal/server"
	"github.com/uploads-dev/uploads/internal/servertest"
)

const (
	// oasSpecFile is the copy of the spec the tests use (from this package's
	// directory, internal/server).
	oasSpecFile = "../../testdata/openapi/openai-uploads-files.openapi.yaml"
	// oasSharedSpecFile is where the spec is kept beside the repository,
	// when it is checked out there.
	oasSharedSpecFile = "../../../shared/spec/openai-uploads-files.openapi.yaml"
	// oasURL is the name the whole document is registered under.
	oasURL = "spec.json"
)

// oasSchemaNames are the component schemas the server's answers must match.
var oasSchemaNames = []string{"Upload", "UploadPart", "OpenAIFile", "ListFilesResponse", "DeleteFileResponse", "ErrorResponse"}

// oasSpec is the compiled schemas, by component name, and how many
// `nullable` keywords were rewritten.
type oasSpec struct {
	schemas  map[string]*jsonschema.Schema
	nullable int
}

var oasLoaded = sync.OnceValues(oasLoad)

// oasSchemas compiles the spec once per test binary.
func oasSchemas(t *testing.T) *oasSpec {
	t.Helper()
	spec, err := oasLoaded()
	if err != nil {
		t.Fatalf("OpenAPI description: %v", err)
	}
	return spec
}

func oasLoad() (*oasSpec, error) {
	raw, err := os.ReadFile(oasSpecFile)
	if err != nil {
		return nil, err
	}
	var y any
	if err := yaml.Unmarshal(raw, &y); err != nil {
		return nil, fmt.Errorf("parse YAML: %w", err)
	}
	// Round-trip through encoding/json so that the document holds only
	// JSON values (numbers as json.Number), as the validator expects.
	j, err := json.Marshal(oasJSONValue(y))
	if err != nil {
		return nil, fmt.Errorf("convert to JSON: %w", err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
	if err != nil {
		return nil, err
	}
	spec := &oasSpec{schemas: map[string]*jsonschema.Schema{}, nullable: oasRewriteNullable(doc)}

	c := jsonschema.NewCompiler()
	// OpenAPI 3.1 schemas are JSON Schema 2020-12 (the document has no
	// $schema; say so rather than rely on the library's default).
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource(oasURL, doc); err != nil {
		return nil, err
	}
	for _, name := range oasSchemaNames {
		sch, err := c.Compile(oasURL + "#/components/schemas/" + name)
		if err != nil {
			return nil, fmt.Errorf("compile %s: %w", name, err)
		}
		spec.schemas[name] = sch
	}
	return spec, nil
}

// oasJSONValue turns what yaml.v3 decodes into values encoding/json can
// write (a mapping with non-string keys comes as map[any]any).
func oasJSONValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = oasJSONValue(e)
		}
		return x
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[fmt.Sprint(k)] = oasJSONValue(e)
		}
		return m
	case []any:
		for i, e := range x {
			x[i] = oasJSONValue(e)
		}
		return x
	}
	return v
}

// oasRewriteNullable rewrites, in place, the OpenAPI 3.0 keyword
// `nullable: true` into JSON Schema 2020-12, and returns how many it found.
//
// The description is OpenAPI 3.1 (JSON Schema 2020-12), but Upload.file is
// still written the 3.0 way:
//
//	file:
//	  allOf:
//	    - $ref: "#/components/schemas/OpenAIFile"
//	    - nullable: true
//
// jsonschema/v6 compiles that without complaint, because 2020-12 ignores
// unknown keywords: `nullable` would silently mean nothing. (Here null would
// pass anyway, and only by accident: OpenAIFile has no `type: object`, so
// its `required` and `properties` say nothing about a non-object.) Rather
// than depend on that accident, the nullability is made explicit:
//
//   - {allOf: [S…, {nullable: true, …}]} becomes
//     {anyOf: [{type: "null"}, {allOf: [S…, {…}]}]}: null, or every member;
//   - {type: T, nullable: true} becomes {type: [T, "null"]};
//   - any other {nullable: true, …} becomes {anyOf: [{type: "null"}, {…}]}.
func oasRewriteNullable(v any) int {
	n := 0
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			n += oasRewriteNullable(e)
		}
	case map[string]any:
		// The parent first: a nullable allOf member makes the allOf nullable.
		if all, ok := x["allOf"].([]any); ok {
			nullable := false
			for _, m := range all {
				if mm, ok := m.(map[string]any); ok && mm["nullable"] == true {
					delete(mm, "nullable")
					nullable = true
					n++
				}
			}
			if nullable {
				delete(x, "allOf")
				x["anyOf"] = []any{map[string]any{"type": "null"}, map[string]any{"allOf": all}}
			}
		}
		if x["nullable"] == true {
			delete(x, "nullable")
			n++
			switch typ := x["type"].(type) {
			case string:
				x["type"] = []any{typ, "null"}
			case []any:
				x["type"] = append(typ, "null")
			default:
				rest := make(map[string]any, len(x))
				for k, e := range x {
					rest[k] = e
					delete(x, k)
				}
				x["anyOf"] = []any{map[string]any{"type": "null"}, rest}
			}
		}
		for _, e := range x {
			n += oasRewriteNullable(e)
		}
	}
	return n
}

// validate checks a JSON answer against a component schema.
func (spec *oasSpec) validate(name string, body []byte) error {
	sch, ok := spec.schemas[name]
	if !ok {
		return fmt.Errorf("no schema %q compiled", name)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	return sch.Validate(v)
}

// oasCheck requires a JSON answer with the given status that matches the
// named schema, and returns it decoded.
func oasCheck(t *testing.T, spec *oasSpec, name string, r servertest.Response, status int) map[string]any {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	if err := spec.validate(name, r.Body); err != nil {
		t.Fatalf("answer does not match %s:\n%s\n%v", name, r.Body, err)
	}
	return r.JSON(t)
}

// oasUndocumented lists the fields of obj that are not properties of the
// named schema (the schemas allow more; strict mode sends no more), and
// those of a nested file (Upload.file, ListFilesResponse.data) that are not
// properties of OpenAIFile.
func oasUndocumented(spec *oasSpec, name string, obj map[string]any) []string {
	var out []string
	for k := range obj {
		if _, ok := spec.schemas[name].Properties[k]; !ok {
			out = append(out, name+"."+k)
		}
	}
	if f, ok := obj["file"].(map[string]any); ok && name == "Upload" {
		out = append(out, oasUndocumented(spec, "OpenAIFile", f)...)
	}
	if data, ok := obj["data"].([]any); ok && name == "ListFilesResponse" {
		for _, d := range data {
			if f, ok := d.(map[string]any); ok {
				out = append(out, oasUndocumented(spec, "OpenAIFile", f)...)
			}
		}
	}
	return out
}

// oasMultipart is a multipart/form-data body with the given text fields and
// one file field.
func oasMultipart(t *testing.T, fields map[string]string, fileField, filename string, data []byte) ([]byte, string) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for k, v := range fields {
		if err := w.WriteField(k, v); err != nil {
			t.Fatal(err)
		}
	}
	fw, err := w.CreateFormFile(fileField, filename)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), w.FormDataContentType()
}

// TestOpenAPISpecCopyIsVerbatim checks that testdata's copy of the spec is
// byte for byte the shared one, when the shared one is there.
func TestOpenAPISpecCopyIsVerbatim(t *testing.T) {
	shared, err := os.ReadFile(oasSharedSpecFile)
	if errors.Is(err, fs.ErrNotExist) {
		t.Skipf("%s is not there; nothing to compare the copy with", oasSharedSpecFile)
	}
	if err != nil {
		t.Fatal(err)
	}
	cp, err := os.ReadFile(oasSpecFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(cp, shared) {
		t.Fatalf("%s (%d bytes) differs from %s (%d bytes); copy it again, verbatim", oasSpecFile, len(cp), oasSharedSpecFile, len(shared))
	}
}

// TestOpenAPISchemasCompile requires every schema to compile into
// something with substance (a validator that compiled nothing would accept
// anything), and the one `nullable` of the spec to have been made explicit.
func TestOpenAPISchemasCompile(t *testing.T) {
	spec := oasSchemas(t)
	for _, name := range oasSchemaNames {
		sch := spec.schemas[name]
		if sch == nil {
			t.Fatalf("%s: not compiled", name)
		}
		if len(sch.Required) == 0 || len(sch.Properties) == 0 {
			t.Errorf("%s compiled without required fields or properties: required=%v, %d properties", name, sch.Required, len(sch.Properties))
		}
	}
	up := spec.schemas["Upload"]
	for _, f := range []string{"id", "bytes", "created_at", "expires_at", "filename", "purpose", "status"} {
		if !strings.Contains(" "+strings.Join(up.Required, " ")+" ", " "+f+" ") {
			t.Errorf("Upload: %q is not required (required=%v)", f, up.Required)
		}
	}
	if up.Types == nil || !strings.Contains(up.Types.String(), "object") {
		t.Errorf("Upload: type %v, want object", up.Types)
	}
	if spec.nullable != 1 {
		t.Errorf("rewrote %d `nullable` keywords, want the 1 of Upload.file", spec.nullable)
	}
	if file := up.Properties["file"]; file == nil || len(file.AnyOf) != 2 {
		t.Errorf("Upload.file is not anyOf [null, OpenAIFile] after the nullable rewrite")
	}
	if len(spec.schemas["ErrorResponse"].Properties["error"].Ref.Required) != 4 {
		t.Errorf("ErrorResponse.error does not resolve to Error with its 4 required fields")
	}
}

// TestOpenAPIAnswersMatchSchemas drives every endpoint and validates each
// JSON answer against its schema in the spec, in the default mode and in
// strict mode (where, beyond the schemas, no answer may carry a field they
// do not document, and the extension endpoints are unknown URLs).
//
// Only purposes in the spec's OpenAIFile purpose enum are used: "video"
// (and "evals") are documented extensions the server accepts, which the
// spec's enum lacks, so a video file would not match OpenAIFile.
func TestOpenAPIAnswersMatchSchemas(t *testing.T) {
	for _, mode := range []struct {
		name   string
		strict bool
	}{{"default", false}, {"strict", true}} {
		t.Run(mode.name, func(t *testing.T) { testOpenAPIAnswers(t, mode.strict) })
	}
}

func testOpenAPIAnswers(t *testing.T, strict bool) {
	spec := oasSchemas(t)
	s := servertest.Start(t, server.Config{Strict: strict})
	const k = "sk-openapi"
	oasCheck := func(t *testing.T, spec *oasSpec, name string, r servertest.Response, status int) map[string]any {
		t.Helper()
		obj := oasCheck(t, spec, name, r, status)
		if extra := oasUndocumented(spec, name, obj); strict && len(extra) > 0 {
			t.Errorf("strict mode answered fields the spec does not document: %v\n%s", extra, r.Body)
		}
		return obj
	}

	// GET /files, empty.
	list := oasCheck(t, spec, "ListFilesResponse", s.Do(t, "GET", "/files", k, nil, ""), 200)
	if data, _ := list["data"].([]any); data == nil || len(data) != 0 || list["has_more"] != false {
		t.Errorf("empty list: %v", list)
	}

	// POST /uploads: a pending Upload with file: null.
	part1, part2 := []byte(`{"a":1}`+"\n"), []byte(`{"b":2}`+"\n")
	up := oasCheck(t, spec, "Upload", s.Do(t, "POST", "/uploads", k, map[string]any{
		"filename": "data.jsonl", "purpose": "batch", "bytes": len(part1) + len(part2), "mime_type": "text/jsonl",
	}, ""), 200)
	if f, present := up["file"]; !present || f != nil || up["status"] != "pending" {
		t.Errorf("new upload: status %v, file %v (present %v); want pending with file: null", up["status"], f, present)
	}
	id, _ := up["id"].(string)

	// POST /uploads/{id}/parts: UploadPart (in the default mode, the
	// extension fields bytes and md5 are allowed: the schema does not forbid
	// additional properties).
	var partIDs []any
	for _, p := range [][]byte{part1, part2} {
		body, ct := oasMultipart(t, nil, "data", "blob", p)
		part := oasCheck(t, spec, "UploadPart", s.Do(t, "POST", "/uploads/"+id+"/parts", k, body, ct), 200)
		partIDs = append(partIDs, part["id"])
	}

	// GET /uploads/{id}/parts (extension): each item is an UploadPart; in
	// strict mode, an unknown URL.
	parts := s.Do(t, "GET", "/uploads/"+id+"/parts", k, nil, "")
	if strict {
		oasCheck(t, spec, "ErrorResponse", parts, 404)
	} else {
		var pl struct{ Data []json.RawMessage }
		if err := json.Unmarshal(parts.Body, &pl); err != nil || parts.Status != 200 || len(pl.Data) != 2 {
			t.Fatalf("GET parts: %d %s", parts.Status, parts.Body)
		}
		for _, p := range pl.Data {
			if err := spec.validate("UploadPart", p); err != nil {
				t.Errorf("listed part does not match UploadPart: %s\n%v", p, err)
			}
		}
	}

	// POST /uploads/{id}/complete: Upload with a nested OpenAIFile.
	done := oasCheck(t, spec, "Upload", s.Do(t, "POST", "/uploads/"+id+"/complete", k, map[string]any{"part_ids": partIDs}, ""), 200)
	file, ok := done["file"].(map[string]any)
	if !ok || done["status"] != "completed" {
		t.Fatalf("completed upload: status %v, file %v; want completed with a file object", done["status"], done["file"])
	}
	fileJSON, _ := json.Marshal(file)
	if err := spec.validate("OpenAIFile", fileJSON); err != nil {
		t.Errorf("the completed upload's file does not match OpenAIFile: %s\n%v", fileJSON, err)
	}
	fileID, _ := file["id"].(string)

	// GET /uploads/{id} (extension): the Upload as it stands; in strict
	// mode, an unknown URL.
	if strict {
		oasCheck(t, spec, "ErrorResponse", s.Do(t, "GET", "/uploads/"+id, k, nil, ""), 404)
	} else {
		oasCheck(t, spec, "Upload", s.Do(t, "GET", "/uploads/"+id, k, nil, ""), 200)
	}

	// POST /uploads/{id}/cancel: a cancelled Upload.
	up2 := oasCheck(t, spec, "Upload", s.Do(t, "POST", "/uploads", k, map[string]any{
		"filename": "notes.txt", "purpose": "assistants", "bytes": 5, "mime_type": "text/plain",
	}, ""), 200)
	id2, _ := up2["id"].(string)
	if c := oasCheck(t, spec, "Upload", s.Do(t, "POST", "/uploads/"+id2+"/cancel", k, nil, ""), 200); c["status"] != "cancelled" {
		t.Errorf("cancel: status %v", c["status"])
	}

	// An expired Upload, after its hour (strict mode can only see it
	// refuse a cancel).
	up3 := oasCheck(t, spec, "Upload", s.Do(t, "POST", "/uploads", k, map[string]any{
		"filename": "late.txt", "purpose": "assistants", "bytes": 5, "mime_type": "text/plain",
	}, ""), 200)
	s.Clock.Advance(2 * time.Hour)
	id3, _ := up3["id"].(string)
	if strict {
		e := oasCheck(t, spec, "ErrorResponse", s.Do(t, "POST", "/uploads/"+id3+"/cancel", k, nil, ""), 400)
		if code, _ := e["error"].(map[string]any)["code"].(string); code != "upload_expired" {
			t.Errorf("cancel after its hour: %v, want upload_expired", e)
		}
	} else if e := oasCheck(t, spec, "Upload", s.Do(t, "GET", "/uploads/"+id3, k, nil, ""), 200); e["status"] != "expired" {
		t.Errorf("upload after its hour: status %v, want expired", e["status"])
	}

	// POST /files: an OpenAIFile, with expires_at.
	body, ct := oasMultipart(t, map[string]string{
		"purpose": "assistants", "expires_after[anchor]": "created_at", "expires_after[seconds]": "3600",
	}, "file", "readme.md", []byte("# readme\n"))
	posted := oasCheck(t, spec, "OpenAIFile", s.Do(t, "POST", "/files", k, body, ct), 200)
	if _, ok := posted["expires_at"]; !ok {
		t.Errorf("POST /files with expires_after: no expires_at in %v", posted)
	}
	postedID, _ := posted["id"].(string)

	// GET /files, not empty; GET /files/{id}.
	list = oasCheck(t, spec, "ListFilesResponse", s.Do(t, "GET", "/files?limit=1", k, nil, ""), 200)
	if data, _ := list["data"].([]any); len(data) != 1 || list["has_more"] != true || list["first_id"] != postedID {
		t.Errorf("list with limit=1: %v", list)
	}
	list = oasCheck(t, spec, "ListFilesResponse", s.Do(t, "GET", "/files?order=asc", k, nil, ""), 200)
	if data, _ := list["data"].([]any); len(data) != 2 || list["first_id"] != fileID || list["last_id"] != postedID {
		t.Errorf("list in ascending order: %v", list)
	}
	oasCheck(t, spec, "OpenAIFile", s.Do(t, "GET", "/files/"+fileID, k, nil, ""), 200)

	// DELETE /files/{id}.
	if d := oasCheck(t, spec, "DeleteFileResponse", s.Do(t, "DELETE", "/files/"+fileID, k, nil, ""), 200); d["deleted"] != true || d["id"] != fileID {
		t.Errorf("delete: %v", d)
	}

	// Errors: 400, 401, 404, and the server's 405, all ErrorResponse.
	partBody, partCT := oasMultipart(t, nil, "data", "blob", []byte("hello"))
	for _, e := range []struct {
		what         string
		method, path string
		key          string
		body         any
		ct           string
		status       int
	}{
		{"unknown purpose", "POST", "/uploads", k, map[string]any{"filename": "x", "purpose": "answers", "bytes": 1, "mime_type": "text/plain"}, "", 400},
		{"malformed JSON", "POST", "/uploads", k, "{", "application/json", 400},
		{"wrong md5", "POST", "/uploads/" + id + "/complete", k, map[string]any{"part_ids": partIDs, "md5": "00000000000000000000000000000000"}, "", 400},
		{"part on a cancelled upload", "POST", "/uploads/" + id2 + "/parts", k, partBody, partCT, 400},
		{"bad limit", "GET", "/files?limit=0", k, nil, "", 400},
		{"no key", "GET", "/files", "", nil, "", 401},
		{"deleted file", "GET", "/files/" + fileID, k, nil, "", 404},
		{"another organization's file", "GET", "/files/" + postedID, "sk-other", nil, "", 404},
		{"unknown upload", "POST", "/uploads/upload_nope/cancel", k, nil, "", 404},
		{"unknown route", "GET", "/nope", k, nil, "", 404},
		{"method not allowed", "PUT", "/files", k, nil, "", 405},
	} {
		t.Run(e.what, func(t *testing.T) {
			oasCheck(t, spec, "ErrorResponse", s.Do(t, e.method, e.path, e.key, e.body, e.ct), e.status)
		})
	}
}

// TestOpenAPICheckCanFail feeds the validator answers known to be wrong
// (real answers with a required field removed or a value broken) and
// requires each to be refused, with known-good answers beside them as the
// control.
func TestOpenAPICheckCanFail(t *testing.T) {
	spec := oasSchemas(t)
	good := map[string]string{
		"Upload":             `{"id":"upload_1","object":"upload","bytes":3,"created_at":1,"expires_at":3601,"filename":"a.jsonl","purpose":"batch","status":"pending","file":null}`,
		"Upload+file":        `{"id":"upload_1","object":"upload","bytes":3,"created_at":1,"expires_at":3601,"filename":"a.jsonl","purpose":"batch","status":"completed","file":{"id":"file-1","object":"file","bytes":3,"created_at":2,"filename":"a.jsonl","purpose":"batch","status":"processed"}}`,
		"UploadPart":         `{"id":"part_1","object":"upload.part","created_at":1,"upload_id":"upload_1"}`,
		"OpenAIFile":         `{"id":"file-1","object":"file","bytes":3,"created_at":2,"filename":"a.jsonl","purpose":"batch","status":"processed"}`,
		"ListFilesResponse":  `{"object":"list","data":[],"first_id":"","last_id":"","has_more":false}`,
		"DeleteFileResponse": `{"id":"file-1","object":"file","deleted":true}`,
		"ErrorResponse":      `{"error":{"message":"No such File object: file-1","type":"invalid_request_error","param":"id","code":null}}`,
	}
	schemaOf := func(name string) string { return strings.TrimSuffix(name, "+file") }
	for name, body := range good {
		if err := spec.validate(schemaOf(name), []byte(body)); err != nil {
			t.Errorf("control %s is refused: %v", name, err)
		}
	}

	// Strict mode's check: a field the schema does not document is found,
	// at the top and in a nested file.
	for _, c := range []struct{ schema, body, want string }{
		{"UploadPart", `{"id":"part_1","object":"upload.part","created_at":1,"upload_id":"upload_1","md5":"x"}`, "UploadPart.md5"},
		{"Upload", strings.Replace(good["Upload+file"], `"status":"processed"`, `"status":"processed","upload_id":"u"`, 1), "OpenAIFile.upload_id"},
	} {
		var obj map[string]any
		if err := json.Unmarshal([]byte(c.body), &obj); err != nil {
			t.Fatal(err)
		}
		if got := oasUndocumented(spec, c.schema, obj); len(got) != 1 || got[0] != c.want {
			t.Errorf("undocumented fields of %s = %v, want [%s]", c.body, got, c.want)
		}
	}
	for name, body := range good {
		var obj map[string]any
		if err := json.Unmarshal([]byte(body), &obj); err != nil {
			t.Fatal(err)
		}
		if got := oasUndocumented(spec, schemaOf(name), obj); len(got) != 0 {
			t.Errorf("control %s has undocumented fields %v", name, got)
		}
	}

	// Each bad answer is a good one with one thing broken.
	bad := []struct{ what, schema, base, edit string }{
		{"Upload without id", "Upload", "Upload", `del id`},
		{"Upload without status", "Upload", "Upload", `del status`},
		{"Upload with an unknown status", "Upload", "Upload", `set status "done"`},
		{"Upload with a string for bytes", "Upload", "Upload", `set bytes "3"`},
		{"Upload whose file lacks its id", "Upload", "Upload+file", `delfile id`},
		{"Upload whose file has a wrong object", "Upload", "Upload+file", `setfile object "upload"`},
		{"UploadPart without upload_id", "UploadPart", "UploadPart", `del upload_id`},
		{"UploadPart with a wrong object", "UploadPart", "UploadPart", `set object "part"`},
		{"OpenAIFile without purpose", "OpenAIFile", "OpenAIFile", `del purpose`},
		{"OpenAIFile with purpose video (an extension the spec's enum lacks)", "OpenAIFile", "OpenAIFile", `set purpose "video"`},
		{"OpenAIFile with a float created_at", "OpenAIFile", "OpenAIFile", `set created_at 1.5`},
		{"ListFilesResponse without has_more", "ListFilesResponse", "ListFilesResponse", `del has_more`},
		{"ListFilesResponse with a broken file", "ListFilesResponse", "ListFilesResponse", `set data [{"id":"file-1"}]`},
		{"ListFilesResponse with null first_id", "ListFilesResponse", "ListFilesResponse", `set first_id null`},
		{"DeleteFileResponse with a string deleted", "DeleteFileResponse", "DeleteFileResponse", `set deleted "true"`},
		{"ErrorResponse without code", "ErrorResponse", "ErrorResponse", `delerr code`},
		{"ErrorResponse without param", "ErrorResponse", "ErrorResponse", `delerr param`},
		{"ErrorResponse with a numeric code", "ErrorResponse", "ErrorResponse", `seterr code 404`},
		{"ErrorResponse without error", "ErrorResponse", "ErrorResponse", `del error`},
	}
	for _, b := range bad {
		t.Run(b.what, func(t *testing.T) {
			var obj map[string]any
			if err := json.Unmarshal([]byte(good[b.base]), &obj); err != nil {
				t.Fatal(err)
			}
			op, rest, _ := strings.Cut(b.edit, " ")
			field, val, _ := strings.Cut(rest, " ")
			target := obj
			switch {
			case strings.HasSuffix(op, "file"):
				target = obj["file"].(map[string]any)
			case strings.HasSuffix(op, "err"):
				target = obj["error"].(map[string]any)
			}
			if strings.HasPrefix(op, "del") {
				if _, ok := target[field]; !ok {
					t.Fatalf("the control has no %q to remove", field)
				}
				delete(target, field)
			} else {
				var v any
				if err := json.Unmarshal([]byte(val), &v); err != nil {
					t.Fatal(err)
				}
				target[field] = v
			}
			body, _ := json.Marshal(obj)
			err := spec.validate(b.schema, body)
			var ve *jsonschema.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("%s was accepted as %s (err %v): %s", b.what, b.schema, err, body)
			}
		})
	}
}
