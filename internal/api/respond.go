package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/aquarium-fish/aquarium-fish/internal/state"
	"github.com/aquarium-fish/aquarium-fish/internal/store"
)

// httpError is an error with the status it answers.
type httpError struct {
	status int
	msg    string
	key    string // body key; "message" unless the contract says otherwise
}

func (e *httpError) Error() string { return e.msg }

func newError(status int, format string, args ...any) error {
	return &httpError{status: status, msg: fmt.Sprintf(format, args...), key: "message"}
}

func badRequest(format string, args ...any) error {
	return newError(http.StatusBadRequest, format, args...)
}
func forbidden(format string, args ...any) error {
	return newError(http.StatusForbidden, format, args...)
}
func notFound(format string, args ...any) error {
	return newError(http.StatusNotFound, format, args...)
}

// bodyError is a request body that does not decode; some endpoints answer it as {"error": ...}
// (api-v1.md §1). A body over the limit stays what it is: the wrapper answers it 413.
func bodyError(key string, err error) error {
	var he *httpError
	var tooBig *http.MaxBytesError
	if errors.As(err, &he) || errors.As(err, &tooBig) {
		return err
	}
	return &httpError{status: http.StatusBadRequest, msg: "Wrong request body: " + err.Error(), key: key}
}

// message is the body of simple confirmations.
type message struct {
	Message string `json:"message"`
}

// writeJSON writes v as compact JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	// No HTML escaping: free-form values are returned as stored, byte for byte.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		status = http.StatusInternalServerError
		buf.Reset()
		enc.Encode(message{Message: "unable to encode the response: " + err.Error()})
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// writeError picks the status of err: the one place errors become HTTP answers.
func (s *server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var he *httpError
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		writeTooLarge(w)
		return
	case errors.As(err, &he):
	case errors.Is(err, store.ErrNoLeader), errors.Is(err, store.ErrClosed):
		he = &httpError{status: http.StatusServiceUnavailable, msg: err.Error()}
	case errors.Is(err, state.ErrNotFound):
		he = &httpError{status: http.StatusNotFound, msg: err.Error()}
	case errors.Is(err, state.ErrExists), errors.Is(err, state.ErrInvalid), errors.Is(err, state.ErrStatus):
		he = &httpError{status: http.StatusBadRequest, msg: err.Error()}
	default:
		he = &httpError{status: http.StatusInternalServerError, msg: err.Error()}
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	key := he.key
	if key == "" {
		key = "message"
	}
	if he.status < 500 {
		s.log.Debug("request refused", "method", r.Method, "path", r.URL.Path, "status", he.status, "err", he.msg)
	}
	writeJSON(w, he.status, map[string]string{key: he.msg})
}

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }
