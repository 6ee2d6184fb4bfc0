package server

// Azure mode (Config.Azure): the same API in the shape of an Azure OpenAI
// resource, so that clients built for Azure (openai-go's azure package, the
// AzureOpenAI classes of the other SDKs, curl with an api-key header) can be
// tested against this server. New registers the handlers under /openai and
// /openai/v1 instead of /v1; this file holds what differs besides the
// prefix: the api-version rules, the authentication and Azure's own error
// bodies. Sources, as documented in docs/server.md:
//
//   - the Azure OpenAI REST reference (Files - Upload, Upload File - Start,
//     Part, Complete, Cancel): POST {endpoint}/openai/uploads?api-version=…,
//     api-version required, the api-key header or an Entra ID token;
//   - the v1 API reference: {endpoint}/openai/v1/…, api-version optional
//     ("v1" or "preview"), the key in api-key or in Authorization;
//   - the errors users report from real resources (MicrosoftDocs/azure-docs
//     #114602 for a missing api-version, Azure/azure-sdk-for-net #44710 for
//     a file without a Content-Type, many threads for the 401 bodies).

import (
	"errors"
	"net/http"
	"strings"
	"time"
)

// azureError is one of Azure's own error bodies, {"error":{"code","message"}}
// (no type or param, and a code that may be an HTTP status as a string).
type azureError struct {
	Status  int
	Code    string
	Message string
}

func (e *azureError) Error() string { return e.Message }

var (
	// errAzureNotFound answers a missing api-version and any URL Azure does
	// not route: a 404 with exactly this body, whatever the path.
	errAzureNotFound = &azureError{Status: http.StatusNotFound, Code: "404", Message: "Resource not found"}
	// errAzureVersion answers an api-version Azure does not know.
	errAzureVersion = &azureError{Status: http.StatusBadRequest, Code: "BadRequest", Message: "API version not supported"}
	// errAzureKey answers a request with no credential, or an api-key
	// that is not one of the resource's keys.
	errAzureKey = &azureError{Status: http.StatusUnauthorized, Code: "401",
		Message: "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource."}
	// errAzureNoContentType answers a file (POST /files) or a part's data
	// whose multipart header has no Content-Type, or an empty one.
	errAzureNoContentType = &azureError{Status: http.StatusBadRequest, Code: "invalidPayload",
		Message: "The file has no or an empty content type specified."}
)

func writeAzureError(w http.ResponseWriter, e *azureError) {
	type body struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	writeJSON(w, e.Status, struct {
		Error body `json:"error"`
	}{body{e.Code, e.Message}})
}

// writeAzureTokenError answers a bearer token that is not accepted, with the
// body Azure's gateway sends for an Entra ID token it refuses: not the error
// envelope, but {"statusCode":401,"message":…} at the top level.
func writeAzureTokenError(w http.ResponseWriter) {
	writeJSON(w, http.StatusUnauthorized, struct {
		StatusCode int    `json:"statusCode"`
		Message    string `json:"message"`
	}{http.StatusUnauthorized, "Unauthorized. Access token is missing, invalid, audience is incorrect (https://cognitiveservices.azure.com), or have expired."})
}

// azureAPIVersion checks the api-version query parameter before routing:
// /openai/v1/… takes none, "v1" or "preview"; the other /openai/… paths
// require a dated one (YYYY-MM-DD or YYYY-MM-DD-preview), and answer 404
// without it, as Azure does. Other paths go on to the mux (and its 404).
func (s *Server) azureAPIVersion(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		v := r.URL.Query().Get("api-version")
		switch {
		case strings.HasPrefix(p, "/openai/v1/"):
			if v != "" && v != "v1" && v != "preview" {
				writeAzureError(w, errAzureVersion)
				return
			}
		case strings.HasPrefix(p, "/openai/"):
			if v == "" {
				writeAzureError(w, errAzureNotFound)
				return
			}
			if !datedAPIVersion(v) {
				writeAzureError(w, errAzureVersion)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// datedAPIVersion reports whether v is YYYY-MM-DD or YYYY-MM-DD-preview with
// a real date.
func datedAPIVersion(v string) bool {
	date := strings.TrimSuffix(v, "-preview")
	if len(date) != len("2006-01-02") {
		return false
	}
	_, err := time.Parse("2006-01-02", date)
	return err == nil
}

// azureAuth is Azure's authentication: the api-key header, or else an
// "Authorization: Bearer TOKEN" header (an Entra ID token on a real
// resource; here the token must be one of the configured keys, or any
// non-empty token when none are configured). It returns the key's
// organization, or answers Azure's 401 and false.
func (s *Server) azureAuth(w http.ResponseWriter, r *http.Request) (string, bool) {
	if key := strings.TrimSpace(r.Header.Get("Api-Key")); key != "" {
		o, ok := s.keyOrg(key)
		if !ok {
			writeAzureError(w, errAzureKey)
		}
		return o, ok
	}
	token, ok := bearerToken(r)
	if !ok {
		writeAzureError(w, errAzureKey)
		return "", false
	}
	o, ok := s.keyOrg(token)
	if !ok {
		writeAzureTokenError(w)
	}
	return o, ok
}

// checkFileContentType refuses, in Azure mode, a file or part whose
// multipart header has no Content-Type (Azure requires one; OpenAI does not).
func (s *Server) checkFileContentType(contentType string) error {
	if s.Azure && strings.TrimSpace(contentType) == "" {
		return errAzureNoContentType
	}
	return nil
}

// asAzureError reports whether err is one of Azure's own errors.
func asAzureError(err error) (*azureError, bool) {
	var e *azureError
	return e, errors.As(err, &e)
}
