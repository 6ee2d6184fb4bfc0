package server

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/uploads-dev/uploads/internal/store"
)

// apiError is the body of every failure: {"error":{message,type,param,code}}.
type apiError struct {
	Status  int     `json:"-"`
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}

func (e *apiError) Error() string { return e.Message }

func strPtr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// badRequest is a 400 invalid_request_error about one field.
func badRequest(param, code, format string, args ...any) *apiError {
	return &apiError{Status: http.StatusBadRequest, Type: "invalid_request_error",
		Message: fmt.Sprintf(format, args...), Param: strPtr(param), Code: strPtr(code)}
}

func writeError(w http.ResponseWriter, e *apiError) {
	writeJSON(w, e.Status, struct {
		Error *apiError `json:"error"`
	}{e})
}

// fail answers a request with err, turning store refusals into their API
// errors and anything else into a 500 that is logged but not detailed.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	if aze, ok := asAzureError(err); ok {
		writeAzureError(w, aze)
		return
	}
	var ae *apiError
	var se *store.Error
	switch {
	case errors.As(err, &ae):
	case errors.As(err, &se) && se.Kind == store.KindNotFound:
		ae = &apiError{Status: http.StatusNotFound, Type: "invalid_request_error", Message: se.Message,
			Param: strPtr(se.Param), Code: strPtr(se.Code)}
	case errors.As(err, &se):
		ae = &apiError{Status: http.StatusBadRequest, Type: "invalid_request_error", Message: se.Message,
			Param: strPtr(se.Param), Code: strPtr(se.Code)}
	default:
		s.log.LogAttrs(r.Context(), slog.LevelError, "internal error", slog.String("path", r.URL.Path), slog.String("err", err.Error()))
		ae = &apiError{Status: http.StatusInternalServerError, Type: "server_error",
			Message: "The server had an error while processing your request. Retry the request; if it keeps failing, check the server's log.",
			Code:    strPtr("server_error")}
	}
	writeError(w, ae)
}

// closeAfterAnswer asks that the connection be closed after an answer sent
// before the request's body was read, so that the unread bytes are not taken
// for the next request. Only HTTP/1.x needs it: under HTTP/2 the unread body
// is one stream's, which net/http resets, and "Connection: close" would shut
// down the whole connection, every other stream of the client with it.
func closeAfterAnswer(w http.ResponseWriter, r *http.Request) {
	if r.ProtoMajor < 2 {
		w.Header().Set("Connection", "close")
	}
}
