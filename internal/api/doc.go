// Package api serves the REST API v1 (/api/v1/) over the node's HTTPS listener: routing with the
// exact paths of api/openapi.yaml, HTTP Basic authentication against a cache of verified
// credentials, body decoding (JSON and YAML, 64 KB at most), the users policy, and one place that
// turns errors into status codes and {"message": ...} bodies.
//
// Handlers read from the local state and change it only through Store.Apply, so every change is
// a replicated command.
package api
