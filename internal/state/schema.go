package state

// migrations are applied in order; the index+1 is the schema version stored in user_version.
// Append only: a released migration never changes.
var migrations = []string{
	// 1: the objects of API v1.
	`
CREATE TABLE user (
	seq INTEGER PRIMARY KEY,
	name TEXT NOT NULL UNIQUE,
	created_at TEXT NOT NULL,
	updated_at TEXT NOT NULL,
	algo TEXT NOT NULL,
	hash BLOB NOT NULL
);
CREATE TABLE label (
	seq INTEGER PRIMARY KEY,
	uid TEXT NOT NULL UNIQUE,
	created_at TEXT NOT NULL,
	name TEXT NOT NULL,
	version INTEGER NOT NULL,
	definitions TEXT NOT NULL,
	metadata TEXT NOT NULL,
	UNIQUE (name, version)
);
CREATE TABLE application (
	seq INTEGER PRIMARY KEY,
	uid TEXT NOT NULL UNIQUE,
	created_at TEXT NOT NULL,
	owner_name TEXT NOT NULL,
	label_uid TEXT NOT NULL,
	metadata TEXT NOT NULL,
	status TEXT NOT NULL,
	node_uid TEXT NOT NULL DEFAULT '',
	definition_index INTEGER NOT NULL DEFAULT -1,
	round INTEGER NOT NULL DEFAULT 0,
	round_closed INTEGER NOT NULL DEFAULT 0,
	status_at TEXT NOT NULL
);
CREATE INDEX application_status ON application (status, seq);
CREATE INDEX application_node ON application (node_uid, status);
CREATE INDEX application_owner ON application (owner_name, seq);
CREATE TABLE application_state (
	seq INTEGER PRIMARY KEY,
	uid TEXT NOT NULL UNIQUE,
	application_uid TEXT NOT NULL,
	created_at TEXT NOT NULL,
	status TEXT NOT NULL,
	description TEXT NOT NULL
);
CREATE INDEX application_state_app ON application_state (application_uid, seq);
CREATE TABLE application_task (
	seq INTEGER PRIMARY KEY,
	uid TEXT NOT NULL UNIQUE,
	application_uid TEXT NOT NULL,
	created_at TEXT NOT NULL,
	updated_at TEXT NOT NULL,
	task TEXT NOT NULL,
	"when" TEXT NOT NULL,
	options TEXT NOT NULL,
	result TEXT NOT NULL
);
CREATE INDEX application_task_app ON application_task (application_uid, seq);
CREATE TABLE resource (
	seq INTEGER PRIMARY KEY,
	uid TEXT NOT NULL UNIQUE,
	created_at TEXT NOT NULL,
	updated_at TEXT NOT NULL,
	application_uid TEXT NOT NULL UNIQUE,
	node_uid TEXT NOT NULL,
	label_uid TEXT NOT NULL,
	definition_index INTEGER NOT NULL,
	identifier TEXT NOT NULL,
	ip_addr TEXT NOT NULL,
	hw_addr TEXT NOT NULL,
	metadata TEXT NOT NULL
);
CREATE INDEX resource_node ON resource (node_uid);
CREATE INDEX resource_ip ON resource (ip_addr);
CREATE INDEX resource_hw ON resource (hw_addr);
CREATE TABLE vote (
	seq INTEGER PRIMARY KEY,
	uid TEXT NOT NULL UNIQUE,
	created_at TEXT NOT NULL,
	application_uid TEXT NOT NULL,
	node_uid TEXT NOT NULL,
	round INTEGER NOT NULL,
	available INTEGER NOT NULL,
	rand INTEGER NOT NULL,
	UNIQUE (application_uid, node_uid, round)
);
CREATE TABLE node (
	seq INTEGER PRIMARY KEY,
	uid TEXT NOT NULL UNIQUE,
	created_at TEXT NOT NULL,
	updated_at TEXT NOT NULL,
	name TEXT NOT NULL UNIQUE,
	definition TEXT NOT NULL,
	location_name TEXT NOT NULL,
	address TEXT NOT NULL,
	pubkey TEXT NOT NULL,
	drivers TEXT NOT NULL DEFAULT '[]',
	maintenance INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE location (
	seq INTEGER PRIMARY KEY,
	name TEXT NOT NULL UNIQUE,
	created_at TEXT NOT NULL,
	description TEXT NOT NULL
);
CREATE TABLE service_mapping (
	seq INTEGER PRIMARY KEY,
	uid TEXT NOT NULL UNIQUE,
	created_at TEXT NOT NULL,
	service TEXT NOT NULL,
	redirect TEXT NOT NULL,
	location_name TEXT NOT NULL,
	application_uid TEXT NOT NULL,
	UNIQUE (application_uid, location_name, service)
);
CREATE INDEX service_mapping_service ON service_mapping (service);
`,
	// 2: when the current election round opened, for the round deadline.
	`ALTER TABLE application ADD COLUMN round_at TEXT NOT NULL DEFAULT '';`,
	// 3: the definition the election chose, kept with the application so that serving it never
	// depends on the label still existing (labels can be deleted).
	`ALTER TABLE application ADD COLUMN definition TEXT NOT NULL DEFAULT '';`,
}
