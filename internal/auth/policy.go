package auth

// AdminName is the name of the one administrator: there are no roles or groups (api-v1.md §2).
const AdminName = "admin"

// IsAdmin reports whether the named user is the administrator.
func IsAdmin(name string) bool {
	return name == AdminName
}

// CanAccess reports whether caller may see or act on an object owned by owner (applications,
// their states, tasks and resources): the administrator may, and so may the owner.
func CanAccess(caller, owner string) bool {
	return IsAdmin(caller) || (caller != "" && caller == owner)
}
