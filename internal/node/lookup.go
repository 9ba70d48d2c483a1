package node

import (
	"context"
	"time"

	"github.com/aquarium-fish/aquarium-fish/internal/model"
	"github.com/aquarium-fish/aquarium-fish/internal/store"
	"github.com/aquarium-fish/aquarium-fish/internal/store/command"
)

// resources answers the meta API's and the proxy's questions about this node's resources.
type resources struct {
	st   *store.Store
	node model.UID
}

func (r resources) LiveResourceByIP(ctx context.Context, ip string) (model.Resource, error) {
	return r.st.State().LiveResourceByIP(ctx, r.node, ip)
}

func (r resources) LiveResourceByHwAddr(ctx context.Context, mac string) (model.Resource, error) {
	return r.st.State().LiveResourceByHwAddr(ctx, r.node, mac)
}

func (r resources) LiveResourceByIdentifier(ctx context.Context, id string) (model.Resource, error) {
	return r.st.State().LiveResourceByIdentifier(ctx, r.node, id)
}

func (r resources) SetResourceIP(ctx context.Context, uid model.UID, ip string) error {
	_, err := r.st.Apply(ctx, command.ResourceSetIP{UID: uid, IP: ip, UpdatedAt: time.Now()})
	return err
}

func (r resources) ServiceMappings(ctx context.Context, service string) ([]model.ServiceMapping, error) {
	return r.st.State().MappingsForService(ctx, service)
}
