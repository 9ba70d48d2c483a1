package proxy

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/aquarium-fish/aquarium-fish/internal/model"
)

func TestPickMapping(t *testing.T) {
	app := uuid.New()
	other := uuid.New()
	t0 := time.Unix(1000, 0)
	m := func(name string, a model.UID, loc string, age int) model.ServiceMapping {
		return model.ServiceMapping{
			UID: uuid.New(), ApplicationUID: a, LocationName: loc, Redirect: name,
			Service: "svc", CreatedAt: t0.Add(time.Duration(-age) * time.Second),
		}
	}
	appHere := m("app+here", app, "here", 0)
	appThere := m("app+there", app, "there", 0)
	appThereOld := m("app+there old", app, "there2", 5)
	appNoLoc := m("app+none", app, "", 0)
	here := m("here", model.NilUID, "here", 0)
	cluster := m("cluster", model.NilUID, "", 0)
	otherApp := m("other app", other, "here", 0)
	elsewhere := m("elsewhere", model.NilUID, "there", 0)

	tests := []struct {
		name     string
		maps     []model.ServiceMapping
		location string
		want     string // redirect; "" = none applies
	}{
		{"all", []model.ServiceMapping{cluster, here, appNoLoc, appThere, appHere}, "here", "app+here"},
		{"app, location without own", []model.ServiceMapping{cluster, here, appThere}, "here", "app+there"},
		{"app before location default", []model.ServiceMapping{here, appThere}, "here", "app+there"},
		{"app without location preferred", []model.ServiceMapping{appThere, appNoLoc}, "here", "app+none"},
		{"app oldest among locations", []model.ServiceMapping{appThere, appThereOld}, "here", "app+there old"},
		{"location default", []model.ServiceMapping{cluster, here, otherApp, elsewhere}, "here", "here"},
		{"cluster default", []model.ServiceMapping{cluster, otherApp, elsewhere}, "here", "cluster"},
		{"cluster default, node without location", []model.ServiceMapping{elsewhere, cluster}, "", "cluster"},
		{"app, node without location", []model.ServiceMapping{cluster, appNoLoc}, "", "app+none"},
		{"other application only", []model.ServiceMapping{otherApp}, "here", ""},
		{"other location default only", []model.ServiceMapping{elsewhere}, "here", ""},
		{"none", nil, "here", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := pickMapping(tt.maps, app, tt.location)
			if tt.want == "" {
				if ok {
					t.Fatalf("pickMapping() = %q, want none", got.Redirect)
				}
				return
			}
			if !ok || got.Redirect != tt.want {
				t.Fatalf("pickMapping() = %q, %v; want %q", got.Redirect, ok, tt.want)
			}
			// The choice does not depend on the order of the mappings.
			rev := make([]model.ServiceMapping, len(tt.maps))
			for i, m := range tt.maps {
				rev[len(rev)-1-i] = m
			}
			if got, _ := pickMapping(rev, app, tt.location); got.Redirect != tt.want {
				t.Fatalf("pickMapping(reversed) = %q, want %q", got.Redirect, tt.want)
			}
		})
	}
}
