package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aquarium-fish/aquarium-fish/internal/config"
	"github.com/aquarium-fish/aquarium-fish/internal/hostinfo"
	"github.com/aquarium-fish/aquarium-fish/internal/model"
	"github.com/aquarium-fish/aquarium-fish/internal/state"
	"github.com/aquarium-fish/aquarium-fish/internal/store"
	"github.com/aquarium-fish/aquarium-fish/internal/store/command"
)

// register creates or refreshes this node's row and returns its identifiers and location.
func register(ctx context.Context, log *slog.Logger, st *store.Store, cfg config.Config, advertise string, uid model.UID, pub []byte) ([]string, string, error) {
	def, err := hostinfo.Collect(ctx, cfg.Directory)
	if err != nil {
		log.Debug("some host facts are missing", "err", err)
	}
	defJSON, _ := json.Marshal(def)
	identifiers := cfg.NodeIdentifiers
	if len(identifiers) == 0 {
		identifiers = hostinfo.Identifiers(cfg.NodeName, def)
	}
	v, err := st.Apply(ctx, command.NodeRegister{
		Node: model.Node{
			UID:          uid,
			Address:      advertise,
			Definition:   defJSON,
			LocationName: cfg.NodeLocation,
			Name:         cfg.NodeName,
			Pubkey:       pub,
		},
		Location: model.Location{
			Name:        cfg.NodeLocation,
			Description: fmt.Sprintf("Created automatically during node '%s' startup", cfg.NodeName),
		},
	})
	if errors.Is(err, state.ErrPubkeyChange) {
		return nil, "", pubkeyChangedError{"another node of the cluster has the name " + cfg.NodeName}
	}
	if err != nil {
		return nil, "", fmt.Errorf("register node: %w", err)
	}
	reg, err := store.As[state.NodeRegistration](v)
	if err != nil {
		return nil, "", fmt.Errorf("register node: %w", err)
	}
	if reg.Created {
		log.Info(fmt.Sprintf("Fish: Create new node: %s %s", cfg.NodeName, reg.Node.LocationName))
	} else {
		log.Info(fmt.Sprintf("Fish: Use existing node: %s %s", cfg.NodeName, reg.Node.LocationName))
	}
	return identifiers, reg.Node.LocationName, nil
}

// beat proposes this node's heartbeat every state.HeartbeatInterval, and at once when what it
// offers changes.
func beat(ctx context.Context, log *slog.Logger, st *store.Store, uid model.UID, drivers func() []string, maintenance func() bool, now <-chan struct{}) {
	t := time.NewTicker(state.HeartbeatInterval)
	defer t.Stop()
	for {
		_, err := st.Apply(ctx, command.NodeHeartbeat{UID: uid, Drivers: drivers(), Maintenance: maintenance()})
		if err != nil && ctx.Err() == nil {
			log.Warn("heartbeat failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-now:
		}
	}
}

// watchUsers tells the API to forget cached credentials whenever users change (or when events
// were lost, as they might have been user changes).
func watchUsers(ctx context.Context, sub *store.Subscription, changed func()) {
	defer sub.Close()
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-sub.C:
			if ev.Kind == state.EventUser || sub.Lost() {
				changed()
			}
		}
	}
}
