package api

import (
	"errors"
	"net/http"
	"strings"

	"github.com/aquarium-fish/aquarium-fish/internal/state"
)

// filterWarning starts the line logged for a rejected filter; the reason follows it
// (api-v1.md §6.1: "Fish: SECURITY: weird SQL filter received: <err>").
const filterWarning = "Fish: SECURITY: weird SQL filter received: "

// listResult turns a list read into an answer: a rejected filter matches nothing (decision 2),
// with a warning naming what was rejected.
func listResult[T any](s *server, what string, items []T, err error) (any, error) {
	if errors.Is(err, state.ErrFilter) {
		// The unscoped logger: the line ends with the reason, as the spec spells it. The reason
		// names the rejected token and its offset, never the text of a quoted literal.
		s.Log.Warn(filterWarning + strings.TrimPrefix(err.Error(), state.ErrFilter.Error()+": "))
		return []T{}, nil
	}
	if err != nil {
		return nil, newError(http.StatusInternalServerError, "Unable to get the %s list: %v", what, err)
	}
	return items, nil
}
