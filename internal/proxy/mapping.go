package proxy

import (
	"github.com/aquarium-fish/aquarium-fish/internal/model"
)

// The relevance of a service mapping to a request; lower is more relevant.
const (
	rankAppLocation = iota // this application, this node's location
	rankApp                // this application, any location
	rankLocation           // no application, this node's location (the location's default)
	rankCluster            // no application, no location (the cluster's default)
	rankNotApplicable
)

// pickMapping chooses, among the mappings of one service, the most relevant one for a resource
// of application app on a node in location. Mappings of other applications, and defaults of
// other locations, do not apply.
func pickMapping(maps []model.ServiceMapping, app model.UID, location string) (model.ServiceMapping, bool) {
	var best model.ServiceMapping
	bestRank := rankNotApplicable
	for _, m := range maps {
		r := mappingRank(m, app, location)
		if r < bestRank || (r == bestRank && r != rankNotApplicable && preferred(m, best)) {
			best, bestRank = m, r
		}
	}
	return best, bestRank != rankNotApplicable
}

func mappingRank(m model.ServiceMapping, app model.UID, location string) int {
	switch {
	case app != model.NilUID && m.ApplicationUID == app && m.LocationName == location:
		return rankAppLocation
	case app != model.NilUID && m.ApplicationUID == app:
		return rankApp
	case m.ApplicationUID == model.NilUID && location != "" && m.LocationName == location:
		return rankLocation
	case m.ApplicationUID == model.NilUID && m.LocationName == "":
		return rankCluster
	}
	return rankNotApplicable
}

// preferred breaks a tie between two mappings of one rank (only "this application, any
// location" can hold several): the one without a location, then the oldest, then the lowest
// UID, so the choice never depends on the order the state returned them in.
func preferred(m, than model.ServiceMapping) bool {
	if (m.LocationName == "") != (than.LocationName == "") {
		return m.LocationName == ""
	}
	if !m.CreatedAt.Equal(than.CreatedAt) {
		return m.CreatedAt.Before(than.CreatedAt)
	}
	return m.UID.String() < than.UID.String()
}
