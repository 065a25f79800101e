/// A server a test starts and must stop again, whatever happens in between.
protocol StoppableServer: Sendable {
    func stop() async
}

/// Runs `body` with the started `server`, then stops it, also when `body` throws.
func withStarted<Server: StoppableServer, T>(
    _ server: Server,
    _ body: (Server) async throws -> T
) async throws -> T {
    do {
        let result = try await body(server)
        await server.stop()
        return result
    } catch {
        await server.stop()
        throw error
    }
}
