package docker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"

	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"
)

// bridgeNameOption is the network option naming a bridge network's host interface.
const bridgeNameOption = "com.docker.network.bridge.name"

// hostExposed is what a resource can do when the host firewall is not in place.
const hostExposed = "resources can reach every service of the host that listens on a wildcard address"

// setupFirewall returns the driver's host firewall, or nil, with a warning saying so, when it is
// off or cannot work here.
func setupFirewall(ctx context.Context, cfg Config, cli *client.Client, log *slog.Logger) *firewall {
	if !cfg.HostFirewall {
		log.Warn("host_firewall is false: " + hostExposed)
		return nil
	}
	fw, err := probeFirewall(ctx, cfg.IPTablesPath, cli)
	if err != nil {
		log.Warn(fmt.Sprintf("host firewall unusable (%v): %s", err, hostExposed))
		return nil
	}
	return fw
}

// probeFirewall checks that iptables at path filters the traffic of the engine's bridges: the
// engine is local, iptables works, and the engine's default bridge is among the node's
// interfaces (the engine runs in the node's network namespace). It sets up the sandbox chain.
func probeFirewall(ctx context.Context, path string, cli *client.Client) (*firewall, error) {
	if host := cli.DaemonHost(); !strings.HasPrefix(host, "unix://") {
		return nil, fmt.Errorf("the engine at %s is not local", host)
	}
	bin, err := exec.LookPath(path)
	if err != nil {
		return nil, fmt.Errorf("iptables_path: %w", err)
	}
	fw := newFirewall(bin)
	if _, err := fw.run(ctx, "-L", "-n"); err != nil {
		if os.Geteuid() != 0 {
			return nil, fmt.Errorf("not running as root: %w", err)
		}
		return nil, err
	}
	if n, err := cli.NetworkInspect(ctx, "bridge", network.InspectOptions{}); err == nil && n.Options[bridgeNameOption] != "" {
		ifaces, err := fw.interfaces()
		if err != nil {
			return nil, err
		}
		if name := n.Options[bridgeNameOption]; !ifaces[name] {
			return nil, fmt.Errorf("the engine's bridge %s is not an interface of the node's network namespace", name)
		}
	}
	if err := fw.ensureChain(ctx); err != nil {
		return nil, err
	}
	return fw, nil
}

// restoreRules brings the host firewall in line with the engine at start: it removes the rules of
// bridges that no longer exist (of any node: each bridge is one resource's) and installs the
// rules of this node's networks that have none (lost with a flush of the firewall), with the
// ports recorded on the network when it was made.
func (d *Driver) restoreRules(ctx context.Context) error {
	if err := d.fw.removeOrphans(ctx); err != nil {
		return err
	}
	rules, err := d.fw.rules(ctx)
	if err != nil {
		return err
	}
	have := tagged(rules)
	nets, err := d.cli.NetworkList(ctx, network.ListOptions{Filters: d.ownFilter("")})
	if err != nil {
		return fmt.Errorf("docker: list networks: %w", err)
	}
	var errs []error
	for _, n := range nets {
		id := n.Labels[LabelResource]
		if id == "" || have[id] {
			continue
		}
		iface := n.Options[bridgeNameOption]
		if iface == "" {
			iface = bridgeName(id)
		}
		gw, _ := gateway(n.IPAM.Config)
		if err := d.fw.allow(ctx, id, iface, gw, parsePorts(n.Labels[labelHostPorts])); err != nil {
			errs = append(errs, err)
			continue
		}
		d.log.Info("host firewall rules restored", "resource", id, "interface", iface)
	}
	return errors.Join(errs...)
}
