package testcluster

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/aquarium-fish/aquarium-fish/internal/model"
)

// Client speaks the REST API to any node as admin, skipping certificate verification as the
// existing clients do.
type Client struct {
	tr   *http.Transport
	hc   *http.Client
	user string
	pass string
}

func newClient(pass string) *Client {
	tr := &http.Transport{
		TLSClientConfig:     &tls.Config{InsecureSkipVerify: true},
		MaxIdleConnsPerHost: 32,
		IdleConnTimeout:     30 * time.Second,
	}
	return &Client{tr: tr, hc: &http.Client{Transport: tr, Timeout: 30 * time.Second}, user: "admin", pass: pass}
}

func (cl *Client) close() { cl.tr.CloseIdleConnections() }

// APIError is an answer that is not a success.
type APIError struct {
	Status  int
	Message string
}

func (e *APIError) Error() string { return fmt.Sprintf("status %d: %s", e.Status, e.Message) }

// StatusOf returns the HTTP status of an error of Do (0 when no answer came).
func StatusOf(err error) int {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Status
	}
	return 0
}

// Do sends a request to nd and decodes a success answer into out (when not nil). body is
// encoded as JSON when not nil. A non-2xx answer is an *APIError.
func (cl *Client) Do(ctx context.Context, nd *Node, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "https://"+nd.Addr()+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.SetBasicAuth(cl.user, cl.pass)
	resp, err := cl.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		var m struct {
			Message string `json:"message"`
			Error   string `json:"error"`
		}
		_ = json.Unmarshal(b, &m)
		if m.Message == "" {
			m.Message = m.Error
		}
		if m.Message == "" {
			m.Message = string(b)
		}
		return &APIError{Status: resp.StatusCode, Message: m.Message}
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("decode %s %s answer: %w", method, path, err)
		}
	}
	return nil
}

// TestDef is a test driver definition of cpu and ram with driver options (nil: none).
func TestDef(cpu, ram uint32, options map[string]any) model.LabelDefinition {
	d := model.LabelDefinition{Driver: "test", Resources: model.Resources{CPU: cpu, RAM: ram}}
	if options != nil {
		d.Options, _ = json.Marshal(options)
	}
	return d
}

// CreateLabel creates a label through nd and fails the test if it cannot.
func (c *Cluster) CreateLabel(tb testing.TB, nd *Node, name string, defs ...model.LabelDefinition) model.Label {
	tb.Helper()
	var l model.Label
	err := c.client.Do(context.Background(), nd, http.MethodPost, "/api/v1/label/",
		map[string]any{"name": name, "version": 1, "definitions": defs}, &l)
	if err != nil {
		tb.Fatalf("create label %s through %s: %v", name, nd.Name, err)
	}
	return l
}

// CreateApp creates an application of label through nd.
func (c *Cluster) CreateApp(ctx context.Context, nd *Node, label model.UID) (model.Application, error) {
	var a model.Application
	err := c.client.Do(ctx, nd, http.MethodPost, "/api/v1/application/", map[string]any{"label_UID": label}, &a)
	return a, err
}

// AppState reads the current state of app through nd.
func (c *Cluster) AppState(ctx context.Context, nd *Node, app model.UID) (model.ApplicationState, error) {
	var s model.ApplicationState
	err := c.client.Do(ctx, nd, http.MethodGet, "/api/v1/application/"+app.String()+"/state", nil, &s)
	return s, err
}

// Deallocate asks nd to deallocate app.
func (c *Cluster) Deallocate(ctx context.Context, nd *Node, app model.UID) error {
	return c.client.Do(ctx, nd, http.MethodGet, "/api/v1/application/"+app.String()+"/deallocate", nil, nil)
}

// NodeList lists the nodes as nd sees them.
func (c *Cluster) NodeList(ctx context.Context, nd *Node) ([]model.Node, error) {
	var out []model.Node
	err := c.client.Do(ctx, nd, http.MethodGet, "/api/v1/node/", nil, &out)
	return out, err
}

// WaitStatus polls app through nd until its status is one of want, and returns it.
func (c *Cluster) WaitStatus(tb testing.TB, nd *Node, app model.UID, timeout time.Duration, want ...model.Status) model.ApplicationState {
	tb.Helper()
	var last model.ApplicationState
	var lastErr error
	err := poll(timeout, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		last, lastErr = c.AppState(ctx, nd, app)
		if lastErr != nil {
			return false
		}
		for _, w := range want {
			if last.Status == w {
				return true
			}
		}
		return false
	})
	if err != nil {
		tb.Fatalf("application %s through %s: status %s (err %v), want one of %v within %v", app, nd.Name, last.Status, lastErr, want, timeout)
	}
	return last
}

// CreateRetrying creates an application of label as a patient client would: through node
// first, then through the next node after any error, until a node acknowledges it or timeout
// passes. Every attempt is recorded in h (an attempt that failed may still have created one).
func (c *Cluster) CreateRetrying(h *History, label model.UID, first int, timeout time.Duration) (model.UID, error) {
	deadline := time.Now().Add(timeout)
	nodes := c.Nodes()
	var lastErr error
	for i := first; time.Now().Before(deadline); i++ {
		nd := nodes[i%len(nodes)]
		start := time.Now()
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		a, err := c.CreateApp(ctx, nd, label)
		cancel()
		h.Record("create", nd.Index, a.UID, err, start)
		if err == nil {
			return a.UID, nil
		}
		lastErr = err
		if s := StatusOf(err); s != 0 && s != 503 {
			return model.UID{}, err // refused for a reason a retry does not change
		}
		if (i-first+1)%len(nodes) == 0 {
			<-time.After(50 * time.Millisecond) // every node failed: back off a little
		}
	}
	return model.UID{}, fmt.Errorf("no node acknowledged within %v: %w", timeout, lastErr)
}

// DeallocateRetrying deallocates app as a patient client would: through node first, then the
// next node after a transport error or a 503, until a node answers or timeout passes.
func (c *Cluster) DeallocateRetrying(h *History, app model.UID, first int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	nodes := c.Nodes()
	var err error
	for i := first; time.Now().Before(deadline); i++ {
		nd := nodes[i%len(nodes)]
		start := time.Now()
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		err = c.Deallocate(ctx, nd, app)
		cancel()
		h.Record("deallocate", nd.Index, app, err, start)
		if s := StatusOf(err); err == nil || (s != 0 && s != 503) {
			return err
		}
		if (i-first+1)%len(nodes) == 0 {
			<-time.After(50 * time.Millisecond) // every node failed: back off a little
		}
	}
	return err
}
