package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/google/uuid"

	"github.com/aquarium-fish/aquarium-fish/internal/api"
	"github.com/aquarium-fish/aquarium-fish/internal/auth"
	"github.com/aquarium-fish/aquarium-fish/internal/logging"
	"github.com/aquarium-fish/aquarium-fish/internal/model"
	"github.com/aquarium-fish/aquarium-fish/internal/state"
	"github.com/aquarium-fish/aquarium-fish/internal/store/command"
	"github.com/aquarium-fish/aquarium-fish/internal/testutil"
)

// stateStore applies commands to a state database the way the store's FSM does (through the
// log encoding), without raft.
type stateStore struct {
	mu sync.Mutex
	db *state.DB
	// refuse, when set, replaces the text of every refusal (a leader that words it otherwise).
	refuse func(err error) error
}

func (s *stateStore) Apply(_ context.Context, c command.Command) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := command.Encode(c, time.Now())
	if err != nil {
		return nil, err
	}
	env, dc, err := command.Decode(b)
	if err != nil {
		return nil, err
	}
	res, _, err := s.db.Apply(env, dc)
	if err != nil {
		return nil, err
	}
	if res.Err != nil && s.refuse != nil {
		return nil, s.refuse(res.Err)
	}
	return res.Value, res.Err
}

// stopControl is a Control that does nothing.
type stopControl struct{}

func (stopControl) SetShutdownDelay(time.Duration) {}
func (stopControl) SetMaintenance(bool)            {}
func (stopControl) SetShutdown(bool)               {}

// apiNode is the API of a node over a real state, behind ExactPaths as the node serves it.
type apiNode struct {
	t       *testing.T
	store   *stateStore
	handler http.Handler
	log     *testutil.Buffer // the node's log (WARN and above)
	admin   string           // admin password
	user    string           // password of "alice"
}

func newAPINode(t *testing.T) *apiNode {
	t.Helper()
	db, err := state.Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	st := &stateStore{db: db}
	n := &apiNode{t: t, store: st, log: &testutil.Buffer{}}
	mux := http.NewServeMux()
	api.Register(mux, api.Deps{
		Store:       st,
		State:       func() api.Reader { return db },
		Auth:        auth.NewCache(0),
		Control:     stopControl{},
		Log:         logging.New(n.log, slog.LevelWarn, false),
		NodeUID:     uuid.MustParse("0a0b0c0d-0e0f-4000-8000-000000000001"),
		NodeName:    "node-1",
		DriverKnown: func(name string) bool { return name == "test" },
	})
	// The node answers other unknown paths with its own 404.
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"message":"Not Found"}`+"\n")
	})
	n.handler = api.ExactPaths(mux)
	ctx := context.Background()
	for name, pass := range map[string]*string{"admin": &n.admin, "alice": &n.user} {
		u, err := api.CreateUser(ctx, st, name, "", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		*pass = u.Password
	}
	return n
}

// do sends a request; user "" sends no credentials. body: nil, string (raw JSON) or io.Reader
// (sent without a length).
func (n *apiNode) do(method, path, user string, body any) *httptest.ResponseRecorder {
	n.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case string:
		rd = strings.NewReader(b)
	case io.Reader:
		rd = b
	}
	req := httptest.NewRequest(method, "https://node"+path, rd)
	if r, ok := body.(io.Reader); ok {
		req.Body = io.NopCloser(r)
		req.ContentLength = -1 // chunked
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	switch user {
	case "admin":
		req.SetBasicAuth("admin", n.admin)
	case "alice":
		req.SetBasicAuth("alice", n.user)
	}
	rec := httptest.NewRecorder()
	n.handler.ServeHTTP(rec, req)
	return rec
}

// expectBody checks status and exact body (the trailing newline aside).
func expectBody(t *testing.T, what string, rec *httptest.ResponseRecorder, status int, body string) {
	t.Helper()
	if got := strings.TrimSuffix(rec.Body.String(), "\n"); rec.Code != status || got != body {
		t.Errorf("%s = %d %s, want %d %s", what, rec.Code, got, status, body)
	}
}

func (n *apiNode) mustCreate(path, user, body string, out any) {
	n.t.Helper()
	rec := n.do("POST", path, user, body)
	if rec.Code != http.StatusOK {
		n.t.Fatalf("POST %s: %d %s", path, rec.Code, rec.Body)
	}
	if err := json.Unmarshal(rec.Body.Bytes(), out); err != nil {
		n.t.Fatal(err)
	}
}

func (n *apiNode) label() model.Label {
	n.t.Helper()
	var l model.Label
	n.mustCreate("/api/v1/label/", "admin", `{"name":"l","definitions":[{"driver":"test","resources":{"cpu":1,"ram":1}}]}`, &l)
	return l
}

func (n *apiNode) app(label model.UID) model.Application {
	n.t.Helper()
	var a model.Application
	n.mustCreate("/api/v1/application/", "alice", fmt.Sprintf(`{"label_UID":%q}`, label), &a)
	return a
}

func TestDeallocateRefusedStatus(t *testing.T) {
	n := newAPINode(t)
	a := n.app(n.label().UID)
	path := "/api/v1/application/" + a.UID.String() + "/deallocate"
	var st model.ApplicationState
	if rec := n.do("GET", path, "alice", nil); rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &st) != nil || st.Status != model.StatusRecalled {
		t.Fatalf("first deallocate = %d %s, want 200 RECALLED", rec.Code, rec.Body)
	}
	want := `{"message":"Unable to deallocate the Application with status: RECALLED"}`
	expectBody(t, "second deallocate", n.do("GET", path, "alice", nil), 400, want)

	// A refusal worded otherwise (another node version) still names the current status.
	n.store.refuse = func(err error) error { return fmt.Errorf("%w: refused", state.ErrStatus) }
	expectBody(t, "deallocate, refusal without the status", n.do("GET", path, "alice", nil), 400, want)
}

func TestUncleanPathsAreNotRedirected(t *testing.T) {
	n := newAPINode(t)
	for _, p := range []string{"/api/v1//label/", "/api/v1/user/me//", "/api/v1/./label/", "/api/v1/label/../label/",
		"/api/v1//application/", "/api/v1/label/x/..", "/api/v1", "/api/v1/label", "/api/v1/user/me/."} {
		rec := n.do("GET", p, "", nil)
		expectBody(t, "GET "+p+" without credentials", rec, 401, `{"message":"Unauthorized"}`)
		if h := rec.Header().Get("WWW-Authenticate"); h != "basic realm=Restricted" {
			t.Errorf("GET %s: WWW-Authenticate %q", p, h)
		}
		expectBody(t, "GET "+p+" as admin", n.do("GET", p, "admin", nil), 404, `{"message":"Not Found"}`)
		expectBody(t, "POST "+p+" as admin", n.do("POST", p, "admin", `{}`), 404, `{"message":"Not Found"}`)
	}
	for _, p := range []string{"/meta/v1//data/", "/meta/v1/./data/", "/meta/v1/data//", "//api/v1/label/x/../../../meta/v1/data/", "/x//y"} {
		expectBody(t, "GET "+p, n.do("GET", p, "", nil), 404, `{"message":"Not Found"}`)
	}
	// Clean paths still route.
	if rec := n.do("GET", "/api/v1/label/", "alice", nil); rec.Code != 200 {
		t.Errorf("GET /api/v1/label/ = %d %s", rec.Code, rec.Body)
	}
	// "/api/v1/user/me" is the user named "me".
	expectBody(t, "GET /api/v1/user/me", n.do("GET", "/api/v1/user/me", "admin", nil), 404, `{"message":"User not found: record not found"}`)
}

// TestBodyTooLarge: a body over 64 KB is a 413 on every route, with or without a length.
func TestBodyTooLarge(t *testing.T) {
	n := newAPINode(t)
	a := n.app(n.label().UID)
	big := `{"name":"` + strings.Repeat("x", 64<<10) + `"}`
	const want = `{"message":"Request Entity Too Large"}`
	for _, rt := range []struct{ method, path string }{
		{"POST", "/api/v1/user/"},
		{"POST", "/api/v1/label/"},
		{"POST", "/api/v1/application/"},
		{"POST", "/api/v1/application/" + a.UID.String() + "/task/"},
		{"POST", "/api/v1/location/"},
		{"POST", "/api/v1/servicemapping/"},
		{"GET", "/api/v1/label/"},
		{"GET", "/api/v1/nothing"},
	} {
		what := rt.method + " " + rt.path
		expectBody(t, what+" chunked", n.do(rt.method, rt.path, "admin", iotest.HalfReader(strings.NewReader(big))), 413, want)
		expectBody(t, what+" with length", n.do(rt.method, rt.path, "admin", big), 413, want)
	}
	// Authentication comes first.
	expectBody(t, "chunked without credentials", n.do("POST", "/api/v1/label/", "", strings.NewReader(big)), 401, `{"message":"Unauthorized"}`)
	// A chunked body within the limit is read as usual; decode errors keep their body key.
	var l model.Label
	rec := n.do("POST", "/api/v1/label/", "admin", strings.NewReader(`{"name":"chunked","definitions":[{"driver":"test","resources":{"cpu":1,"ram":1}}]}`))
	if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &l) != nil || l.Name != "chunked" {
		t.Errorf("chunked label create = %d %s", rec.Code, rec.Body)
	}
	rec = n.do("POST", "/api/v1/application/", "admin", strings.NewReader(`{"label_UID":"nope"}`))
	if m := decodeObject(t, rec); rec.Code != 400 || len(m) != 1 || !strings.HasPrefix(m["error"], "Wrong request body: ") {
		t.Errorf("application create with a bad UID = %d %s, want 400 {\"error\":\"Wrong request body: ...\"}", rec.Code, rec.Body)
	}
	rec = n.do("POST", "/api/v1/label/", "admin", strings.NewReader(`{"name":`))
	if m := decodeObject(t, rec); rec.Code != 400 || len(m) != 1 || !strings.HasPrefix(m["message"], "Wrong request body: ") {
		t.Errorf("label create with bad JSON = %d %s, want 400 {\"message\":\"Wrong request body: ...\"}", rec.Code, rec.Body)
	}
}

func decodeObject(t *testing.T, rec *httptest.ResponseRecorder) map[string]string {
	t.Helper()
	var m map[string]string
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
		t.Errorf("body %s: %v", rec.Body, err)
	}
	return m
}

// TestBodyTooLargeOverHTTP sends the chunked body through a real server and client.
func TestBodyTooLargeOverHTTP(t *testing.T) {
	n := newAPINode(t)
	srv := httptest.NewTLSServer(n.handler)
	t.Cleanup(srv.Close)
	big := strings.Repeat("x", 64<<10+1)
	for _, path := range []string{"/api/v1/label/", "/api/v1/application/"} {
		// A reader of unknown length makes the client send the body chunked.
		req, err := http.NewRequest("POST", srv.URL+path, io.MultiReader(strings.NewReader(big)))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.SetBasicAuth("admin", n.admin)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 413 || strings.TrimSpace(string(b)) != `{"message":"Request Entity Too Large"}` {
			t.Errorf("POST %s chunked = %d %s, want 413", path, resp.StatusCode, b)
		}
	}
}

// TestTaskFreeForm: task options and result are JSON objects, {} when absent (README decision 3).
func TestTaskFreeForm(t *testing.T) {
	n := newAPINode(t)
	a := n.app(n.label().UID)
	path := "/api/v1/application/" + a.UID.String() + "/task/"
	for _, tt := range []struct{ body, options, result string }{
		{`{"task":"snapshot","when":"ALLOCATED"}`, `{}`, `{}`},
		{`{"task":"snapshot","options":null,"result":null}`, `{}`, `{}`},
		{`{"task":"snapshot","options":{ "full" : true, "a":[1, 2] }}`, `{"full":true,"a":[1,2]}`, `{}`},
	} {
		rec := n.do("POST", path, "alice", tt.body)
		var got struct {
			Options json.RawMessage `json:"options"`
			Result  json.RawMessage `json:"result"`
		}
		if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &got) != nil ||
			string(got.Options) != tt.options || string(got.Result) != tt.result {
			t.Errorf("POST %s: %d %s, want options %s result %s", tt.body, rec.Code, rec.Body, tt.options, tt.result)
		}
	}
	for _, tt := range []struct{ body, msg string }{
		{`{"task":"snapshot","options":[1]}`, "Unable to create ApplicationTask: options must be a JSON object"},
		{`{"task":"snapshot","options":"{}"}`, "Unable to create ApplicationTask: options must be a JSON object"},
		{`{"task":"snapshot","options":1}`, "Unable to create ApplicationTask: options must be a JSON object"},
		{`{"task":"snapshot","result":true}`, "Unable to create ApplicationTask: result must be a JSON object"},
		{`{"options":{}}`, "Unable to create ApplicationTask: Fish: Task can't be empty"},
	} {
		js, _ := json.Marshal(map[string]string{"message": tt.msg})
		expectBody(t, "POST "+tt.body, n.do("POST", path, "alice", tt.body), 400, string(js))
	}
	// Nothing refused was stored.
	var tasks []model.ApplicationTask
	if rec := n.do("GET", path, "alice", nil); rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &tasks) != nil || len(tasks) != 3 {
		t.Errorf("task list = %d %s, want the 3 valid tasks", rec.Code, rec.Body)
	}
}

// TestFilterWarning: a rejected filter is logged as the spec spells it, without the text of
// quoted literals.
func TestFilterWarning(t *testing.T) {
	n := newAPINode(t)
	rec := n.do("GET", "/api/v1/label/?filter=DROP%20label", "alice", nil)
	expectBody(t, "rejected filter", rec, 200, `[]`)
	const want = "WARN:\tFish: SECURITY: weird SQL filter received: filter syntax error: unexpected \"DROP\" at offset 0\n"
	if got := n.log.String(); got != want {
		t.Errorf("log = %q, want %q", got, want)
	}
	n.do("GET", "/api/v1/label/?filter=name%20%3D%20'top-secret-1'%20'top-secret-2'", "alice", nil)
	n.do("GET", `/api/v1/label/?filter=name%20IN%20(%22top-secret-3%22%20%22x%22)`, "alice", nil)
	log := n.log.String()
	if strings.Contains(log, "top-secret") {
		t.Errorf("a quoted literal of a filter was logged:\n%s", log)
	}
	if c := strings.Count(log, "WARN:\tFish: SECURITY: weird SQL filter received: filter syntax error: unexpected quoted text"); c != 2 {
		t.Errorf("log:\n%s\nwant two warnings naming quoted text", log)
	}
}

// TestErrorTexts: the texts api-v1.md §4 and §5 spell out, with our status codes (README
// decision 1).
func TestErrorTexts(t *testing.T) {
	n := newAPINode(t)
	l := n.label()
	a := n.app(l.UID)
	unknown := uuid.MustParse("0a0b0c0d-0e0f-4000-8000-0000000000ff").String()
	msg := func(s string) string {
		js, _ := json.Marshal(map[string]string{"message": s})
		return string(js)
	}
	def := func(d string) string { return `{"name":"x","definitions":[` + d + `]}` }
	tests := []struct {
		method, path, user, body string
		status                   int
		message                  string
	}{
		{"GET", "/api/v1/user/nobody", "admin", "", 404, "User not found: record not found"},
		{"GET", "/api/v1/user/nobody", "alice", "", 403, "Only 'admin' user can get user"},
		{"GET", "/api/v1/label/" + unknown, "alice", "", 404, "Label not found: record not found"},
		{"GET", "/api/v1/application/" + unknown, "alice", "", 404, "Application not found: " + unknown},
		{"GET", "/api/v1/application/" + unknown + "/state", "alice", "", 404, "Unable to find the Application: " + unknown},
		{"GET", "/api/v1/application/" + unknown + "/resource", "alice", "", 404, "Unable to find the Application: " + unknown},
		{"GET", "/api/v1/application/" + unknown + "/task/", "alice", "", 404, "Unable to find the Application: " + unknown},
		{"POST", "/api/v1/application/" + unknown + "/task/", "alice", `{"task":"snapshot"}`, 404, "Unable to find the Application: " + unknown},
		{"GET", "/api/v1/application/" + unknown + "/deallocate", "alice", "", 404, "Unable to find the application: " + unknown},
		{"GET", "/api/v1/application/" + a.UID.String() + "/resource", "alice", "", 404, "Resource not found: record not found"},
		{"POST", "/api/v1/label/", "admin", `{"name":""}`, 400, "Unable to create label: Fish: Name can't be empty"},
		{"POST", "/api/v1/label/", "admin", def(`{"resources":{"cpu":1,"ram":1}}`), 400,
			"Unable to create label: Fish: Driver can't be empty in Label Definition 0"},
		{"POST", "/api/v1/label/", "admin", def(`{"driver":"test","resources":{"cpu":1,"ram":1}},{"driver":"test","resources":{"ram":1}}`), 400,
			"Unable to create label: Fish: Resources CPU can't be less than 1 in Label Definition 1"},
		{"POST", "/api/v1/label/", "admin", def(`{"driver":"test","resources":{"cpu":1}}`), 400,
			"Unable to create label: Fish: Resources RAM can't be less than 1 in Label Definition 0"},
		{"POST", "/api/v1/label/", "admin", def(`{"driver":"test","resources":{"cpu":1,"ram":1,"lifetime":"1x"}}`), 400,
			`Unable to create label: Fish: Resources Lifetime parse error in Label Definition 0: time: unknown unit "x" in duration "1x"`},
		{"POST", "/api/v1/application/", "alice", `{}`, 400, "Unable to create application: Fish: LabelUID can't be unset"},
		{"POST", "/api/v1/application/", "alice", `{"label_UID":"00000000-0000-0000-0000-000000000000"}`, 400,
			"Unable to create application: Fish: LabelUID can't be unset"},
		{"POST", "/api/v1/application/" + a.UID.String() + "/task/", "alice", `{"when":"ALLOCATED"}`, 400,
			"Unable to create ApplicationTask: Fish: Task can't be empty"},
		{"GET", "/api/v1/node/this/maintenance", "alice", "", 403, "Only 'admin' can set node maintenance"},
		{"GET", "/api/v1/label/nope", "alice", "", 400, "Invalid format for parameter uid: invalid UUID length: 4"},
		{"GET", "/api/v1/nothing", "alice", "", 404, "Not Found"},
	}
	for _, tt := range tests {
		var body any
		if tt.body != "" {
			body = tt.body
		}
		expectBody(t, tt.method+" "+tt.path+" as "+tt.user, n.do(tt.method, tt.path, tt.user, body), tt.status, msg(tt.message))
	}
}

// TestUserRecorded: the API tells the request log who a request was authenticated as, and only
// then.
func TestUserRecorded(t *testing.T) {
	n := newAPINode(t)
	for _, tt := range []struct {
		user, pass, want string
	}{
		{"alice", n.user, "alice"},
		{"alice", "wrong", ""},
		{"nobody", "x", ""},
	} {
		req := httptest.NewRequest("GET", "/api/v1/user/me/", nil)
		req.SetBasicAuth(tt.user, tt.pass)
		rec := &userRecorder{ResponseRecorder: httptest.NewRecorder()}
		n.handler.ServeHTTP(rec, req)
		if rec.user != tt.want {
			t.Errorf("%s/%s: recorded user %q, want %q (status %d)", tt.user, tt.pass, rec.user, tt.want, rec.Code)
		}
	}
}

type userRecorder struct {
	*httptest.ResponseRecorder
	user string
}

func (r *userRecorder) SetUser(name string) { r.user = name }
