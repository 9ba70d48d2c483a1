package meta

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"github.com/aquarium-fish/aquarium-fish/internal/metaenv"
	"github.com/aquarium-fish/aquarium-fish/internal/resolve"
)

// dataPath is the root of the metadata endpoints.
const dataPath = "/meta/v1/data/"

// Handler serves the metadata API to the resources of this node. The caller is identified by
// the TCP peer address of the request only; forwarded-for headers are never read.
type Handler struct {
	res *resolve.Resolver
	log *slog.Logger
}

// NewHandler returns the metadata API handler; register it with Register.
func NewHandler(res *resolve.Resolver, log *slog.Logger) *Handler {
	return &Handler{res: res, log: log.With("component", "meta")}
}

// Register routes GET /meta/v1/data/ and GET /meta/v1/data/{key_path} on mux. The spelling
// without the trailing slash is answered 404 here, because ServeMux would otherwise redirect it
// (the API has no redirects).
func (h *Handler) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET "+dataPath+"{$}", h.serveData)
	mux.HandleFunc("GET "+dataPath+"{key_path...}", h.serveKey)
	mux.HandleFunc(strings.TrimSuffix(dataPath, "/"), func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusNotFound, "Not Found")
	})
}

// serveData renders the caller's whole metadata object.
func (h *Handler) serveData(w http.ResponseWriter, r *http.Request) {
	metadata, ok := h.callerMetadata(w, r)
	if !ok {
		return
	}
	h.render(w, r, metadata)
}

// serveKey renders one value of the caller's metadata, addressed by the "/"-separated path of
// keys below /meta/v1/data/. An object renders like the root; a scalar or array renders as its
// JSON for the json format and as its plain text for the others. The reference node answered
// every key path with a 404 placeholder message; answering the value is what its route
// promised, and a missing key is still a 404.
func (h *Handler) serveKey(w http.ResponseWriter, r *http.Request) {
	metadata, ok := h.callerMetadata(w, r)
	if !ok {
		return
	}
	// Split the escaped path so that a key holding an escaped "/" (%2F) stays one key.
	keyPath := strings.TrimPrefix(r.URL.EscapedPath(), dataPath)
	value, err := lookupPath(metadata, keyPath)
	switch {
	case errors.Is(err, errKeyNotFound):
		display, uerr := url.PathUnescape(keyPath)
		if uerr != nil {
			display = keyPath
		}
		h.writeNotFound(w, r, "key not found: "+display)
		return
	case err != nil:
		h.log.Debug("unable to read the metadata", "err", err)
		h.writeNotFound(w, r, "Unable to parse metadata")
		return
	}
	if bytes.HasPrefix(value, []byte("{")) {
		h.render(w, r, value)
		return
	}
	h.renderScalar(w, r, value)
}

// callerMetadata identifies the caller and returns its resource's metadata, or answers 401.
func (h *Handler) callerMetadata(w http.ResponseWriter, r *http.Request) (json.RawMessage, bool) {
	remote, _ := netip.ParseAddrPort(r.RemoteAddr)
	local := localAddr(r)
	res, err := h.res.Resource(r.Context(), remote, local)
	if err != nil {
		h.log.Debug("metadata refused", "remote", r.RemoteAddr, "err", err)
		writeError(w, http.StatusUnauthorized, "Client IP was not found in the node Resources")
		return nil, false
	}
	return res.Metadata, true
}

// localAddr is the address the request arrived at, or the zero value when the server did not
// record it.
func localAddr(r *http.Request) netip.AddrPort {
	switch a := r.Context().Value(http.LocalAddrContextKey).(type) {
	case *net.TCPAddr:
		return a.AddrPort()
	case net.Addr:
		ap, _ := netip.ParseAddrPort(a.String())
		return ap
	}
	return netip.AddrPort{}
}

// render writes a metadata object in the requested format.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, obj json.RawMessage) {
	q := r.URL.Query()
	body, contentType, err := Render(obj, q.Get("format"), q.Get("prefix"))
	if err != nil {
		h.writeRenderError(w, r, err)
		return
	}
	writeBody(w, http.StatusOK, contentType, body)
}

// renderScalar writes a value that is not an object: its JSON for the json format, its text
// otherwise. The format is checked, and the content type chosen, by Render itself.
func (h *Handler) renderScalar(w http.ResponseWriter, r *http.Request, value json.RawMessage) {
	q := r.URL.Query()
	_, contentType, err := Render(json.RawMessage("{}"), q.Get("format"), q.Get("prefix"))
	if err != nil {
		h.writeRenderError(w, r, err)
		return
	}
	var body []byte
	if strings.HasPrefix(contentType, "application/json") {
		body, err = compactJSON(value)
	} else {
		// Decoded like the text formats decode the object (no UseNumber), so a leaf reads the
		// same here as in its KEY=VALUE line.
		var v any
		if err = json.Unmarshal(value, &v); err == nil {
			body = []byte(metaenv.Text(v))
		}
	}
	if err != nil {
		h.log.Debug("unable to read the metadata", "err", err)
		h.writeNotFound(w, r, "Unable to parse metadata")
		return
	}
	writeBody(w, http.StatusOK, contentType, body)
}

func (h *Handler) writeRenderError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, ErrUnsupportedFormat) {
		writeError(w, http.StatusBadRequest, "Unable to format metadata: "+err.Error())
		return
	}
	h.log.Debug("unable to render the metadata", "err", err)
	h.writeNotFound(w, r, "Unable to parse metadata")
}

// writeNotFound answers 404 with the object {"message": msg} rendered in the requested format
// and prefix, as the metadata would be (api-v1.md §5.9): a script that reads KEY=VALUE lines
// gets such lines. An unknown format is a 400, in JSON.
func (h *Handler) writeNotFound(w http.ResponseWriter, r *http.Request, msg string) {
	q := r.URL.Query()
	body, contentType, err := Render(errorBody(msg), q.Get("format"), q.Get("prefix"))
	switch {
	case errors.Is(err, ErrUnsupportedFormat):
		writeError(w, http.StatusBadRequest, "Unable to format metadata: "+err.Error())
	case err != nil: // not for an object of one string
		writeError(w, http.StatusNotFound, msg)
	default:
		writeBody(w, http.StatusNotFound, contentType, body)
	}
}

func writeBody(w http.ResponseWriter, status int, contentType string, body []byte) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// errorBody is the API's error body {"message": "..."}.
func errorBody(message string) json.RawMessage {
	body, _ := json.Marshal(struct {
		Message string `json:"message"`
	}{message})
	return body
}

// writeError writes the API's error body in JSON.
func writeError(w http.ResponseWriter, status int, message string) {
	body := errorBody(message)
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// errKeyNotFound is returned (wrapped) by lookupPath when a key of the path is missing.
var errKeyNotFound = errors.New("key not found")

// lookupPath walks the metadata object along escapedPath, whose "/"-separated components are
// path-escaped keys, and returns the value found there.
func lookupPath(metadata json.RawMessage, escapedPath string) (json.RawMessage, error) {
	cur := bytes.TrimSpace(metadata)
	if len(cur) == 0 || bytes.Equal(cur, []byte("null")) {
		cur = []byte("{}")
	}
	for _, escaped := range strings.Split(escapedPath, "/") {
		key, err := url.PathUnescape(escaped)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", errKeyNotFound, err)
		}
		if !bytes.HasPrefix(cur, []byte("{")) {
			return nil, errKeyNotFound // a scalar has no keys
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(cur, &obj); err != nil {
			return nil, fmt.Errorf("decode metadata: %w", err)
		}
		next, ok := obj[key]
		if !ok {
			return nil, errKeyNotFound
		}
		cur = bytes.TrimSpace(next)
	}
	return cur, nil
}

// compactJSON re-encodes a value compactly, with the keys of nested objects sorted and numbers
// kept as written, like Render does for objects.
func compactJSON(value json.RawMessage) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(value))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("decode metadata value: %w", err)
	}
	return encodeCompact(v)
}
