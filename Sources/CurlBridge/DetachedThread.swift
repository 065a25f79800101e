#if canImport(Glibc)
internal import Glibc
#endif

/// A plain detached pthread, for a loop that owns its thread for the life of the process (a curl loop, the log
/// writer): nothing more than that is needed, and Foundation's `Thread` would pull Foundation into the binary.
public enum DetachedThread {
    /// Runs `body` on a new detached thread.
    public static func start(_ body: @escaping @Sendable () -> Void) {
        let box = Unmanaged.passRetained(Body(body)).toOpaque()
        var thread = pthread_t()
        let result = pthread_create(
            &thread,
            nil,
            { argument in
                let body = Unmanaged<Body>.fromOpaque(argument!).takeRetainedValue()
                body.run()
                return nil
            },
            box
        )
        guard result == 0 else { fatalError("pthread_create failed: \(result)") }
        pthread_detach(thread)
    }

    private final class Body: Sendable {
        let run: @Sendable () -> Void
        init(_ run: @escaping @Sendable () -> Void) { self.run = run }
    }
}
