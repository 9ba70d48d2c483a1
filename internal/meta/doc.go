// Package meta serves the metadata API to resources: a running resource (VM, container, instance
// or native session) fetches the merged metadata of its application from /meta/v1/data/ without
// credentials, identified by its network address only, and chooses how the metadata is rendered
// (JSON, or KEY=VALUE lines for shells and PowerShell).
package meta
