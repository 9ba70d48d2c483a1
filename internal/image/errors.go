package image

import "errors"

// Sentinels for errors.Is. Get's errors read
// "image <name>-<version>: <sentinel text>: <detail>".
var (
	// ErrInvalid matches every Image.Validate error.
	ErrInvalid = errors.New("invalid image")
	// ErrDownload: the URL could not be fetched (network error or a status
	// other than 200).
	ErrDownload = errors.New("unable to download")
	// ErrChecksum: the archive, or the server's X-Checksum-<Algo> header,
	// does not match Image.Sum.
	ErrChecksum = errors.New("checksum mismatch")
	// ErrUnsafeArchive: a member would land outside the image directory
	// (absolute name, "..", a link whose target escapes).
	ErrUnsafeArchive = errors.New("archive member escapes target")
	// ErrArchive: the archive is not a readable .tar.xz.
	ErrArchive = errors.New("bad archive")
	// ErrLayout: Cache.RequireNamedSubdir is set and the unpacked image has
	// no sub-directory whose name starts with the image name.
	ErrLayout = errors.New("unexpected image layout")
	// ErrLockTimeout: another process held the image lock longer than
	// Cache.LockWait.
	ErrLockTimeout = errors.New("timed out waiting for image lock")
)
