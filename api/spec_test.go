package api

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

func load(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := Load()
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return doc
}

func TestSpecValidates(t *testing.T) {
	doc := load(t)
	if doc.OpenAPI != "3.0.3" {
		t.Errorf("openapi = %q, want 3.0.3", doc.OpenAPI)
	}
	err := doc.Validate(context.Background(),
		openapi3.EnableSchemaFormatValidation(),
		openapi3.EnableSchemaPatternValidation(),
		openapi3.EnableSchemaDefaultsValidation(),
		openapi3.EnableExamplesValidation(),
	)
	if err != nil {
		t.Fatalf("Validate: %v", err)
	}
}

func TestOperationsHaveUniqueIDs(t *testing.T) {
	ops, err := Operations()
	if err != nil {
		t.Fatalf("Operations: %v", err)
	}
	seen := map[string]string{}
	for _, op := range ops {
		if op.ID == "" {
			t.Errorf("%s %s has no operationId", op.Method, op.Path)
		}
		if prev, ok := seen[op.ID]; ok {
			t.Errorf("operationId %q used by %s and %s %s", op.ID, prev, op.Method, op.Path)
		}
		seen[op.ID] = op.Method + " " + op.Path
	}
}

// want is the whole surface of the contract, in the order Operations returns it.
var want = []Operation{
	{"GET", "/api/openapi.yaml", "openapiSpec", false},
	{"GET", "/api/v1/application/", "applicationList", true},
	{"POST", "/api/v1/application/", "applicationCreate", true},
	{"GET", "/api/v1/application/{uid}", "applicationGet", true},
	{"GET", "/api/v1/application/{uid}/deallocate", "applicationDeallocate", true},
	{"GET", "/api/v1/application/{uid}/resource", "applicationResourceGet", true},
	{"GET", "/api/v1/application/{uid}/state", "applicationStateGet", true},
	{"GET", "/api/v1/application/{uid}/task/", "applicationTaskList", true},
	{"POST", "/api/v1/application/{uid}/task/", "applicationTaskCreate", true},
	{"GET", "/api/v1/label/", "labelList", true},
	{"POST", "/api/v1/label/", "labelCreate", true},
	{"GET", "/api/v1/label/{uid}", "labelGet", true},
	{"DELETE", "/api/v1/label/{uid}", "labelDelete", true},
	{"GET", "/api/v1/location/", "locationList", true},
	{"POST", "/api/v1/location/", "locationCreate", true},
	{"GET", "/api/v1/node/", "nodeList", true},
	{"GET", "/api/v1/node/this/", "nodeThisGet", true},
	{"GET", "/api/v1/node/this/maintenance", "nodeThisMaintenance", true},
	{"GET", "/api/v1/node/this/profiling/", "nodeThisProfilingIndex", true},
	{"GET", "/api/v1/node/this/profiling/{handler}", "nodeThisProfilingGet", true},
	{"GET", "/api/v1/resource/", "resourceList", true},
	{"GET", "/api/v1/resource/{uid}", "resourceGet", true},
	{"GET", "/api/v1/servicemapping/", "serviceMappingList", true},
	{"POST", "/api/v1/servicemapping/", "serviceMappingCreate", true},
	{"GET", "/api/v1/servicemapping/{uid}", "serviceMappingGet", true},
	{"DELETE", "/api/v1/servicemapping/{uid}", "serviceMappingDelete", true},
	{"GET", "/api/v1/user/", "userList", true},
	{"POST", "/api/v1/user/", "userCreate", true},
	{"GET", "/api/v1/user/me/", "userMe", true},
	{"GET", "/api/v1/user/{name}", "userGet", true},
	{"DELETE", "/api/v1/user/{name}", "userDelete", true},
	{"GET", "/api/v1/vote/", "voteList", true},
	{"GET", "/meta/v1/data/", "metaDataGet", false},
	{"GET", "/meta/v1/data/{key_path}", "metaDataKeyGet", false},
}

func TestOperationsMatchContract(t *testing.T) {
	ops, err := Operations()
	if err != nil {
		t.Fatalf("Operations: %v", err)
	}
	if len(ops) != len(want) {
		t.Errorf("got %d operations, want %d", len(ops), len(want))
	}
	for i := range min(len(ops), len(want)) {
		if ops[i] != want[i] {
			t.Errorf("operation %d = %+v, want %+v", i, ops[i], want[i])
		}
	}
}

// collections are the paths api-v1.md §1.1 spells with a trailing slash; every other path of
// the document (items and actions) must not end with one.
var collections = map[string]bool{
	"/api/v1/user/": true, "/api/v1/user/me/": true, "/api/v1/label/": true,
	"/api/v1/resource/": true, "/api/v1/application/": true,
	"/api/v1/application/{uid}/task/": true, "/api/v1/node/": true, "/api/v1/node/this/": true,
	"/api/v1/node/this/profiling/": true, "/api/v1/location/": true,
	"/api/v1/servicemapping/": true, "/meta/v1/data/": true, "/api/v1/vote/": true,
}

func TestTrailingSlashRules(t *testing.T) {
	doc := load(t)
	found := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		isCollection := strings.HasSuffix(path, "/")
		if isCollection != collections[path] {
			t.Errorf("%s: trailing slash %v, contract says collection %v", path, isCollection, collections[path])
		}
		if isCollection {
			found[path] = true
			// A collection lists (GET with filter) and maybe creates; it never addresses one item.
			for _, p := range item.Parameters {
				if p.Value.In == openapi3.ParameterInPath && strings.HasSuffix(path, "{"+p.Value.Name+"}/") {
					t.Errorf("%s ends with a path parameter", path)
				}
			}
		}
	}
	for path := range collections {
		if !found[path] {
			t.Errorf("collection %s missing", path)
		}
	}
}

func TestOperationDetails(t *testing.T) {
	doc := load(t)
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			name := method + " " + path
			api := strings.HasPrefix(path, "/api/v1/")
			if api {
				for _, code := range []string{"200", "400", "401", "500"} {
					if op.Responses.Value(code) == nil {
						t.Errorf("%s: no %s response", name, code)
					}
				}
			}
			if method == http.MethodPost {
				body := op.RequestBody
				if body == nil || body.Value == nil {
					t.Errorf("%s: no request body", name)
					continue
				}
				for _, ct := range []string{"application/json", "application/yaml"} {
					if body.Value.Content.Get(ct) == nil {
						t.Errorf("%s: request body lacks %s", name, ct)
					}
				}
				if op.Responses.Value("413") == nil {
					t.Errorf("%s: no 413 response", name)
				}
			}
			for _, p := range append(item.Parameters, op.Parameters...) {
				if p.Value.Name == "uid" && p.Value.Schema.Value.Format != "uuid" {
					t.Errorf("%s: uid is not format uuid", name)
				}
			}
			for code, resp := range op.Responses.Map() {
				if code[0] != '4' && code[0] != '5' {
					continue
				}
				mt := resp.Value.Content.Get("application/json")
				if mt == nil || mt.Schema.Ref != "#/components/schemas/Error" {
					t.Errorf("%s: %s does not answer the Error schema", name, code)
				}
			}
		}
	}
}

func TestSchemas(t *testing.T) {
	doc := load(t)
	// Field names are wire-exact (api-v1.md §4); a few that clients depend on.
	fields := map[string][]string{
		"User":            {"name", "created_at", "updated_at", "hash", "password"},
		"UserHash":        {"Algo", "Salt", "Hash"},
		"Label":           {"UID", "created_at", "definitions", "metadata", "name", "version"},
		"Resources":       {"cpu", "ram", "disks", "network", "node_filter", "multitenancy", "cpu_overbook", "ram_overbook", "lifetime"},
		"Application":     {"UID", "created_at", "label_UID", "metadata", "owner_name"},
		"ApplicationTask": {"UID", "application_UID", "created_at", "updated_at", "options", "result", "task", "when"},
		"Resource":        {"UID", "application_UID", "node_UID", "label_UID", "definition_index", "identifier", "ip_addr", "hw_addr", "metadata"},
		"Vote":            {"UID", "application_UID", "node_UID", "round", "available", "rand"},
		"Node":            {"UID", "name", "definition", "location_name", "address", "pubkey"},
		"ServiceMapping":  {"UID", "service", "redirect", "location_name", "application_UID"},
		"Maintenance":     {"enable", "shutdown", "shutdown_delay"},
		"Error":           {"message"},
	}
	for name, props := range fields {
		ref := doc.Components.Schemas[name]
		if ref == nil {
			t.Errorf("schema %s missing", name)
			continue
		}
		for _, p := range props {
			if ref.Value.Properties[p] == nil {
				t.Errorf("schema %s lacks %s", name, p)
			}
		}
	}
	status := doc.Components.Schemas["ApplicationStatus"].Value.Enum
	if len(status) != 7 {
		t.Errorf("ApplicationStatus enum = %v", status)
	}
}
