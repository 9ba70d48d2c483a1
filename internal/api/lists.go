package api

import (
	"errors"
	"net/http"

	"github.com/aquarium-fish/aquarium-fish/internal/state"
)

// listResult turns a list read into an answer: a rejected filter matches nothing (decision 2),
// with a warning naming what was rejected.
func listResult[T any](s *server, r *http.Request, what string, items []T, err error) (any, error) {
	if errors.Is(err, state.ErrFilter) {
		s.log.Warn("SECURITY: weird SQL filter received", "path", r.URL.Path, "err", err)
		return []T{}, nil
	}
	if err != nil {
		return nil, newError(http.StatusInternalServerError, "Unable to get the %s list: %v", what, err)
	}
	return items, nil
}
