package api

// routes is the REST API v1: exact paths (collections end with '/', items and actions do not),
// checked against api/openapi.yaml by a test.
func (s *server) routes() []route {
	return []route{
		{"GET /api/v1/user/{$}", s.userList},
		{"POST /api/v1/user/{$}", s.userCreate},
		{"GET /api/v1/user/me/{$}", s.userMe},
		{"GET /api/v1/user/{name}", s.userGet},
		{"DELETE /api/v1/user/{name}", s.userDelete},

		{"GET /api/v1/label/{$}", s.labelList},
		{"POST /api/v1/label/{$}", s.labelCreate},
		{"GET /api/v1/label/{uid}", s.labelGet},
		{"DELETE /api/v1/label/{uid}", s.labelDelete},

		{"GET /api/v1/application/{$}", s.applicationList},
		{"POST /api/v1/application/{$}", s.applicationCreate},
		{"GET /api/v1/application/{uid}", s.applicationGet},
		{"GET /api/v1/application/{uid}/state", s.applicationState},
		{"GET /api/v1/application/{uid}/resource", s.applicationResource},
		{"GET /api/v1/application/{uid}/task/{$}", s.taskList},
		{"POST /api/v1/application/{uid}/task/{$}", s.taskCreate},
		{"GET /api/v1/application/{uid}/deallocate", s.applicationDeallocate},

		{"GET /api/v1/resource/{$}", s.resourceList},
		{"GET /api/v1/resource/{uid}", s.resourceGet},

		{"GET /api/v1/node/{$}", s.nodeList},
		{"GET /api/v1/node/this/{$}", s.nodeThis},
		{"GET /api/v1/node/this/maintenance", s.nodeMaintenance},
		{"GET /api/v1/node/this/profiling/{$}", s.profilingIndex},
		{"GET /api/v1/node/this/profiling/{handler}", s.profiling},

		{"GET /api/v1/vote/{$}", s.voteList},

		{"GET /api/v1/location/{$}", s.locationList},
		{"POST /api/v1/location/{$}", s.locationCreate},

		{"GET /api/v1/servicemapping/{$}", s.mappingList},
		{"POST /api/v1/servicemapping/{$}", s.mappingCreate},
		{"GET /api/v1/servicemapping/{uid}", s.mappingGet},
		{"DELETE /api/v1/servicemapping/{uid}", s.mappingDelete},
	}
}
