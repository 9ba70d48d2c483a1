package meta_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/google/uuid"

	"github.com/aquarium-fish/aquarium-fish/internal/driver"
	"github.com/aquarium-fish/aquarium-fish/internal/meta"
	"github.com/aquarium-fish/aquarium-fish/internal/model"
	"github.com/aquarium-fish/aquarium-fish/internal/resolve"
	"github.com/aquarium-fish/aquarium-fish/internal/resolve/resolvetest"
)

// The callers use TEST-NET addresses: no host interface makes them a controlled network.
const (
	resourceIP = "192.0.2.10"
	brokenIP   = "192.0.2.11"
	strangerIP = "192.0.2.99"
)

const testMetadata = `{"JENKINS_URL":"http://ci:8080/","agent":{"name":"a 1","n":1.5,"on":true,"tags":["x","y"],"deep":{"k":"v"}},"nil":null}`

func newMux(t *testing.T) *http.ServeMux {
	t.Helper()
	lookup := resolvetest.NewLookup(
		model.Resource{UID: uuid.New(), IPAddr: resourceIP, Metadata: json.RawMessage(testMetadata)},
		model.Resource{UID: uuid.New(), IPAddr: brokenIP, Metadata: json.RawMessage(`[1,2]`)},
	)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	mux := http.NewServeMux()
	meta.NewHandler(resolve.NewResolver(lookup, nil, log), log).Register(mux)
	return mux
}

func TestHandler(t *testing.T) {
	const (
		jsonType = "application/json; charset=UTF-8"
		textType = "text/plain; charset=UTF-8"
	)
	tests := []struct {
		name     string
		remote   string
		target   string
		header   map[string]string
		wantCode int
		wantType string
		wantBody string
	}{
		{"root json", resourceIP, "/meta/v1/data/", nil, 200, jsonType,
			`{"JENKINS_URL":"http://ci:8080/","agent":{"deep":{"k":"v"},"n":1.5,"name":"a 1","on":true,"tags":["x","y"]},"nil":null}`},
		{"root env with prefix", resourceIP, "/meta/v1/data/?format=env&prefix=p", nil, 200, textType,
			"p_JENKINS_URL=http://ci:8080/\np_agent_deep_k=v\np_agent_n=1.5\np_agent_name='a 1'\np_agent_on=true\np_agent_tags='[x y]'\np_nil=''\n"},
		{"unsupported format", resourceIP, "/meta/v1/data/?format=xml", nil, 400, jsonType,
			`{"message":"Unable to format metadata: Unsupported ` + "`format`" + `: xml"}`},
		{"unknown caller", strangerIP, "/meta/v1/data/", nil, 401, jsonType,
			`{"message":"Client IP was not found in the node Resources"}`},
		{"forwarded headers ignored", strangerIP, "/meta/v1/data/",
			map[string]string{"X-Forwarded-For": resourceIP, "X-Real-IP": resourceIP}, 401, jsonType,
			`{"message":"Client IP was not found in the node Resources"}`},
		{"unparseable metadata", brokenIP, "/meta/v1/data/", nil, 404, jsonType,
			`{"message":"Unable to parse metadata"}`},
		{"no trailing slash", resourceIP, "/meta/v1/data", nil, 404, jsonType, `{"message":"Not Found"}`},

		{"key string json", resourceIP, "/meta/v1/data/JENKINS_URL", nil, 200, jsonType, `"http://ci:8080/"`},
		{"key string env", resourceIP, "/meta/v1/data/JENKINS_URL?format=env", nil, 200, textType, "http://ci:8080/"},
		{"key nested number ps1", resourceIP, "/meta/v1/data/agent/n?format=ps1", nil, 200, textType, "1.5"},
		{"key array json", resourceIP, "/meta/v1/data/agent/tags", nil, 200, jsonType, `["x","y"]`},
		{"key array export", resourceIP, "/meta/v1/data/agent/tags?format=export", nil, 200, textType, "[x y]"},
		{"key null env", resourceIP, "/meta/v1/data/nil?format=env", nil, 200, textType, ""},
		{"key object json", resourceIP, "/meta/v1/data/agent/deep", nil, 200, jsonType, `{"k":"v"}`},
		{"key object env", resourceIP, "/meta/v1/data/agent?format=env&prefix=a", nil, 200, textType,
			"a_deep_k=v\na_n=1.5\na_name='a 1'\na_on=true\na_tags='[x y]'\n"},
		{"key missing", resourceIP, "/meta/v1/data/agent/nope", nil, 404, jsonType, `{"message":"key not found: agent/nope"}`},
		{"key missing env", resourceIP, "/meta/v1/data/agent/nope?format=env", nil, 404, textType,
			"message='key not found: agent/nope'\n"},
		{"key missing export with prefix", resourceIP, "/meta/v1/data/nope?format=export&prefix=p", nil, 404, textType,
			"export p_message='key not found: nope'\n"},
		{"key missing ps1", resourceIP, "/meta/v1/data/it's?format=ps1", nil, 404, textType,
			"$message='key not found: it''s'\n"},
		{"key missing json", resourceIP, "/meta/v1/data/a<b>?format=json&prefix=p", nil, 404, jsonType,
			`{"message":"key not found: a<b>"}`},
		{"key missing unsupported format", resourceIP, "/meta/v1/data/nope?format=xml", nil, 400, jsonType,
			`{"message":"Unable to format metadata: Unsupported ` + "`format`" + `: xml"}`},
		{"key of metadata that is no object env", brokenIP, "/meta/v1/data/a?format=env", nil, 404, textType,
			"message='key not found: a'\n"},
		{"unparseable metadata env", brokenIP, "/meta/v1/data/?format=env", nil, 404, textType,
			"message='Unable to parse metadata'\n"},
		{"key unknown caller env", strangerIP, "/meta/v1/data/nope?format=env", nil, 401, jsonType,
			`{"message":"Client IP was not found in the node Resources"}`},
		{"key below a scalar", resourceIP, "/meta/v1/data/JENKINS_URL/x", nil, 404, jsonType,
			`{"message":"key not found: JENKINS_URL/x"}`},
		{"key trailing slash", resourceIP, "/meta/v1/data/agent/", nil, 404, jsonType, `{"message":"key not found: agent/"}`},
		{"key unsupported format", resourceIP, "/meta/v1/data/JENKINS_URL?format=yaml", nil, 400, jsonType,
			`{"message":"Unable to format metadata: Unsupported ` + "`format`" + `: yaml"}`},
		{"key unknown caller", strangerIP, "/meta/v1/data/agent/nope", nil, 401, jsonType,
			`{"message":"Client IP was not found in the node Resources"}`},
	}
	mux := newMux(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, tt.target, nil)
			req.RemoteAddr = tt.remote + ":40000"
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, req)
			if rec.Code != tt.wantCode || rec.Body.String() != tt.wantBody {
				t.Fatalf("GET %s = %d %q; want %d %q", tt.target, rec.Code, rec.Body.String(), tt.wantCode, tt.wantBody)
			}
			if got := rec.Header().Get("Content-Type"); got != tt.wantType {
				t.Errorf("Content-Type = %q, want %q", got, tt.wantType)
			}
		})
	}
}

func TestHandlerMethodNotAllowed(t *testing.T) {
	req := httptest.NewRequest(http.MethodPost, "/meta/v1/data/", nil)
	req.RemoteAddr = resourceIP + ":40000"
	rec := httptest.NewRecorder()
	newMux(t).ServeHTTP(rec, req)
	if rec.Code != http.StatusMethodNotAllowed {
		t.Fatalf("POST /meta/v1/data/ = %d, want 405", rec.Code)
	}
}

// peerFunc is a driver.PeerIdentifier from a function.
type peerFunc func(remote, local netip.AddrPort) (string, bool)

func (p peerFunc) IdentifyPeer(remote, local netip.AddrPort) (string, bool) { return p(remote, local) }

// TestHandlerOverTCP runs the handler behind a real server: the caller is identified from the
// connection's addresses, here by a driver that checks the server's local address.
func TestHandlerOverTCP(t *testing.T) {
	lookup := resolvetest.NewLookup(model.Resource{UID: uuid.New(), Identifier: "user-1", Metadata: json.RawMessage(`{"a":"b"}`)})
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var srvAddr netip.AddrPort // set before the first request
	peers := func() []driver.PeerIdentifier {
		return []driver.PeerIdentifier{peerFunc(func(remote, local netip.AddrPort) (string, bool) {
			return "user-1", remote.Addr().IsLoopback() && local == srvAddr
		})}
	}
	mux := http.NewServeMux()
	meta.NewHandler(resolve.NewResolver(lookup, peers, log), log).Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	srvAddr = netip.MustParseAddrPort(srv.Listener.Addr().String())

	resp, err := http.Get(srv.URL + "/meta/v1/data/a?format=env")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || string(body) != "b" {
		t.Fatalf("GET = %d %q, want 200 \"b\"", resp.StatusCode, body)
	}
}
