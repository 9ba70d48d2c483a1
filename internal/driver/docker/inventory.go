package docker

import (
	"context"
	"fmt"
	"sort"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
)

// Resources lists the identifiers of the resources this node's driver instance has in the
// engine: containers (running or not), and networks and volumes left without their container
// by an interrupted allocation. Reused volumes belong to no resource and are not listed.
func (d *Driver) Resources(ctx context.Context) ([]string, error) {
	f := d.ownFilter("")
	seen := map[string]bool{}
	containers, err := d.cli.ContainerList(ctx, container.ListOptions{All: true, Filters: f})
	if err != nil {
		return nil, fmt.Errorf("docker: list containers: %w", err)
	}
	for _, c := range containers {
		seen[c.Labels[LabelResource]] = true
	}
	nets, err := d.cli.NetworkList(ctx, network.ListOptions{Filters: f})
	if err != nil {
		return nil, fmt.Errorf("docker: list networks: %w", err)
	}
	for _, n := range nets {
		seen[n.Labels[LabelResource]] = true
	}
	vols, err := d.cli.VolumeList(ctx, volume.ListOptions{Filters: f})
	if err != nil {
		return nil, fmt.Errorf("docker: list volumes: %w", err)
	}
	for _, v := range vols.Volumes {
		seen[v.Labels[LabelResource]] = true
	}
	delete(seen, "")
	ids := make([]string, 0, len(seen))
	for id := range seen {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids, nil
}

// Destroy removes resource identifier as Deallocate does.
func (d *Driver) Destroy(ctx context.Context, identifier string) error {
	found, err := d.destroy(ctx, identifier)
	if err != nil {
		return err
	}
	if found {
		d.log.Info("destroyed a resource unknown to the node", "resource", identifier)
	}
	return nil
}
