package docker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"strconv"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/versions"
	"github.com/docker/docker/api/types/volume"

	"github.com/aquarium-fish/aquarium-fish/internal/driver"
	"github.com/aquarium-fish/aquarium-fish/internal/model"
)

// errForeign marks an engine object named like a resource of this driver that this node's
// driver instance did not create: the driver never touches it.
var errForeign = errors.New("not created by this node's driver instance")

// Allocate creates the resource of req: images, an isolated network, volumes and the container.
// Whatever it created is removed again when a later step fails.
func (d *Driver) Allocate(ctx context.Context, req driver.AllocateRequest) (driver.Allocation, error) {
	p, err := newPlan(req.Definition)
	if err != nil {
		return driver.Allocation{}, err
	}
	ref, err := d.prepareImages(ctx, p.images)
	if err != nil {
		return driver.Allocation{}, err
	}
	id := identifier(req.ApplicationUID)
	log := d.log.With("resource", id, "app", req.ApplicationUID)

	// Objects of resource id are leftovers of an interrupted allocation of this very application
	// (a container of that name that is not ours makes destroy fail: the name is taken).
	if found, err := d.destroy(ctx, id); err != nil {
		return driver.Allocation{}, err
	} else if found {
		log.Warn("removed the leftovers of an earlier allocation of the application")
	}

	alloc, err := d.create(ctx, req, p, ref, id, log)
	if err != nil {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), engineTimeout)
		defer cancel()
		if _, derr := d.destroy(cctx, id); derr != nil {
			log.Warn("cleanup after a failed allocation", "err", derr)
		}
		return driver.Allocation{}, err
	}
	log.Info("container allocated", "image", ref, "ip", alloc.IPAddr)
	return alloc, nil
}

// create makes the network, the volumes and the container of resource id and starts it.
func (d *Driver) create(ctx context.Context, req driver.AllocateRequest, p plan, ref, id string, log *slog.Logger) (driver.Allocation, error) {
	var ep driver.Endpoints
	if d.env.Endpoints != nil {
		ep = d.env.Endpoints()
	}
	ports := hostPorts(ep.API, ep.Proxy)
	labels := d.ownLabels(id, req.ApplicationUID)
	netLabels := maps.Clone(labels)
	netLabels[labelHostPorts] = formatPorts(ports)
	gw, err := d.createNetwork(ctx, id, p.internal, netLabels)
	if err != nil {
		return driver.Allocation{}, err
	}
	// The rules are in place before the container starts, and stay until its bridge is gone.
	if d.fw != nil {
		if err := d.fw.allow(ctx, id, bridgeName(id), gw, ports); err != nil {
			return driver.Allocation{}, fmt.Errorf("docker: network %s: %w", id, err)
		}
	}
	mounts, err := d.createVolumes(ctx, id, p.disks, labels)
	if err != nil {
		return driver.Allocation{}, err
	}

	env := metadataEnv(req.Metadata)
	if d.env.Endpoints != nil {
		fishEnv, warnings := nodeEnv(gw, ep.API, ep.Proxy)
		for _, w := range warnings {
			log.Warn(w)
		}
		env = append(env, fishEnv...)
	}

	cLabels := d.ownLabels(id, req.ApplicationUID)
	cLabels[labelImage] = ref
	cLabels[labelCPU] = strconv.FormatUint(uint64(p.res.CPU), 10)
	cLabels[labelRAM] = strconv.FormatUint(uint64(p.res.RAM), 10)
	cLabels[labelTenancy] = tenancyLabel(p.res)
	mem := int64(p.res.RAM) << 30
	cfg := &container.Config{Hostname: id, Image: ref, Env: env, Labels: cLabels}
	host := &container.HostConfig{
		NetworkMode: container.NetworkMode(id),
		Mounts:      mounts,
		Resources: container.Resources{
			NanoCPUs:   int64(p.res.CPU) * 1e9,
			Memory:     mem,
			MemorySwap: mem,
		},
	}
	// The MAC is the container's own (drivers.md §3.3): per network since API 1.44, container-wide
	// before.
	mac := macOf(req.ApplicationUID).String()
	var netCfg *network.NetworkingConfig
	if versions.LessThan(d.cli.ClientVersion(), "1.44") {
		//lint:ignore SA1019 the container-wide field is the only way below API 1.44
		cfg.MacAddress = mac
	} else {
		netCfg = &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{id: {MacAddress: mac}}}
	}
	created, err := d.cli.ContainerCreate(ctx, cfg, host, netCfg, nil, id)
	if err != nil {
		return driver.Allocation{}, fmt.Errorf("docker: create container %s from %s: %w", id, ref, err)
	}
	if err := d.cli.ContainerStart(ctx, created.ID, container.StartOptions{}); err != nil {
		return driver.Allocation{}, fmt.Errorf("docker: start container %s: %w", id, err)
	}
	c, err := d.cli.ContainerInspect(ctx, created.ID)
	if err != nil {
		return driver.Allocation{}, fmt.Errorf("docker: inspect container %s: %w", id, err)
	}
	if c.State == nil || !c.State.Running {
		code := -1
		if c.State != nil {
			code = c.State.ExitCode
		}
		return driver.Allocation{}, fmt.Errorf("docker: container %s stopped right after start (exit code %d)", id, code)
	}
	alloc := driver.Allocation{Identifier: id}
	if c.NetworkSettings != nil {
		if ep := c.NetworkSettings.Networks[id]; ep != nil {
			alloc.IPAddr = ep.IPAddress
			if hw, err := net.ParseMAC(ep.MacAddress); err == nil {
				alloc.HwAddr = hw.String()
			}
		}
	}
	return alloc, nil
}

// createNetwork makes the resource's own bridge and returns its gateway (the host's address on it).
func (d *Driver) createNetwork(ctx context.Context, id string, internal bool, labels map[string]string) (netip.Addr, error) {
	resp, err := d.cli.NetworkCreate(ctx, id, network.CreateOptions{
		Driver:   "bridge",
		Internal: internal,
		Labels:   labels,
		Options:  map[string]string{"com.docker.network.bridge.name": bridgeName(id)},
	})
	if err != nil {
		return netip.Addr{}, fmt.Errorf("docker: create network %s: %w", id, err)
	}
	n, err := d.cli.NetworkInspect(ctx, resp.ID, network.InspectOptions{})
	if err != nil {
		return netip.Addr{}, fmt.Errorf("docker: inspect network %s: %w", id, err)
	}
	if gw, ok := gateway(n.IPAM.Config); ok {
		return gw, nil
	}
	return netip.Addr{}, fmt.Errorf("docker: network %s has no gateway address", id)
}

// gateway is the gateway address of a network's IPAM configuration, IPv4 preferred.
func gateway(cfgs []network.IPAMConfig) (netip.Addr, bool) {
	var found netip.Addr
	for _, c := range cfgs {
		gw, err := netip.ParseAddr(c.Gateway)
		switch {
		case err != nil:
		case gw.Is4():
			return gw, true
		case !found.IsValid():
			found = gw
		}
	}
	return found, found.IsValid()
}

// createVolumes makes the volumes of the disks and returns their mounts.
func (d *Driver) createVolumes(ctx context.Context, id string, disks []disk, labels map[string]string) ([]mount.Mount, error) {
	mounts := make([]mount.Mount, 0, len(disks))
	for _, dk := range disks {
		name := id + "-disk-" + dk.name
		vLabels := labels
		if dk.reuse {
			// A reused volume outlives the resource: it is the node's, not the resource's.
			name = "fish-" + d.env.NodeUID.String()[:8] + "-disk-" + dk.name
			vLabels = map[string]string{LabelNode: labels[LabelNode], LabelDriver: labels[LabelDriver]}
		}
		if _, err := d.cli.VolumeCreate(ctx, volume.CreateOptions{Name: name, Driver: "local", Labels: vLabels}); err != nil {
			return nil, fmt.Errorf("docker: create volume %s: %w", name, err)
		}
		mounts = append(mounts, mount.Mount{Type: mount.TypeVolume, Source: name, Target: dk.target})
	}
	return mounts, nil
}

// Deallocate removes the container, its network and its volumes (except reused ones). A
// resource that is already gone is not an error.
func (d *Driver) Deallocate(ctx context.Context, res model.Resource) error {
	if res.Identifier == "" {
		return fmt.Errorf("docker: deallocate: %w: empty identifier", driver.ErrNotFound)
	}
	found, err := d.destroy(ctx, res.Identifier)
	if err != nil {
		return err
	}
	if found {
		d.log.Info("container deallocated", "resource", res.Identifier)
	} else {
		d.log.Debug("nothing to deallocate: already gone", "resource", res.Identifier)
	}
	return nil
}

// destroy removes everything of resource id this node's driver instance created and reports
// whether there was anything. A container of that name that is not ours is left alone and
// reported as an error.
func (d *Driver) destroy(ctx context.Context, id string) (found bool, err error) {
	if id == "" { // an empty id would select every object of the node
		return false, fmt.Errorf("docker: %w: empty identifier", driver.ErrNotFound)
	}
	var errs []error
	c, err := d.ownContainer(ctx, id)
	switch {
	case err == nil:
		found = true
		err := d.cli.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true, RemoveVolumes: true})
		if err != nil && !cerrdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("docker: remove container %s: %w", id, err))
		}
	case errors.Is(err, driver.ErrNotFound):
	default:
		return false, err
	}
	nets, err := d.cli.NetworkList(ctx, network.ListOptions{Filters: d.ownFilter(id)})
	if err != nil {
		return found, errors.Join(append(errs, fmt.Errorf("docker: list networks: %w", err))...)
	}
	for _, n := range nets {
		found = true
		if err := d.cli.NetworkRemove(ctx, n.ID); err != nil && !cerrdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("docker: remove network %s: %w", n.Name, err))
		}
	}
	// The firewall rules go with the bridge: while it exists (its removal failed, or it is not
	// ours) they stay.
	if d.fw != nil {
		if err := d.fw.release(ctx, id); err != nil {
			errs = append(errs, fmt.Errorf("docker: network %s: %w", id, err))
		}
	}
	vols, err := d.cli.VolumeList(ctx, volume.ListOptions{Filters: d.ownFilter(id)})
	if err != nil {
		return found, errors.Join(append(errs, fmt.Errorf("docker: list volumes: %w", err))...)
	}
	for _, v := range vols.Volumes {
		found = true
		if err := d.cli.VolumeRemove(ctx, v.Name, false); err != nil && !cerrdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("docker: remove volume %s: %w", v.Name, err))
		}
	}
	return found, errors.Join(errs...)
}

// ownContainer inspects the container id; it wraps driver.ErrNotFound when there is none and
// errForeign when it is not this driver instance's.
func (d *Driver) ownContainer(ctx context.Context, id string) (container.InspectResponse, error) {
	c, err := d.cli.ContainerInspect(ctx, id)
	switch {
	case cerrdefs.IsNotFound(err):
		return c, fmt.Errorf("docker: container %s: %w", id, driver.ErrNotFound)
	case err != nil:
		return c, fmt.Errorf("docker: inspect container %s: %w", id, err)
	case c.Config == nil || !d.ours(c.Config.Labels):
		return c, fmt.Errorf("docker: container %s: %w", id, errForeign)
	}
	return c, nil
}
