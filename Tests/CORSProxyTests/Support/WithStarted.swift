/// A server a test starts and must stop again, whatever happens in between.
protocol StoppableServer: Sendable {
    func stop() async
}

/// Runs `body` with the started `server`, then stops it, also when `body` throws.
func withStarted<Server: StoppableServer, T>(
    _ server: Server,
    _ body: (Server) async throws -> T
) async throws -> T {
    try await withStarted(server, stoppedBy: { await $0.stop() }, body)
}

/// Runs `body` with `resource`, then `stop`s it, also when `body` throws.
func withStarted<Resource, T>(
    _ resource: Resource,
    stoppedBy stop: (Resource) async -> Void,
    _ body: (Resource) async throws -> T
) async throws -> T {
    do {
        let result = try await body(resource)
        await stop(resource)
        return result
    } catch {
        await stop(resource)
        throw error
    }
}
