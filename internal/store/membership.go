package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// MaxVoters is the largest number of voters; further nodes are non-voters that still receive
// the whole log.
const MaxVoters = 5

// membership adds, re-addresses or removes a server; a follower passes the request on to the
// leader.
func (s *Store) membership(ctx context.Context, req joinRequest) error {
	if s.raft.State() != raft.Leader {
		leader := s.leaderAddr()
		if leader == "" {
			return ErrNoLeader
		}
		b, _ := json.Marshal(req)
		_, err := s.post(ctx, string(leader), "/cluster/v1/join", "application/json", b)
		return err
	}
	if req.Leave {
		s.log.Info("node leaves the cluster", "node", req.ID)
		return s.raft.RemoveServer(raft.ServerID(req.ID), 0, s.cfg.ApplyTimeout).Error()
	}
	cf := s.raft.GetConfiguration()
	if err := cf.Error(); err != nil {
		return err
	}
	voters := 0
	for _, srv := range cf.Configuration().Servers {
		if srv.ID == raft.ServerID(req.ID) {
			if srv.Address == raft.ServerAddress(req.Address) {
				return nil // already a member at that address
			}
			s.log.Info("member comes back at a new address", "node", req.ID, "address", req.Address)
			if srv.Suffrage == raft.Voter {
				return s.raft.AddVoter(srv.ID, raft.ServerAddress(req.Address), 0, s.cfg.ApplyTimeout).Error()
			}
			return s.raft.AddNonvoter(srv.ID, raft.ServerAddress(req.Address), 0, s.cfg.ApplyTimeout).Error()
		}
		if srv.Suffrage == raft.Voter {
			voters++
		}
	}
	if voters < MaxVoters {
		s.log.Info("node joins the cluster as a voter", "node", req.ID, "address", req.Address)
		return s.raft.AddVoter(raft.ServerID(req.ID), raft.ServerAddress(req.Address), 0, s.cfg.ApplyTimeout).Error()
	}
	s.log.Info("node joins the cluster as a non-voter", "node", req.ID, "address", req.Address)
	return s.raft.AddNonvoter(raft.ServerID(req.ID), raft.ServerAddress(req.Address), 0, s.cfg.ApplyTimeout).Error()
}

// Join asks the listed members, in order and again with backoff, to add this node (or to
// update its address) until one of them does or ctx ends.
func (s *Store) Join(ctx context.Context, members []string) error {
	req, _ := json.Marshal(joinRequest{ID: s.cfg.NodeID, Address: s.cfg.Address})
	backoff := 100 * time.Millisecond
	for {
		var errs []error
		for _, m := range members {
			if m == s.cfg.Address {
				continue
			}
			cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			_, err := s.post(cctx, m, "/cluster/v1/join", "application/json", req)
			cancel()
			if err == nil {
				s.log.Info("joined the cluster", "through", m)
				return nil
			}
			errs = append(errs, fmt.Errorf("%s: %w", m, err))
		}
		s.log.Warn("unable to join the cluster yet, retrying", "retry_in", backoff, "err", errors.Join(errs...))
		select {
		case <-ctx.Done():
			return fmt.Errorf("join the cluster: %w", errors.Join(append(errs, ctx.Err())...))
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

// Peers lists the addresses of the other servers in the latest configuration.
func (s *Store) Peers() []string {
	cf := s.raft.GetConfiguration()
	if cf.Error() != nil {
		return nil
	}
	var out []string
	for _, srv := range cf.Configuration().Servers {
		if srv.ID != raft.ServerID(s.cfg.NodeID) {
			out = append(out, string(srv.Address))
		}
	}
	return out
}

// Roles tells each server's raft role by node UID: leader, voter or nonvoter.
func (s *Store) Roles() map[string]string {
	out := map[string]string{}
	cf := s.raft.GetConfiguration()
	if cf.Error() != nil {
		return out
	}
	_, leader := s.raft.LeaderWithID()
	for _, srv := range cf.Configuration().Servers {
		switch {
		case srv.ID == leader:
			out[string(srv.ID)] = "leader"
		case srv.Suffrage == raft.Voter:
			out[string(srv.ID)] = "voter"
		default:
			out[string(srv.ID)] = "nonvoter"
		}
	}
	return out
}

// IsLeader reports whether this node leads the cluster now.
func (s *Store) IsLeader() bool { return s.raft.State() == raft.Leader }

// Leave hands leadership over and removes this node from the cluster (a decommission). A lone
// node has nobody to leave to.
func (s *Store) Leave(ctx context.Context) {
	if len(s.Peers()) == 0 {
		return
	}
	s.TransferLeadership()
	req, _ := json.Marshal(joinRequest{ID: s.cfg.NodeID, Address: s.cfg.Address, Leave: true})
	if leader := s.leaderAddr(); leader != "" && leader != raft.ServerAddress(s.cfg.Address) {
		if _, err := s.post(ctx, string(leader), "/cluster/v1/join", "application/json", req); err != nil {
			s.log.Warn("unable to leave the cluster cleanly", "err", err)
		}
	}
}

// TransferLeadership hands leadership to another voter, if this node leads and has peers.
func (s *Store) TransferLeadership() {
	if s.raft.State() != raft.Leader || len(s.Peers()) == 0 {
		return
	}
	if err := s.raft.LeadershipTransfer().Error(); err != nil {
		s.log.Warn("leadership transfer failed", "err", err)
	}
}

// Balance is the leader's membership upkeep, run every few seconds: promote healthy non-voters
// while there are fewer than MaxVoters voters, and replace a voter that has been away longer
// than grace by a healthy non-voter. alive reports when a node was last seen (by node UID).
func (s *Store) Balance(lastSeen func() map[string]time.Time, grace time.Duration, now time.Time) {
	if s.raft.State() != raft.Leader {
		return
	}
	cf := s.raft.GetConfiguration()
	if cf.Error() != nil {
		return
	}
	seen := lastSeen()
	since := s.members.observe(cf.Configuration().Servers, now)
	// A member is healthy while its last heartbeat, or its arrival in the configuration (as
	// this leader saw it) when that is later, is within grace: a node that just joined has not
	// beaten yet, and one that came back has an old heartbeat.
	healthy := func(id raft.ServerID) bool {
		return now.Sub(later(seen[string(id)], since[id])) < grace
	}
	var voters, deadVoters, spare []raft.ServerID
	for _, srv := range cf.Configuration().Servers {
		switch {
		case srv.Suffrage == raft.Voter && healthy(srv.ID):
			voters = append(voters, srv.ID)
		case srv.Suffrage == raft.Voter && srv.ID != raft.ServerID(s.cfg.NodeID):
			deadVoters = append(deadVoters, srv.ID)
		case srv.Suffrage == raft.Nonvoter && healthy(srv.ID):
			spare = append(spare, srv.ID)
		}
	}
	sort.Slice(spare, func(i, j int) bool { return spare[i] < spare[j] })
	addr := map[raft.ServerID]raft.ServerAddress{}
	for _, srv := range cf.Configuration().Servers {
		addr[srv.ID] = srv.Address
	}
	for len(deadVoters) > 0 && len(spare) > 0 {
		dead, next := deadVoters[0], spare[0]
		deadVoters, spare = deadVoters[1:], spare[1:]
		s.log.Warn("replacing a voter that is away", "away", dead, "by", next)
		if err := s.raft.RemoveServer(dead, 0, s.cfg.ApplyTimeout).Error(); err != nil {
			return
		}
		if err := s.raft.AddVoter(next, addr[next], 0, s.cfg.ApplyTimeout).Error(); err != nil {
			return
		}
		voters = append(voters, next)
	}
	for len(voters)+len(deadVoters) < MaxVoters && len(spare) > 0 {
		s.log.Info("promoting a non-voter", "node", spare[0])
		if err := s.raft.AddVoter(spare[0], addr[spare[0]], 0, s.cfg.ApplyTimeout).Error(); err != nil {
			return
		}
		voters = append(voters, spare[0])
		spare = spare[1:]
	}
}

// memberClock remembers since when the leader has seen each server in the configuration.
type memberClock struct {
	mu    sync.Mutex
	since map[raft.ServerID]time.Time
}

func newMemberClock() *memberClock { return &memberClock{since: map[raft.ServerID]time.Time{}} }

// observe records the servers of the configuration at now (keeping earlier observations),
// forgets the servers that left, and returns the observations.
func (m *memberClock) observe(servers []raft.Server, now time.Time) map[raft.ServerID]time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[raft.ServerID]time.Time, len(servers))
	for _, srv := range servers {
		t, ok := m.since[srv.ID]
		if !ok {
			t = now
		}
		out[srv.ID] = t
	}
	m.since = out
	return out
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// NodeID is this node's raft ID (its node UID).
func (s *Store) NodeID() string { return s.cfg.NodeID }
