package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/aquarium-fish/aquarium-fish/internal/auth"
	"github.com/aquarium-fish/aquarium-fish/internal/model"
)

// maxBody is the request body limit of every /api/v1/ route.
const maxBody = 64 << 10

type server struct {
	Deps
	log   *slog.Logger
	creds sync.Map // user name → credential; dropped whenever users change
}

// handlerFunc handles an authenticated request and returns the value to answer with.
type handlerFunc func(r *http.Request, caller string) (any, error)

type callerKey struct{}

// Register adds the /api/v1/ routes and the OpenAPI document to mux. The returned function
// must be called whenever users change (it drops the credentials the API keeps in memory).
func Register(mux *http.ServeMux, d Deps) (usersChanged func()) {
	if d.Now == nil {
		d.Now = time.Now
	}
	s := &server{Deps: d, log: d.Log.With("component", "api")}
	notFoundH := s.wrap(func(*http.Request, string) (any, error) { return nil, notFound("Not Found") })
	noSlash := map[string]bool{}
	for _, rt := range s.routes() {
		mux.Handle(rt.pattern, s.wrap(rt.h))
		if _, path, ok := strings.Cut(strings.TrimSuffix(rt.pattern, "{$}"), " "); ok && strings.HasSuffix(path, "/") {
			noSlash[strings.TrimSuffix(path, "/")] = true
		}
	}
	// Unknown /api/v1/ paths: authentication first, then 404. ExactPaths sends the paths that
	// are not clean here too.
	mux.Handle(apiRoot, notFoundH)
	noSlash[strings.TrimSuffix(apiRoot, "/")] = true
	// The other spelling of a collection is not found, not redirected (ServeMux would redirect
	// "/api/v1/label" to "/api/v1/label/"), unless it is a route of its own ("/api/v1/user/me"
	// is the user named "me").
	for path := range noSlash {
		handleUnlessRouted(mux, path, notFoundH)
	}
	mux.HandleFunc("GET /api/openapi.yaml", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/yaml")
		w.Write(s.Spec)
	})
	return func() { s.creds.Clear() }
}

// handleUnlessRouted registers h for pattern unless the pattern overlaps a route already
// registered (ServeMux reports the overlap by panicking).
func handleUnlessRouted(mux *http.ServeMux, pattern string, h http.Handler) {
	defer func() { _ = recover() }()
	mux.Handle(pattern, h)
}

type route struct {
	pattern string
	h       handlerFunc
}

// wrap authenticates, bounds the body and writes the handler's answer.
func (s *server) wrap(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, pass, err := auth.ParseBasic(r.Header.Get("Authorization"))
		if errors.Is(err, auth.ErrBadEncoding) {
			s.writeError(w, r, badRequest("invalid basic auth encoding"))
			return
		}
		if err != nil || !s.Auth.Authenticate(name, pass, s.lookup(r.Context())) {
			w.Header().Set("WWW-Authenticate", "basic realm=Restricted")
			writeJSON(w, http.StatusUnauthorized, message{Message: "Unauthorized"})
			return
		}
		if u, ok := w.(userRecorder); ok {
			u.SetUser(name)
		}
		if r.ContentLength > maxBody {
			writeTooLarge(w)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		if r.ContentLength != 0 {
			// The body (at most maxBody bytes) is read here, within bodyTimeout: a body of
			// unknown length (chunked) over the limit is a 413 on every route, as when its
			// Content-Length says so, and a client that sends it slowly does not hold a handler.
			rc := http.NewResponseController(w)
			_ = rc.SetReadDeadline(time.Now().Add(bodyTimeout))
			b, err := io.ReadAll(r.Body)
			_ = rc.SetReadDeadline(time.Time{})
			if err != nil {
				s.writeError(w, r, bodyError("message", err))
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(b))
		}
		v, err := h(r.WithContext(context.WithValue(r.Context(), callerKey{}, name)), name)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if raw, ok := v.(rawResponse); ok {
			raw(w, r)
			return
		}
		writeJSON(w, http.StatusOK, v)
	})
}

// userRecorder is a ResponseWriter that records who the request was authenticated as (the
// node's request log). Only a user whose credentials were verified is recorded.
type userRecorder interface {
	SetUser(name string)
}

// bodyTimeout bounds the reading of a request body.
const bodyTimeout = 30 * time.Second

func writeTooLarge(w http.ResponseWriter) {
	// The rest of the body is not read: the connection ends with this answer.
	w.Header().Set("Connection", "close")
	writeJSON(w, http.StatusRequestEntityTooLarge, message{Message: "Request Entity Too Large"})
}

// rawResponse is a handler result that writes itself (profiling output).
type rawResponse func(w http.ResponseWriter, r *http.Request)

func (s *server) lookup(ctx context.Context) auth.LookupFunc {
	return func(name string) (auth.Hash, string, bool) {
		if c, ok := s.creds.Load(name); ok {
			c := c.(credential)
			return c.hash, c.stamp, true
		}
		b, stamp, err := s.State().UserCredentials(ctx, name)
		if err != nil {
			return auth.Hash{}, "", false
		}
		var h auth.Hash
		if json.Unmarshal(b, &h) != nil {
			return auth.Hash{}, "", false
		}
		s.creds.Store(name, credential{hash: h, stamp: stamp})
		return h, stamp, true
	}
}

// credential is a user's stored hash as last read from the state.
type credential struct {
	hash  auth.Hash
	stamp string
}

// pathUID parses the {uid} path parameter.
func pathUID(r *http.Request) (model.UID, error) {
	u, err := uuid.Parse(r.PathValue("uid"))
	if err != nil {
		return model.NilUID, badRequest("Invalid format for parameter uid: %v", err)
	}
	return u, nil
}

// filterParam returns the filter query parameter, nil when absent.
func filterParam(r *http.Request) *string {
	q := r.URL.Query()
	if !q.Has("filter") {
		return nil
	}
	f := q.Get("filter")
	return &f
}

// boolParam parses an optional boolean query parameter.
func boolParam(r *http.Request, name string) (value, present bool, err error) {
	q := r.URL.Query()
	if !q.Has(name) {
		return false, false, nil
	}
	v, err := strconv.ParseBool(q.Get(name))
	if err != nil {
		return false, true, badRequest("Invalid format for parameter %s: %v", name, err)
	}
	return v, true, nil
}
