package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/hashicorp/raft"

	"github.com/aquarium-fish/aquarium-fish/internal/state"
)

// applyAnswer is the leader's answer to a forwarded command.
type applyAnswer struct {
	Index uint64          `json:"index"`
	Kind  string          `json:"kind,omitempty"` // the refusal sentinel, see refusals
	Error string          `json:"error,omitempty"`
	Value json.RawMessage `json:"value,omitempty"`
}

// refusals name the state's refusal sentinels on the wire between nodes.
var refusals = map[string]error{
	"not_found": state.ErrNotFound,
	"exists":    state.ErrExists,
	"invalid":   state.ErrInvalid,
	"status":    state.ErrStatus,
	"pubkey":    state.ErrPubkeyChange,
	"no_leader": ErrNoLeader,
}

func refusalKind(err error) string {
	for k, s := range refusals {
		if errors.Is(err, s) {
			return k
		}
	}
	return ""
}

// remoteError is a refusal that came back from the leader: it matches its sentinel.
type remoteError struct {
	kind string
	msg  string
}

func (e *remoteError) Error() string { return e.msg }
func (e *remoteError) Is(target error) bool {
	return refusals[e.kind] == target
}

// applyLocal applies encoded command bytes on the leader.
func (s *Store) applyLocal(b []byte, timeout time.Duration) (any, uint64, error) {
	f := s.raft.Apply(b, timeout)
	if err := f.Error(); err != nil {
		switch {
		case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipLost), errors.Is(err, raft.ErrEnqueueTimeout),
			errors.Is(err, raft.ErrLeadershipTransferInProgress):
			return nil, 0, fmt.Errorf("%w: %v", ErrNoLeader, err)
		case errors.Is(err, raft.ErrRaftShutdown):
			return nil, 0, ErrClosed
		}
		return nil, 0, err
	}
	res, _ := f.Response().(state.Result)
	return res.Value, f.Index(), res.Err
}

// forward sends encoded command bytes to the leader and waits until this node applied them,
// so a client reads its own write through the node it wrote through.
func (s *Store) forward(ctx context.Context, b []byte) (any, error) {
	deadline := time.Now().Add(s.cfg.ApplyTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	var lastErr error
	for attempt := 0; ; attempt++ {
		leader, _ := s.raft.LeaderWithID()
		if leader != "" && s.cfg.Client != nil {
			ans, err := s.post(ctx, string(leader), "/cluster/v1/apply", "application/octet-stream", b)
			if err == nil {
				var a applyAnswer
				if err := json.Unmarshal(ans, &a); err != nil {
					return nil, fmt.Errorf("forward to leader: %w", err)
				}
				if a.Kind == "no_leader" {
					lastErr = &remoteError{kind: a.Kind, msg: a.Error}
				} else {
					if werr := s.waitApplied(ctx, a.Index); werr != nil {
						return nil, werr
					}
					if a.Error != "" {
						return nil, &remoteError{kind: a.Kind, msg: a.Error}
					}
					return a.Value, nil
				}
			} else {
				lastErr = err
			}
		}
		// No leader known yet, or it just changed: try again shortly, within the deadline.
		select {
		case <-ctx.Done():
			if lastErr == nil {
				lastErr = errors.New("no leader known")
			}
			return nil, fmt.Errorf("%w: %v", ErrNoLeader, lastErr)
		case <-time.After(min(50*time.Millisecond<<min(attempt, 4), time.Second)):
		}
	}
}

// post sends a request to a peer's cluster endpoint and returns the body of a 200 answer.
func (s *Store) post(ctx context.Context, addr, path, contentType string, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "https://"+addr+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := s.cfg.Client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s%s: %s: %s", addr, path, resp.Status, bytes.TrimSpace(out))
	}
	return out, nil
}

// waitApplied blocks until this node's FSM applied index i.
func (s *Store) waitApplied(ctx context.Context, i uint64) error {
	t := time.NewTicker(time.Millisecond)
	defer t.Stop()
	for s.raft.AppliedIndex() < i {
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the write to reach this node: %w", ctx.Err())
		case <-t.C:
		}
	}
	return nil
}

// joinRequest asks the leader to add (or re-address) a node.
type joinRequest struct {
	ID      string `json:"id"`
	Address string `json:"address"`
	Leave   bool   `json:"leave,omitempty"`
}

// ClusterHandler serves the node-to-node endpoints. verify must check the caller's client
// certificate (signed by the cluster CA); nothing here is reachable without it.
func (s *Store) ClusterHandler(verify func(*http.Request) error) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /cluster/v1/apply", func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(io.LimitReader(r.Body, 16<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		v, idx, err := s.applyLocal(b, s.cfg.ApplyTimeout)
		a := applyAnswer{Index: idx}
		if err != nil {
			a.Kind, a.Error = refusalKind(err), err.Error()
		} else if v != nil {
			a.Value, _ = json.Marshal(v)
		}
		writeJSON(w, a)
	})
	mux.HandleFunc("POST /cluster/v1/join", func(w http.ResponseWriter, r *http.Request) {
		var req joinRequest
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&req); err != nil || req.ID == "" || req.Address == "" {
			http.Error(w, "bad join request", http.StatusBadRequest)
			return
		}
		if err := s.membership(r.Context(), req); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		writeJSON(w, map[string]string{"leader": string(s.leaderAddr())})
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := verify(r); err != nil {
			s.log.Warn("refused a cluster request", "peer", r.RemoteAddr, "path", r.URL.Path, "err", err)
			http.Error(w, "client certificate is not provided or not signed by the cluster CA", http.StatusUnauthorized)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

func (s *Store) leaderAddr() raft.ServerAddress {
	a, _ := s.raft.LeaderWithID()
	return a
}

// As converts an Apply result to T: results of forwarded commands arrive as JSON.
func As[T any](v any) (T, error) {
	var out T
	switch x := v.(type) {
	case T:
		return x, nil
	case json.RawMessage:
		err := json.Unmarshal(x, &out)
		return out, err
	case nil:
		return out, nil
	}
	return out, fmt.Errorf("unexpected result type %T", v)
}
