package docker

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/docker/docker/client"
	"github.com/google/uuid"

	"github.com/aquarium-fish/aquarium-fish/internal/driver/docker/dockertest"
)

// secretGreeting is what hostService answers.
const secretGreeting = "host-secret"

// hostService listens on every address of the host at a random port, like a service the
// resources must not reach, and greets every connection.
func hostService(t *testing.T) uint16 {
	t.Helper()
	ln, err := net.Listen("tcp4", "0.0.0.0:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte(secretGreeting + "\n"))
			_ = c.Close()
		}
	}()
	return uint16(ln.Addr().(*net.TCPAddr).Port)
}

// otherHostAddr is an IPv4 address of the host on an interface that is neither the loopback nor
// a bridge of the engine, if there is one.
func otherHostAddr(t *testing.T) (netip.Addr, bool) {
	t.Helper()
	ifaces, err := net.Interfaces()
	if err != nil {
		t.Fatalf("interfaces: %v", err)
	}
	for _, i := range ifaces {
		if i.Flags&net.FlagUp == 0 || i.Flags&net.FlagLoopback != 0 || strings.HasPrefix(i.Name, "fb-") ||
			strings.HasPrefix(i.Name, "docker") || strings.HasPrefix(i.Name, "br-") || strings.HasPrefix(i.Name, "veth") {
			continue
		}
		addrs, _ := i.Addrs()
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr().Is4() {
				return p.Addr(), true
			}
		}
	}
	return netip.Addr{}, false
}

// probeHost tries, all at once from container id, the TCP services of targets (a reach means an
// answer came back) and a ping of ping; it returns what was reached, by name ("ping" for the
// ping).
func probeHost(t *testing.T, cli *client.Client, id string, targets map[string]netip.AddrPort, ping netip.Addr) map[string]bool {
	t.Helper()
	script := `probe() { printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 2 "$2" "$3" 2>/dev/null | grep -q . && echo "$1=open" || echo "$1=closed"; }` + "\n"
	for name, ap := range targets {
		script += fmt.Sprintf("probe %s %s %d &\n", name, ap.Addr(), ap.Port())
	}
	script += fmt.Sprintf("(ping -c 1 -W 2 %s >/dev/null 2>&1 && echo ping=open || echo ping=closed) &\nwait\n", ping)
	code, out := dockertest.Exec(t, cli, id, "sh", "-c", script)
	if code != 0 {
		t.Fatalf("probe the host from %s: exit %d: %s", id, code, out)
	}
	reached := map[string]bool{}
	for line := range strings.Lines(out) {
		if name, state, ok := strings.Cut(strings.TrimSpace(line), "="); ok {
			reached[name] = state == "open"
		}
	}
	if len(reached) != len(targets)+1 {
		t.Fatalf("probe output lacks results: %q", out)
	}
	return reached
}

// fishRules returns the lines of iptables -S tagged for resource id.
func fishRules(t *testing.T, d *Driver, id string) []string {
	t.Helper()
	out, err := d.fw.run(t.Context(), "-S")
	if err != nil {
		t.Fatalf("iptables -S: %v", err)
	}
	var lines []string
	for l := range strings.Lines(out) {
		if strings.Contains(l, `"`+ruleTag+id+`"`) || strings.Contains(l, " "+ruleTag+id+" ") {
			lines = append(lines, strings.TrimSpace(l))
		}
	}
	return lines
}

// TestHostFirewall: with the host firewall a resource reaches the node's API port on the
// gateway and no other service of the host, on any host address, nor pings it; without, it
// reaches them all (the hole the firewall closes). The rules go with the resource.
func TestHostFirewall(t *testing.T) {
	cli := dockertest.Engine(t)
	img := seededImage(t, cli)
	api := metaStandIn(t)
	secret := hostService(t)
	node, work := uuid.New(), t.TempDir()
	for _, c := range []struct {
		name     string
		cfg      string
		firewall bool
	}{
		{"firewall", ``, true},
		{"no firewall", `{"host_firewall": false}`, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			env := newTestEnv(t, node, work, api)
			d := newDriver(t, env.Env, "docker", c.cfg)
			switch {
			case c.firewall && d.fw == nil:
				t.Skipf("the host firewall cannot work here (not root, no iptables?): %s", env.logs.text())
			case !c.firewall && (d.fw != nil || !strings.Contains(env.logs.text(), "WARN host_firewall is false: "+hostExposed)):
				t.Fatalf("host_firewall false: firewall %v, logs:\n%s", d.fw != nil, env.logs.text())
			}
			a, res := allocate(t, d, request(definition(img), nil))
			ins, err := cli.ContainerInspect(t.Context(), a.Identifier)
			if err != nil {
				t.Fatalf("inspect: %v", err)
			}
			gw := netip.MustParseAddr(ins.NetworkSettings.Networks[a.Identifier].Gateway)

			if body, ok := httpGet(t, cli, a.Identifier, netip.AddrPortFrom(gw, api.Port())); !ok || !strings.Contains(body, "fish-meta-ok") {
				t.Errorf("the node's API port on the gateway is not reachable: %q", body)
			}
			targets := map[string]netip.AddrPort{"gateway": netip.AddrPortFrom(gw, secret)}
			if other, ok := otherHostAddr(t); ok {
				targets["other"] = netip.AddrPortFrom(other, secret)
				targets["other_api"] = netip.AddrPortFrom(other, api.Port()) // the API only on the gateway
			}
			for name, reached := range probeHost(t, cli, a.Identifier, targets, gw) {
				if reached == c.firewall {
					t.Errorf("host %s %v reached=%v, want %v", name, targets[name], reached, !c.firewall)
				}
			}
			if !c.firewall {
				return
			}
			if rules := fishRules(t, d, a.Identifier); len(rules) != 3 {
				t.Errorf("rules of %s = %q, want 3", a.Identifier, rules)
			}
			if err := d.Deallocate(t.Context(), res); err != nil {
				t.Fatalf("Deallocate: %v", err)
			}
			if rules := fishRules(t, d, a.Identifier); len(rules) != 0 {
				t.Errorf("rules of %s after deallocation: %q", a.Identifier, rules)
			}
		})
	}
}

// TestHostFirewallRestart: a new driver instance removes the rules of bridges that are gone and
// installs again the rules of its resources that lost theirs, with the ports of the allocation.
func TestHostFirewallRestart(t *testing.T) {
	cli := dockertest.Engine(t)
	img := seededImage(t, cli)
	api := metaStandIn(t)
	node, work := uuid.New(), t.TempDir()
	env := newTestEnv(t, node, work, api)
	before := newDriver(t, env.Env, "docker", "")
	if before.fw == nil {
		t.Skipf("the host firewall cannot work here (not root, no iptables?): %s", env.logs.text())
	}
	a, _ := allocate(t, before, request(definition(img), nil))
	ctx := t.Context()

	// The firewall was flushed: the resource lost its rules.
	rules, err := before.fw.rules(ctx)
	if err != nil {
		t.Fatalf("rules: %v", err)
	}
	for _, r := range rules {
		if r.tag == ruleTag+a.Identifier {
			if _, err := before.fw.run(ctx, append([]string{"-D"}, r.spec...)...); err != nil {
				t.Fatalf("delete %v: %v", r.spec, err)
			}
		}
	}
	// A rule of a bridge that is gone.
	orphan := "fish-" + randHex(6)
	spec := []string{sandboxChain, "-i", bridgeName(orphan), "-m", "comment", "--comment", ruleTag + orphan, "-j", "DROP"}
	if _, err := before.fw.run(ctx, append([]string{"-A"}, spec...)...); err != nil {
		t.Fatalf("add an orphan rule: %v", err)
	}
	t.Cleanup(func() { _, _ = before.fw.run(context.Background(), append([]string{"-D"}, spec...)...) })

	after := newDriver(t, newTestEnv(t, node, work, api).Env, "docker", "")
	if after.fw == nil {
		t.Fatal("the second instance has no firewall")
	}
	if got := fishRules(t, after, orphan); len(got) != 0 {
		t.Errorf("orphan rules left: %q", got)
	}
	got := fishRules(t, after, a.Identifier)
	want := fmt.Sprintf("--dports %d ", api.Port())
	if len(got) != 3 || !strings.Contains(strings.Join(got, "\n"), want) {
		t.Errorf("restored rules of %s = %q, want 3 with %q", a.Identifier, got, want)
	}
}

// TestHostFirewallUnusable: where iptables cannot work the driver starts without the firewall
// and warns that the host's services are exposed.
func TestHostFirewallUnusable(t *testing.T) {
	dockertest.Engine(t)
	for _, c := range []struct{ cfg, want string }{
		{`{"iptables_path": "/nonexistent/iptables"}`, `host firewall unusable (iptables_path: exec: "/nonexistent/iptables"`},
		{`{"iptables_path": "false"}`, "host firewall unusable (host firewall: "},
	} {
		env := newTestEnv(t, uuid.New(), t.TempDir(), netip.AddrPort{})
		d := newDriver(t, env.Env, "docker", c.cfg)
		logs := env.logs.text()
		if d.fw != nil || !strings.Contains(logs, "WARN "+c.want) || !strings.Contains(logs, hostExposed) {
			t.Errorf("New(%s): firewall %v, logs:\n%s\nwant a warning %q", c.cfg, d.fw != nil, logs, c.want)
		}
	}
}
