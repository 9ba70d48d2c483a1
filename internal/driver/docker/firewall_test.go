package docker

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
)

// fakeIPTables is an in-memory filter table answering the commands the firewall runs.
type fakeIPTables struct {
	mu      sync.Mutex
	chains  map[string][][]string // chain -> rule specs (without the chain)
	calls   []string
	beforeD func() // runs before each -D, to simulate another process
}

func newFakeIPTables() *fakeIPTables {
	return &fakeIPTables{chains: map[string][][]string{"INPUT": nil, "FORWARD": nil, "OUTPUT": nil}}
}

var errFakeRule = errors.New("bad rule (does a matching rule exist in that chain?)")

func (f *fakeIPTables) run(_ context.Context, args ...string) (string, error) {
	if len(args) > 0 && args[0] == "-D" && f.beforeD != nil {
		f.beforeD()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, strings.Join(args, " "))
	find := func(chain string, spec []string) int {
		return slices.IndexFunc(f.chains[chain], func(r []string) bool { return slices.Equal(r, spec) })
	}
	switch args[0] {
	case "-S":
		var b strings.Builder
		for _, name := range []string{"INPUT", "FORWARD", "OUTPUT", sandboxChain} {
			rules, ok := f.chains[name]
			if !ok {
				continue
			}
			if len(args) > 1 && args[1] != name {
				continue
			}
			b.WriteString("-N " + name + "\n")
			for _, r := range rules {
				quoted := slices.Clone(r)
				for i := range quoted {
					if i > 0 && quoted[i-1] == "--comment" {
						quoted[i] = `"` + quoted[i] + `"`
					}
				}
				b.WriteString("-A " + name + " " + strings.Join(quoted, " ") + "\n")
			}
		}
		if len(args) > 1 && b.Len() == 0 {
			return "", errors.New("no chain/target/match by that name")
		}
		return b.String(), nil
	case "-N":
		if _, ok := f.chains[args[1]]; ok {
			return "", errors.New("chain already exists")
		}
		f.chains[args[1]] = nil
	case "-C":
		if find(args[1], args[2:]) < 0 {
			return "", errFakeRule
		}
	case "-I":
		f.chains[args[1]] = slices.Insert(f.chains[args[1]], 0, args[3:])
	case "-A":
		if _, ok := f.chains[args[1]]; !ok {
			return "", errors.New("no chain/target/match by that name")
		}
		f.chains[args[1]] = append(f.chains[args[1]], args[2:])
	case "-D":
		i := find(args[1], args[2:])
		if i < 0 {
			return "", errFakeRule
		}
		f.chains[args[1]] = slices.Delete(f.chains[args[1]], i, i+1)
	}
	return "", nil
}

// sandbox returns the rules of the sandbox chain, one string each.
func (f *fakeIPTables) sandbox() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, r := range f.chains[sandboxChain] {
		out = append(out, strings.Join(r, " "))
	}
	return out
}

func fakeFirewall(ipt *fakeIPTables, ifaces ...string) *firewall {
	return &firewall{run: ipt.run, interfaces: func() (map[string]bool, error) {
		m := map[string]bool{}
		for _, i := range ifaces {
			m[i] = true
		}
		return m, nil
	}}
}

func TestSplitArgs(t *testing.T) {
	for _, c := range []struct {
		line string
		want []string
	}{
		{`-A FISH-SANDBOX -i fb-1 -j DROP`, []string{"-A", "FISH-SANDBOX", "-i", "fb-1", "-j", "DROP"}},
		{`-m comment --comment "fish:fish-ab"  -j  ACCEPT`, []string{"-m", "comment", "--comment", "fish:fish-ab", "-j", "ACCEPT"}},
		{`--comment "a \"b\" c\\d" x`, []string{"--comment", `a "b" c\d`, "x"}},
		{`--comment ""`, []string{"--comment", ""}},
		{``, nil},
	} {
		if got := splitArgs(c.line); !slices.Equal(got, c.want) {
			t.Errorf("splitArgs(%q) = %q, want %q", c.line, got, c.want)
		}
	}
}

func TestParseRules(t *testing.T) {
	out := `-P INPUT ACCEPT
-N FISH-SANDBOX
-A INPUT -i fb-+ -j FISH-SANDBOX
-A FISH-SANDBOX -i fb-0a -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment "fish:fish-0a" -j ACCEPT
-A FISH-SANDBOX -d 172.18.0.1/32 -i fb-0a -p tcp -m multiport --dports 8001,1080 -m comment --comment "fish:fish-0a" -j ACCEPT
-A FISH-SANDBOX -i fb-9 -m comment --comment "admin rule" -j DROP
`
	got := parseRules(out)
	if len(got) != 3 {
		t.Fatalf("parseRules = %+v, want 3 rules", got)
	}
	if r := got[1]; r.iface != "fb-0a" || r.tag != "fish:fish-0a" || r.spec[0] != sandboxChain || r.spec[len(r.spec)-1] != "ACCEPT" {
		t.Errorf("rule = %+v", r)
	}
	if r := got[2]; r.iface != "fb-9" || r.tag != "" {
		t.Errorf("untagged rule = %+v", r)
	}
}

func TestRuleSpecs(t *testing.T) {
	gw := netip.MustParseAddr("172.18.0.1")
	tag := "-m comment --comment fish:fish-1"
	for _, c := range []struct {
		name  string
		gw    netip.Addr
		ports []uint16
		want  []string
	}{
		{"ports", gw, []uint16{8001, 1080}, []string{
			"-i fb-1 -m conntrack --ctstate ESTABLISHED,RELATED " + tag + " -j ACCEPT",
			"-i fb-1 -d 172.18.0.1 -p tcp -m multiport --dports 8001,1080 " + tag + " -j ACCEPT",
			"-i fb-1 " + tag + " -j DROP"}},
		{"no gateway", netip.Addr{}, []uint16{8001}, []string{
			"-i fb-1 -m conntrack --ctstate ESTABLISHED,RELATED " + tag + " -j ACCEPT",
			"-i fb-1 -p tcp -m multiport --dports 8001 " + tag + " -j ACCEPT",
			"-i fb-1 " + tag + " -j DROP"}},
		{"no ports", gw, nil, []string{
			"-i fb-1 -m conntrack --ctstate ESTABLISHED,RELATED " + tag + " -j ACCEPT",
			"-i fb-1 " + tag + " -j DROP"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var got []string
			for _, s := range ruleSpecs("fish-1", "fb-1", c.gw, c.ports) {
				got = append(got, strings.Join(s, " "))
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("ruleSpecs =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(c.want, "\n"))
			}
		})
	}
}

func TestPorts(t *testing.T) {
	ap := netip.MustParseAddrPort
	got := hostPorts(ap("0.0.0.0:8001"), ap("[::]:8001"), netip.AddrPort{}, ap("0.0.0.0:0"), ap("0.0.0.0:1080"))
	if !slices.Equal(got, []uint16{8001, 1080}) {
		t.Errorf("hostPorts = %v", got)
	}
	if s := formatPorts(got); s != "8001,1080" {
		t.Errorf("formatPorts = %q", s)
	}
	for s, want := range map[string][]uint16{"8001,1080": {8001, 1080}, "": nil, "x, 7,0,70000": {7}} {
		if got := parsePorts(s); !slices.Equal(got, want) {
			t.Errorf("parsePorts(%q) = %v, want %v", s, got, want)
		}
	}
}

// TestFirewallLifecycle: the chain and its jump are made once; rules are added per bridge and
// removed once the bridge is gone, orphans of any resource too, tolerating concurrent removal.
func TestFirewallLifecycle(t *testing.T) {
	ctx := t.Context()
	ipt := newFakeIPTables()
	fw := fakeFirewall(ipt, "fb-1", "fb-2")
	gw := netip.MustParseAddr("10.0.0.1")
	for _, id := range []string{"1", "2"} {
		if err := fw.allow(ctx, "fish-"+id, "fb-"+id, gw, []uint16{8001}); err != nil {
			t.Fatalf("allow %s: %v", id, err)
		}
	}
	if got := ipt.chains["INPUT"]; len(got) != 1 || strings.Join(got[0], " ") != "-i fb-+ -j "+sandboxChain {
		t.Errorf("INPUT = %q, want one jump", got)
	}
	if n := len(ipt.sandbox()); n != 6 {
		t.Fatalf("sandbox chain has %d rules, want 6: %q", n, ipt.sandbox())
	}
	// An admin's own rule in the chain is never touched.
	ipt.chains[sandboxChain] = append(ipt.chains[sandboxChain], []string{"-i", "fb-9", "-j", "DROP"})

	// The bridge of fish-1 still exists: its rules stay.
	if err := fw.release(ctx, "fish-1"); err != nil || len(ipt.sandbox()) != 7 {
		t.Fatalf("release with the bridge present: %v, rules %q", err, ipt.sandbox())
	}
	fw = fakeFirewall(ipt, "fb-2")
	if err := fw.release(ctx, "fish-1"); err != nil {
		t.Fatalf("release: %v", err)
	}
	if rules := ipt.sandbox(); len(rules) != 4 || slices.ContainsFunc(rules, func(r string) bool { return strings.Contains(r, "fish:fish-1") }) {
		t.Errorf("after release of fish-1: %q", rules)
	}

	// Another process removes the rules at the same time: not an error.
	fw = fakeFirewall(ipt)
	ipt.beforeD = func() {
		ipt.mu.Lock()
		defer ipt.mu.Unlock()
		ipt.chains[sandboxChain] = slices.DeleteFunc(ipt.chains[sandboxChain], func(r []string) bool { return slices.Contains(r, "fish:fish-2") })
	}
	if err := fw.removeOrphans(ctx); err != nil {
		t.Fatalf("removeOrphans: %v", err)
	}
	if rules := ipt.sandbox(); !slices.Equal(rules, []string{"-i fb-9 -j DROP"}) {
		t.Errorf("after removeOrphans: %q", rules)
	}

	// A deletion that fails while the rule stays is reported.
	ipt.beforeD = nil
	if err := fw.allow(ctx, "fish-3", "fb-3", gw, nil); err != nil {
		t.Fatalf("allow fish-3: %v", err)
	}
	stuck := fw.run
	fw.run = func(ctx context.Context, args ...string) (string, error) {
		if args[0] == "-D" {
			return "", errFakeRule
		}
		return stuck(ctx, args...)
	}
	if err := fw.release(ctx, "fish-3"); err == nil || !errors.Is(err, errFirewall) {
		t.Errorf("release with failing deletes = %v, want a %v error", err, errFirewall)
	}
}

// TestEnsureChain: a chain made meanwhile by another process is fine; a missing jump is added
// again.
func TestEnsureChain(t *testing.T) {
	ctx := t.Context()
	ipt := newFakeIPTables()
	ipt.chains[sandboxChain] = nil // made by another process, jump not yet
	fw := fakeFirewall(ipt)
	if err := fw.ensureChain(ctx); err != nil {
		t.Fatalf("ensureChain: %v", err)
	}
	ipt.chains["INPUT"] = nil // flushed by an admin
	if err := fw.allow(ctx, "fish-1", "fb-1", netip.Addr{}, nil); err != nil {
		t.Fatalf("allow: %v", err)
	}
	if len(ipt.chains["INPUT"]) != 1 {
		t.Errorf("INPUT = %q, want the jump back", ipt.chains["INPUT"])
	}
	if n := strings.Count(strings.Join(ipt.calls, "\n"), "-N "+sandboxChain); n != 0 {
		t.Errorf("-N run %d times for an existing chain", n)
	}
}

func TestParseConfigFirewall(t *testing.T) {
	for _, c := range []struct {
		raw      string
		firewall bool
		path     string
	}{
		{``, true, DefaultIPTablesPath},
		{`{"host_firewall": null}`, true, DefaultIPTablesPath},
		{`{"host_firewall": false}`, false, DefaultIPTablesPath},
		{`{"host_firewall": true, "iptables_path": "/usr/sbin/iptables-legacy"}`, true, "/usr/sbin/iptables-legacy"},
	} {
		cfg, err := parseConfig([]byte(c.raw), t.TempDir())
		if err != nil || cfg.HostFirewall != c.firewall || cfg.IPTablesPath != c.path {
			t.Errorf("parseConfig(%s) = host_firewall %v iptables_path %q, %v; want %v %q", c.raw, cfg.HostFirewall, cfg.IPTablesPath, err, c.firewall, c.path)
		}
	}
}
