package model

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"
)

// UID identifies every object that has one. The zero value is the "null" UUID.
type UID = uuid.UUID

// NilUID is the null UUID, meaning "none" (for example a cluster-wide service mapping).
var NilUID = uuid.Nil

// Status is the status of an application.
type Status string

// The application statuses, exact on the wire.
const (
	StatusNew         Status = "NEW"
	StatusElected     Status = "ELECTED"
	StatusAllocated   Status = "ALLOCATED"
	StatusDeallocate  Status = "DEALLOCATE"
	StatusRecalled    Status = "RECALLED"
	StatusDeallocated Status = "DEALLOCATED"
	StatusError       Status = "ERROR"
)

// Active reports whether an application in this status can still be deallocated by a user.
func (s Status) Active() bool {
	return s == StatusNew || s == StatusElected || s == StatusAllocated
}

// Final reports whether nothing more happens to an application in this status.
func (s Status) Final() bool {
	return s == StatusDeallocated || s == StatusError || s == StatusRecalled
}

// UserHash is the user's password hash as shown on the wire: the algorithm only. The real salt
// and key never leave the node.
type UserHash struct {
	Algo string `json:"Algo"`
	Hash string `json:"Hash"`
	Salt string `json:"Salt"`
}

// User is an API user. Password is set only in the response that created the user with a
// generated password.
type User struct {
	CreatedAt time.Time `json:"created_at"`
	Hash      UserHash  `json:"hash"`
	Name      string    `json:"name"`
	Password  string    `json:"password,omitempty"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Label is a versioned, immutable template of resources.
type Label struct {
	UID         UID               `json:"UID"`
	CreatedAt   time.Time         `json:"created_at"`
	Definitions []LabelDefinition `json:"definitions"`
	Metadata    json.RawMessage   `json:"metadata"`
	Name        string            `json:"name"`
	Version     int64             `json:"version"`
}

// LabelDefinition is one way to serve a label: a driver, its options and the resources.
type LabelDefinition struct {
	Driver    string          `json:"driver"`
	Options   json.RawMessage `json:"options"`
	Resources Resources       `json:"resources"`
}

// Resources describes what a definition needs.
type Resources struct {
	CPU          uint32                   `json:"cpu"`
	CPUOverbook  bool                     `json:"cpu_overbook"`
	Disks        map[string]ResourcesDisk `json:"disks"`
	Lifetime     string                   `json:"lifetime"`
	Multitenancy bool                     `json:"multitenancy"`
	Network      string                   `json:"network"`
	NodeFilter   []string                 `json:"node_filter"`
	RAM          uint32                   `json:"ram"`
	RAMOverbook  bool                     `json:"ram_overbook"`
}

// ResourcesDisk is an extra disk of a resource.
type ResourcesDisk struct {
	Clone string `json:"clone"`
	Label string `json:"label"`
	Reuse bool   `json:"reuse"`
	Size  uint32 `json:"size"`
	Type  string `json:"type"`
}

// Application is a user's request for a resource of a label.
type Application struct {
	UID       UID             `json:"UID"`
	CreatedAt time.Time       `json:"created_at"`
	LabelUID  UID             `json:"label_UID"`
	Metadata  json.RawMessage `json:"metadata"`
	OwnerName string          `json:"owner_name"`
}

// ApplicationState is one entry of an application's append-only status history.
type ApplicationState struct {
	UID            UID       `json:"UID"`
	ApplicationUID UID       `json:"application_UID"`
	CreatedAt      time.Time `json:"created_at"`
	Description    string    `json:"description"`
	Status         Status    `json:"status"`
}

// ApplicationTask is work the executing node runs on a resource when its application reaches
// the status When. An empty Result ({}) means not executed yet.
type ApplicationTask struct {
	UID            UID             `json:"UID"`
	ApplicationUID UID             `json:"application_UID"`
	CreatedAt      time.Time       `json:"created_at"`
	Options        json.RawMessage `json:"options"`
	Result         json.RawMessage `json:"result"`
	Task           string          `json:"task"`
	UpdatedAt      time.Time       `json:"updated_at"`
	When           Status          `json:"when"`
}

// Resource is what a driver allocated for an application.
type Resource struct {
	UID             UID             `json:"UID"`
	ApplicationUID  UID             `json:"application_UID"`
	CreatedAt       time.Time       `json:"created_at"`
	DefinitionIndex int             `json:"definition_index"`
	HwAddr          string          `json:"hw_addr"`
	Identifier      string          `json:"identifier"`
	IPAddr          string          `json:"ip_addr"`
	LabelUID        UID             `json:"label_UID"`
	Metadata        json.RawMessage `json:"metadata"`
	NodeUID         UID             `json:"node_UID"`
	UpdatedAt       time.Time       `json:"updated_at"`
}

// Vote is a node's answer in one election round of an application: the index of the first label
// definition it can serve, or -1.
type Vote struct {
	UID            UID       `json:"UID"`
	ApplicationUID UID       `json:"application_UID"`
	Available      int       `json:"available"`
	CreatedAt      time.Time `json:"created_at"`
	NodeUID        UID       `json:"node_UID"`
	Rand           uint32    `json:"rand"`
	Round          uint16    `json:"round"`
}

// Node is a member of the cluster.
type Node struct {
	UID          UID             `json:"UID"`
	Address      string          `json:"address"`
	CreatedAt    time.Time       `json:"created_at"`
	Definition   json.RawMessage `json:"definition"`
	LocationName string          `json:"location_name"`
	Name         string          `json:"name"`
	Pubkey       []byte          `json:"pubkey,omitempty"`
	// Role is the node's raft role as the answering node sees it: leader, voter, nonvoter, or
	// "" when it is not a member now. It is not stored.
	Role string `json:"role,omitempty"`
	// UpdatedAt is when the node was last seen alive (its latest heartbeat).
	UpdatedAt time.Time `json:"updated_at"`
}

// Location groups nodes for service mappings.
type Location struct {
	CreatedAt   time.Time `json:"created_at"`
	Description string    `json:"description"`
	Name        string    `json:"name"`
}

// ServiceMapping redirects a resource's proxy requests for Service to Redirect.
type ServiceMapping struct {
	UID            UID       `json:"UID"`
	ApplicationUID UID       `json:"application_UID"`
	CreatedAt      time.Time `json:"created_at"`
	LocationName   string    `json:"location_name"`
	Redirect       string    `json:"redirect"`
	Service        string    `json:"service"`
}

// NewUID makes a random UID whose first 6 bytes are those of the node UID, so every object tells
// which node created it (behaviour.md §7).
func NewUID(node UID) UID {
	u := uuid.New()
	copy(u[:6], node[:6])
	return u
}
