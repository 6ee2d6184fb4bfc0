package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// maxJSONBody bounds the JSON bodies of create and complete (a complete for
// 8 GiB in the smallest parts lists well under this).
const maxJSONBody = 8 << 20

// countingBody counts the bytes a handler read from a request body.
type countingBody struct {
	io.ReadCloser
	n int64
}

func (c *countingBody) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	c.n += int64(n)
	return n, err
}

// jsonObject is a request body decoded one field at a time, so that each
// field's absence or type can be named in the error.
type jsonObject map[string]json.RawMessage

var errInvalidJSON = badRequest("", "invalid_json",
	"We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)")

func readJSONObject(w http.ResponseWriter, r *http.Request, allowed ...string) (jsonObject, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxJSONBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, badRequest("", "request_too_large", "The JSON body is larger than %d bytes.", maxJSONBody)
		}
		return nil, badRequest("", "invalid_body", "The request body could not be read: %v", err)
	}
	var obj jsonObject
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&obj); err != nil || obj == nil || dec.More() {
		return nil, errInvalidJSON
	}
	for k := range obj {
		if !contains(allowed, k) {
			return nil, badRequest(k, "unknown_parameter", "Unrecognized request argument supplied: %s", k)
		}
	}
	return obj, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func missing(param string) *apiError {
	return badRequest(param, "missing_required_parameter", "Missing required parameter: '%s'.", param)
}

func wrongType(param, want string, raw json.RawMessage) *apiError {
	return badRequest(param, "invalid_type", "Invalid type for '%s': expected %s, but got %s instead.", param, want, jsonKind(raw))
}

func jsonKind(raw json.RawMessage) string {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 {
		return "nothing"
	}
	switch t[0] {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	default:
		return "a number"
	}
}

// str returns a string field; ok is false when it is absent.
func (o jsonObject) str(param string, required bool) (v string, ok bool, err error) {
	raw, present := o[param]
	if !present || string(bytes.TrimSpace(raw)) == "null" {
		if required {
			return "", false, missing(param)
		}
		return "", false, nil
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", false, wrongType(param, "a string", raw)
	}
	return v, true, nil
}

// integer returns an integer field; ok is false when it is absent.
func (o jsonObject) integer(param string, required bool) (v int64, ok bool, err error) {
	raw, present := o[param]
	if !present || string(bytes.TrimSpace(raw)) == "null" {
		if required {
			return 0, false, missing(param)
		}
		return 0, false, nil
	}
	return parseInteger(param, raw)
}

func parseInteger(param string, raw json.RawMessage) (int64, bool, error) {
	t := strings.TrimSpace(string(raw))
	if jsonKind(raw) != "a number" {
		return 0, false, wrongType(param, "an integer", raw)
	}
	v, err := strconv.ParseInt(t, 10, 64)
	if err != nil {
		return 0, false, badRequest(param, "invalid_type", "Invalid type for '%s': expected an integer, but got %s instead.", param, t)
	}
	return v, true, nil
}

// expiresAfter reads the optional expires_after object {anchor, seconds}
// and returns its seconds (0 when absent).
func expiresAfter(o jsonObject) (int64, error) {
	raw, present := o["expires_after"]
	if !present || string(bytes.TrimSpace(raw)) == "null" {
		return 0, nil
	}
	var ea jsonObject
	if err := json.Unmarshal(raw, &ea); err != nil || ea == nil {
		return 0, wrongType("expires_after", "an object", raw)
	}
	for k := range ea {
		if k != "anchor" && k != "seconds" {
			return 0, badRequest("expires_after."+k, "unknown_parameter", "Unrecognized request argument supplied: expires_after.%s", k)
		}
	}
	anchor, _, err := ea.str("anchor", true)
	if err != nil {
		return 0, prefixParam(err, "expires_after.")
	}
	secs, _, err := ea.integer("seconds", true)
	if err != nil {
		return 0, prefixParam(err, "expires_after.")
	}
	return checkExpiry(anchor, secs)
}

func checkExpiry(anchor string, secs int64) (int64, error) {
	if anchor != "created_at" {
		return 0, badRequest("expires_after.anchor", "invalid_value", "Invalid value for 'expires_after.anchor': expected 'created_at', got %q.", anchor)
	}
	if secs < 3600 || secs > 2592000 {
		return 0, badRequest("expires_after.seconds", "invalid_value",
			"Invalid value for 'expires_after.seconds': %d is out of range; it must be between 3600 (1 hour) and 2592000 (30 days).", secs)
	}
	return secs, nil
}

func prefixParam(err error, prefix string) error {
	var ae *apiError
	if errors.As(err, &ae) && ae.Param != nil {
		p := prefix + *ae.Param
		ae.Param = &p
		ae.Message = strings.Replace(ae.Message, "'"+strings.TrimPrefix(p, prefix)+"'", "'"+p+"'", 1)
	}
	return err
}

func quotedList(list []string) string {
	q := make([]string, len(list))
	for i, s := range list {
		q[i] = "'" + s + "'"
	}
	return "[" + strings.Join(q, ", ") + "]"
}

func fmtBytes(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d bytes (%d GiB)", n, n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d bytes (%d MiB)", n, n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}
