package proxy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	xproxy "golang.org/x/net/proxy"

	"github.com/aquarium-fish/aquarium-fish/internal/model"
	"github.com/aquarium-fish/aquarium-fish/internal/resolve"
	"github.com/aquarium-fish/aquarium-fish/internal/resolve/resolvetest"
	"github.com/aquarium-fish/aquarium-fish/internal/testutil"
)

// fakeMappings holds service mappings in memory.
type fakeMappings []model.ServiceMapping

func (f fakeMappings) ServiceMappings(_ context.Context, service string) ([]model.ServiceMapping, error) {
	var out []model.ServiceMapping
	for _, m := range f {
		if m.Service == service {
			out = append(out, m)
		}
	}
	return out, nil
}

// echoServer accepts connections on loopback and echoes them; ended receives one value per
// connection that ended.
func echoServer(t *testing.T) (port int, ended <-chan struct{}) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{}, 16)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _ = io.Copy(c, c)
				_ = c.Close()
				done <- struct{}{}
			}()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		wg.Wait()
	})
	return ln.Addr().(*net.TCPAddr).Port, done
}

type testProxy struct {
	p    *Proxy
	addr netip.AddrPort
	logs *testutil.Buffer
}

// startProxy runs a proxy on loopback for a caller at 127.0.0.1 that is the resource of app
// (no resource when app is the null UUID).
func startProxy(t *testing.T, app model.UID, maps fakeMappings) *testProxy {
	t.Helper()
	lookup := resolvetest.NewLookup()
	if app != model.NilUID {
		lookup = resolvetest.NewLookup(model.Resource{UID: uuid.New(), ApplicationUID: app, IPAddr: "127.0.0.1"})
	}
	logs := &testutil.Buffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	p := New(Config{Address: "127.0.0.1:0", Location: "here"}, resolve.NewResolver(lookup, nil, log), maps, log)
	addr, err := p.Start(context.Background())
	if err != nil {
		t.Fatalf("Start() error = %v", err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return &testProxy{p: p, addr: addr, logs: logs}
}

func (tp *testProxy) dial(t *testing.T, dest string) (net.Conn, error) {
	t.Helper()
	d, err := xproxy.SOCKS5("tcp", tp.addr.String(), nil, &net.Dialer{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return d.Dial("tcp", dest)
}

// roundTrip checks that c echoes.
func roundTrip(t *testing.T, c net.Conn) {
	t.Helper()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	msg := []byte("ping\n")
	if _, err := c.Write(msg); err != nil {
		t.Fatalf("write through the tunnel: %v", err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("read through the tunnel = %q, %v; want %q", got, err, msg)
	}
}

func TestProxyMapped(t *testing.T) {
	app := uuid.New()
	port, _ := echoServer(t)
	tp := startProxy(t, app, fakeMappings{
		{UID: uuid.New(), ApplicationUID: app, Service: "svc.test", Redirect: "127.0.0.1"},
		{UID: uuid.New(), Service: "192.0.2.50", Redirect: "127.0.0.1"},
		{UID: uuid.New(), Service: "named.test", LocationName: "here", Redirect: "localhost"},
		{UID: uuid.New(), ApplicationUID: app, Service: "priority.test", LocationName: "here", Redirect: "127.0.0.1"},
		{UID: uuid.New(), Service: "priority.test", Redirect: "192.0.2.1"},
	})
	for _, host := range []string{"svc.test", "192.0.2.50", "named.test", "priority.test"} {
		t.Run(host, func(t *testing.T) {
			c, err := tp.dial(t, net.JoinHostPort(host, strconv.Itoa(port)))
			if err != nil {
				t.Fatalf("dial through the proxy: %v", err)
			}
			defer c.Close()
			roundTrip(t, c)
		})
	}
}

func TestProxyDenied(t *testing.T) {
	app := uuid.New()
	port, _ := echoServer(t)
	maps := fakeMappings{
		{UID: uuid.New(), ApplicationUID: app, Service: "svc.test", Redirect: "127.0.0.1"},
		{UID: uuid.New(), ApplicationUID: uuid.New(), Service: "other.test", Redirect: "127.0.0.1"},
		{UID: uuid.New(), Service: "unresolvable.test", Redirect: "no-such-host.invalid"},
	}
	tests := []struct {
		name    string
		app     model.UID
		host    string
		wantLog string
	}{
		{"unmapped", app, "unmapped.test", "Denied proxy from 127.0.0.1 to unmapped.test:"},
		{"unmapped IP", app, "127.0.0.1", "Denied proxy from 127.0.0.1 to 127.0.0.1:"},
		{"other application's mapping", app, "other.test", "Denied proxy from 127.0.0.1 to other.test:"},
		{"unknown client", model.NilUID, "svc.test", "Denied proxy from 127.0.0.1 to svc.test:"},
		{"unresolvable redirect", app, "unresolvable.test", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tp := startProxy(t, tt.app, maps)
			c, err := tp.dial(t, net.JoinHostPort(tt.host, strconv.Itoa(port)))
			if err == nil {
				_ = c.Close()
				t.Fatal("dial through the proxy succeeded, want denied")
			}
			if tt.wantLog != "" && !strings.Contains(tp.logs.String(), tt.wantLog+strconv.Itoa(port)) {
				t.Errorf("log = %q, want a line %q", tp.logs.String(), tt.wantLog)
			}
		})
	}
}

// TestProxyConnectOnly sends a raw BIND request: only CONNECT is served.
func TestProxyConnectOnly(t *testing.T) {
	app := uuid.New()
	tp := startProxy(t, app, fakeMappings{{UID: uuid.New(), Service: "127.0.0.1", Redirect: "127.0.0.1"}})
	c, err := net.DialTimeout("tcp", tp.addr.String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte{5, 1, 0}); err != nil { // version 5, one method: no auth
		t.Fatal(err)
	}
	method := make([]byte, 2)
	if _, err := io.ReadFull(c, method); err != nil || method[1] != 0 {
		t.Fatalf("method selection = %v, %v; want no auth", method, err)
	}
	if _, err := c.Write([]byte{5, 2, 0, 1, 127, 0, 0, 1, 0, 80}); err != nil { // BIND 127.0.0.1:80
		t.Fatal(err)
	}
	reply := make([]byte, 10)
	if _, err := io.ReadFull(c, reply); err != nil {
		t.Fatal(err)
	}
	if reply[1] == 0 {
		t.Fatalf("BIND reply = %v, want a failure", reply)
	}
}

func TestProxyCloseEndsTunnels(t *testing.T) {
	app := uuid.New()
	port, ended := echoServer(t)
	tp := startProxy(t, app, fakeMappings{{UID: uuid.New(), ApplicationUID: app, Service: "svc.test", Redirect: "127.0.0.1"}})
	c, err := tp.dial(t, net.JoinHostPort("svc.test", strconv.Itoa(port)))
	if err != nil {
		t.Fatalf("dial through the proxy: %v", err)
	}
	defer c.Close()
	roundTrip(t, c)

	if err := tp.p.Close(); err != nil {
		t.Fatalf("Close() error = %v", err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var ne net.Error
	if _, err := c.Read(make([]byte, 1)); err == nil || (errors.As(err, &ne) && ne.Timeout()) {
		t.Fatalf("read after Close = %v, want the tunnel closed", err)
	}
	select {
	case <-ended:
	case <-time.After(5 * time.Second):
		t.Fatal("the target connection is still open after Close")
	}
	if _, err := tp.dial(t, net.JoinHostPort("svc.test", strconv.Itoa(port))); err == nil {
		t.Fatal("dial after Close succeeded")
	}
}

func TestProxyStart(t *testing.T) {
	tp := startProxy(t, uuid.New(), nil)
	if _, err := tp.p.Start(context.Background()); !errors.Is(err, ErrStarted) {
		t.Fatalf("second Start() error = %v, want ErrStarted", err)
	}
	// A second proxy on the same address: the bind failure is returned, not fatal.
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	p2 := New(Config{Address: tp.addr.String()}, resolve.NewResolver(resolvetest.NewLookup(), nil, log), fakeMappings{}, log)
	if _, err := p2.Start(context.Background()); err == nil {
		t.Fatal("Start() on a busy address succeeded")
	}
	if err := p2.Close(); err != nil {
		t.Fatalf("Close() of an unstarted proxy = %v", err)
	}
}

func TestProxyStopsWithContext(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	p := New(Config{Address: "127.0.0.1:0"}, resolve.NewResolver(resolvetest.NewLookup(), nil, log), fakeMappings{}, log)
	ctx, cancel := context.WithCancel(context.Background())
	addr, err := p.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	cancel()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr.String(), time.Second)
		if err != nil {
			return // the listener is closed
		}
		_ = c.Close()
		if time.Now().After(deadline) {
			t.Fatal("the proxy still accepts after its context was cancelled")
		}
		runtime.Gosched()
	}
}
