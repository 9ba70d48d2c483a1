// Package docker is the "docker" resource driver: every resource is a container run by a Docker
// Engine, reached through the engine's API (the official Go client, configured from the
// environment like the CLI: DOCKER_HOST, DOCKER_TLS_VERIFY, DOCKER_CERT_PATH, DOCKER_API_VERSION),
// so a remote engine works as well as the local one. The docker CLI is never run.
//
// # Images
//
// The label option "images" lists image archives (.tar.xz, see internal/image). Each is fetched
// into the image cache (config images_path, default <workdir>/fish_docker_images) and unpacked
// to <images_path>/<name>-<version>/. The unpacked directory holds ONE tarball in `docker save`
// format, looked up in this order:
//
//	<name>/<name>.tar      the documented layout
//	<name>.tar
//	*.tar or */*.tar       when exactly one such file exists
//
// The tarball is loaded into the engine once and tagged <name>:<version> (":latest" when the
// archive has no version); an engine that already has <name>:<version> is not asked again, and
// concurrent allocations of one image wait for a single load. The last image of the list is the
// one run; earlier ones are loaded first (their layers are parents of the last).
//
// # Sandbox
//
// A container is named fish-<its MAC address without colons> (drivers.md §3.3); the MAC is the
// random tail of the application UID, locally administered, so a retried allocation of the same
// application finds what an interrupted one left. Every resource gets its own bridge network
// named like the container, with the host interface fb-<12 hex>. By default (resources.network "" or "hostonly") the network is
// internal: the container reaches no other container, no other network and not the outside
// world. The engine still lets it reach the host itself (the gateway, and through it every
// address of the host) on every port where a host process listens on a wildcard address, so the
// driver filters that with iptables (the host firewall, not the docker CLI): a chain of its own,
// FISH-SANDBOX in the filter table, which INPUT jumps to for the packets coming in on fb-+. For
// each resource bridge, before its container starts, the chain gets
//
//	-A FISH-SANDBOX -i fb-<id> -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
//	-A FISH-SANDBOX -i fb-<id> -d <gateway> -p tcp -m multiport --dports <api port>,<proxy port> -j ACCEPT
//	-A FISH-SANDBOX -i fb-<id> -j DROP
//
// each tagged with the comment fish:<resource identifier>: the container reaches the node's meta
// API and proxy on the gateway, answers connections the host opens, and nothing else of the host
// (no other TCP port, no UDP, no ICMP). The ports are the node's endpoints at allocation time
// (driver.Env.Endpoints), also recorded on the network (label aquarium-fish.host-ports). The rules
// of a resource are removed with its bridge (deallocation, Destroy, the cleanup of an
// interrupted allocation) and never before: while a bridge exists, its rules stay. When the
// driver starts, it removes the tagged rules of every bridge that no longer exists (each bridge
// is one resource's, so this is safe for the resources of other nodes sharing the host), and
// installs again the rules of this node's networks that lost theirs (a flushed firewall). The
// same applies to "nat" networks: outside access does not open the host's services.
//
// The host firewall is on by default (config host_firewall, with the binary iptables_path,
// "iptables" from PATH by default). It needs an engine on a local unix socket running in the
// node's network namespace (its default bridge is a local interface), and iptables working
// (iptables -w -L -n succeeds: the node runs as root). Where it cannot work (a remote engine, no
// iptables, not root) or host_firewall is false, the driver starts anyway and logs a warning
// that resources can reach the host's services; a host in that case filters the fb-+ interfaces
// in its INPUT chain itself. IPv6 needs no rules: the networks have no IPv6 and the engine
// disables it inside the containers.
//
// resources.network "nat" makes a normal bridge with NAT (outside access, still isolated from
// other containers by the engine). Each network takes one of the engine's address pools; the
// default pools of an engine give about 30 networks, so a host running more resources at once
// configures "default-address-pools" (for example 10.200.0.0/16 split into /24) in daemon.json.
//
// The container learns where the node is from two environment variables, built from the
// network's gateway and the ports the node really listens on (driver.Env.Endpoints):
//
//	FISH_META_URL=https://<gateway>:<api port>/meta/v1/data/
//	FISH_PROXY=socks5://<gateway>:<proxy port>
//
// So the node's api_address and proxy_address must accept connections on the bridge: listen on
// 0.0.0.0 (or [::]). A node listening on loopback only is unreachable from containers; the
// driver logs a warning at every allocation then.
//
// # Metadata
//
// The merged metadata is given to the container as environment variables when it is created,
// named like the lines of the meta API's env format (nested keys joined with "_", only
// [A-Za-z0-9_], no leading digits) with the raw value (no shell quoting: the engine passes it
// verbatim). It is never written to a file nor logged, but, like any container environment, it
// is visible to whoever may inspect the container through the engine API.
//
// # Resources, disks and labels
//
// resources.cpu and resources.ram become the container's CPU quota (NanoCPUs) and memory limit
// (with swap equal to it: no swap). Each resources.disks entry (type "" or "dir") is a docker
// volume mounted at its label (a relative label lives under /mnt, an empty one is /mnt/<disk
// name>); "size" is not enforced (local volumes have no quota). A volume is removed with its
// container unless "reuse" is set: a reused volume is named fish-<first 8 hex digits of the node
// UID>-disk-<disk name> and outlives the resources of this node that mount it. Deallocation
// removes the container by force (no graceful stop: the resource is disposable), then its
// network, its host firewall rules and its volumes; what is already gone is not an error.
//
// Every container, network and volume carries the labels aquarium-fish.node (node UID),
// aquarium-fish.driver (driver instance name), aquarium-fish.resource (identifier) and
// aquarium-fish.application (application UID), so a restarted node finds what it created
// (driver.Inventory) and never touches what another node or driver instance created.
//
// # Snapshot task
//
// The task "snapshot" commits the container to <name>:<version>-snapshot-<UTC timestamp> and
// saves it (docker save) into the image cache as <name>-<version>-snapshot-<timestamp>/<name>/
// <name>.tar. A later label uses it with an image entry naming it explicitly, e.g.
// {"url": "https://any/where.tar.xz", "name": "<name>", "version": "<version>-snapshot-<ts>"}:
// neither the engine (which has the tag) nor the cache (which has the directory) downloads
// anything then. Metadata is not kept in the snapshot: every variable the container got from the
// driver is reset to an empty value in the image's configuration.
package docker
