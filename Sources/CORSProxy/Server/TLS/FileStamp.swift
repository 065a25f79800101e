internal import FoundationEssentials

#if canImport(Glibc)
internal import Glibc
#elseif canImport(Darwin)
internal import Darwin
#endif

/// What a file's path resolves to and what `stat(2)` says of that file: enough to tell that it was replaced or
/// rewritten.
///
/// Following symlinks is what makes a symlink swap visible: Kubernetes updates a mounted secret by pointing the
/// `..data` symlink at a new directory, certbot by pointing `live/NAME/fullchain.pem` at a new `archive/` file;
/// the path the config names stays the same, the inode it resolves to changes. A rename over the file changes the
/// inode too; a rewrite in place changes the size or the modification time. A file that cannot be resolved or
/// stat'ed is stamped with its `errno`, so its going away, or coming back, is a change as well.
///
/// The symlinks are resolved with `realpath(3)` and the target stat'ed through `FileManager`, not by reading
/// `struct stat` here: under MemberImportVisibility its fields belong to whichever C module first included the
/// system header, which differs between builds.
struct FileStamp: Hashable, Sendable {
    private enum Value: Hashable, Sendable {
        case file(path: String, device: String, inode: String, size: String, modified: Date?)
        case missing(errno: Int32)
    }

    private let value: Value

    /// Stats what `path` resolves to, now.
    init(path: String) {
        guard let resolved = realpath(path, nil) else {
            self.value = .missing(errno: errno)
            return
        }
        let target = String(cString: resolved)
        free(resolved)
        do {
            let attributes = try FileManager.default.attributesOfItem(atPath: target)
            self.value = .file(
                path: target,
                device: "\(attributes[.deviceIdentifier] ?? "")",
                inode: "\(attributes[.systemFileNumber] ?? "")",
                size: "\(attributes[.size] ?? "")",
                modified: attributes[.modificationDate] as? Date
            )
        } catch {
            self.value = .missing(errno: ENOENT)
        }
    }
}
