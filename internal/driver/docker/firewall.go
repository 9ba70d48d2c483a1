package docker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// The host firewall: iptables rules, in a chain of their own, that let a resource's bridge reach
// only the node's meta API and proxy ports on the host.
const (
	// sandboxChain is the filter table chain holding the rules of every resource bridge; INPUT
	// jumps to it for the packets coming in on an fb-* interface.
	sandboxChain = "FISH-SANDBOX"
	// ruleTag prefixes the comment of every rule: fish:<resource identifier>.
	ruleTag = "fish:"
	// bridgePattern is the iptables interface pattern of every resource bridge.
	bridgePattern = "fb-+"
)

// errFirewall wraps the failures of the host firewall.
var errFirewall = errors.New("host firewall")

// firewall installs and removes the host filtering rules of resource bridges by running
// iptables. The rules of a resource are tagged with a comment naming it, and live as long as its
// bridge interface: they are removed once the interface is gone.
type firewall struct {
	// run executes iptables with args (the wait flag added) and returns its standard output.
	run func(ctx context.Context, args ...string) (string, error)
	// interfaces lists the names of the host's network interfaces.
	interfaces func() (map[string]bool, error)
	mu         sync.Mutex // serialises the setup of the chain
}

// rule is one rule of the sandbox chain as iptables -S prints it.
type rule struct {
	spec  []string // the arguments after "-A"
	iface string   // the -i interface
	tag   string   // the comment, when it starts with ruleTag
}

// newFirewall returns the firewall running the iptables binary at path.
func newFirewall(path string) *firewall {
	return &firewall{run: iptablesRunner(path), interfaces: hostInterfaces}
}

// iptablesRunner runs the binary at path with -w (wait for the xtables lock).
func iptablesRunner(path string) func(ctx context.Context, args ...string) (string, error) {
	return func(ctx context.Context, args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, path, append([]string{"-w"}, args...)...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			if msg := stderrText(stderr.String()); msg != "" {
				err = fmt.Errorf("%w: %s", err, msg)
			}
			return "", fmt.Errorf("%w: %s %s: %w", errFirewall, path, strings.Join(args, " "), err)
		}
		return stdout.String(), nil
	}
}

// stderrText is the diagnostic of iptables without its notes about the other backend's tables.
func stderrText(s string) string {
	var lines []string
	for l := range strings.Lines(s) {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "# Warning:") {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "; ")
}

func hostInterfaces() (map[string]bool, error) {
	list, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("%w: list network interfaces: %w", errFirewall, err)
	}
	names := make(map[string]bool, len(list))
	for _, i := range list {
		names[i.Name] = true
	}
	return names, nil
}

// ensureChain makes the sandbox chain and the jump of INPUT to it, unless they exist.
func (f *firewall) ensureChain(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	jump := []string{"INPUT", "-i", bridgePattern, "-j", sandboxChain}
	if _, err := f.run(ctx, append([]string{"-C"}, jump...)...); err == nil {
		return nil // the jump exists, so does the chain
	}
	if _, err := f.run(ctx, "-S", sandboxChain); err != nil {
		if _, err := f.run(ctx, "-N", sandboxChain); err != nil {
			// Another process may have made it meanwhile.
			if _, serr := f.run(ctx, "-S", sandboxChain); serr != nil {
				return err
			}
		}
	}
	_, err := f.run(ctx, "-I", "INPUT", "1", "-i", bridgePattern, "-j", sandboxChain)
	return err
}

// allow installs the rules of resource id's bridge iface: TCP to ports on the gateway gw (the
// host's address on the bridge; any host address when gw is not valid) and the packets of
// established connections are accepted, everything else coming in on iface is dropped.
func (f *firewall) allow(ctx context.Context, id, iface string, gw netip.Addr, ports []uint16) error {
	if err := f.ensureChain(ctx); err != nil {
		return err
	}
	for _, spec := range ruleSpecs(id, iface, gw, ports) {
		if _, err := f.run(ctx, append([]string{"-A", sandboxChain}, spec...)...); err != nil {
			return err
		}
	}
	return nil
}

// ruleSpecs are the rules of resource id's bridge iface, in order, without the chain.
func ruleSpecs(id, iface string, gw netip.Addr, ports []uint16) [][]string {
	tag := []string{"-m", "comment", "--comment", ruleTag + id}
	specs := [][]string{
		slices.Concat([]string{"-i", iface, "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED"}, tag, []string{"-j", "ACCEPT"}),
	}
	if len(ports) > 0 {
		accept := []string{"-i", iface}
		if gw.IsValid() {
			accept = append(accept, "-d", gw.String())
		}
		accept = append(accept, "-p", "tcp", "-m", "multiport", "--dports", formatPorts(ports))
		specs = append(specs, slices.Concat(accept, tag, []string{"-j", "ACCEPT"}))
	}
	return append(specs, slices.Concat([]string{"-i", iface}, tag, []string{"-j", "DROP"}))
}

// rules lists the rules of the sandbox chain (none when it does not exist).
func (f *firewall) rules(ctx context.Context) ([]rule, error) {
	out, err := f.run(ctx, "-S")
	if err != nil {
		return nil, err
	}
	return parseRules(out), nil
}

// parseRules picks the rules of the sandbox chain out of iptables -S output.
func parseRules(out string) []rule {
	var rules []rule
	for line := range strings.Lines(out) {
		args := splitArgs(strings.TrimSpace(line))
		if len(args) < 2 || args[0] != "-A" || args[1] != sandboxChain {
			continue
		}
		r := rule{spec: args[1:]}
		for i := 2; i+1 < len(args); i++ {
			switch args[i] {
			case "-i", "--in-interface":
				r.iface = args[i+1]
			case "--comment":
				if strings.HasPrefix(args[i+1], ruleTag) {
					r.tag = args[i+1]
				}
			}
		}
		rules = append(rules, r)
	}
	return rules
}

// splitArgs splits a line of iptables -S output into arguments: separated by blanks, double
// quotes group (with \" and \\ escapes).
func splitArgs(line string) []string {
	var (
		args    []string
		cur     strings.Builder
		inArg   bool
		quoted  bool
		escaped bool
	)
	for _, r := range line {
		switch {
		case escaped:
			cur.WriteRune(r)
			escaped = false
		case quoted && r == '\\':
			escaped = true
		case r == '"':
			quoted, inArg = !quoted, true
		case !quoted && (r == ' ' || r == '\t'):
			if inArg {
				args = append(args, cur.String())
				cur.Reset()
				inArg = false
			}
		default:
			cur.WriteRune(r)
			inArg = true
		}
	}
	if inArg {
		args = append(args, cur.String())
	}
	return args
}

// release removes the rules of resource id whose bridge interface no longer exists.
func (f *firewall) release(ctx context.Context, id string) error {
	return f.removeGone(ctx, func(r rule) bool { return r.tag == ruleTag+id })
}

// removeOrphans removes the tagged rules of every bridge interface that no longer exists.
func (f *firewall) removeOrphans(ctx context.Context) error {
	return f.removeGone(ctx, func(r rule) bool { return r.tag != "" })
}

// removeGone deletes the rules selected by match whose interface is gone. A rule another process
// deleted meanwhile is not an error.
func (f *firewall) removeGone(ctx context.Context, match func(rule) bool) error {
	rules, err := f.rules(ctx)
	if err != nil {
		return err
	}
	var ifaces map[string]bool
	var failed []rule
	var errs []error
	for _, r := range rules {
		if !match(r) || r.iface == "" {
			continue
		}
		if ifaces == nil {
			if ifaces, err = f.interfaces(); err != nil {
				return err
			}
		}
		if ifaces[r.iface] {
			continue
		}
		if _, err := f.run(ctx, append([]string{"-D"}, r.spec...)...); err != nil {
			failed = append(failed, r)
			errs = append(errs, err)
		}
	}
	if len(failed) == 0 {
		return nil
	}
	now, err := f.rules(ctx)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	errs = errs[:0]
	for _, r := range failed {
		if slices.ContainsFunc(now, func(n rule) bool { return slices.Equal(n.spec, r.spec) }) {
			errs = append(errs, fmt.Errorf("%w: rule %q could not be deleted", errFirewall, strings.Join(r.spec, " ")))
		}
	}
	return errors.Join(errs...)
}

// tagged reports the resource identifiers that have rules.
func tagged(rules []rule) map[string]bool {
	ids := map[string]bool{}
	for _, r := range rules {
		if r.tag != "" {
			ids[strings.TrimPrefix(r.tag, ruleTag)] = true
		}
	}
	return ids
}

// formatPorts renders ports for --dports and for the network label.
func formatPorts(ports []uint16) string {
	s := make([]string, len(ports))
	for i, p := range ports {
		s[i] = strconv.Itoa(int(p))
	}
	return strings.Join(s, ",")
}

// parsePorts reads a list written by formatPorts, skipping what is not a port.
func parsePorts(s string) []uint16 {
	var ports []uint16
	for f := range strings.SplitSeq(s, ",") {
		if p, err := strconv.ParseUint(strings.TrimSpace(f), 10, 16); err == nil && p != 0 {
			ports = append(ports, uint16(p))
		}
	}
	return ports
}

// hostPorts are the distinct nonzero ports of the node's endpoints, in order.
func hostPorts(eps ...netip.AddrPort) []uint16 {
	var ports []uint16
	for _, ep := range eps {
		if p := ep.Port(); ep.IsValid() && p != 0 && !slices.Contains(ports, p) {
			ports = append(ports, p)
		}
	}
	return ports
}
