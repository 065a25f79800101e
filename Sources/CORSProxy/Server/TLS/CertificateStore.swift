public import FoundationEssentials
internal import Logging
internal import NIOConcurrencyHelpers
internal import NIOSSL

/// The certificate the listener serves, and the watcher that replaces it when its files change, without a restart.
///
/// Each new connection's initializer reads ``context`` once, under a lock, and makes its `NIOSSLServerHandler` from
/// it; a reload swaps the context whole, so a handshake uses either the old pair or the new one, never a mix, and
/// connections already open keep the session they negotiated.
///
/// **Why polling `stat`, not inotify.** ``watch()`` stats both files every ``pollInterval`` (500 ms), following
/// symlinks, and reads them only when a stamp changed (``FileStamp``). That one rule sees every way certificates
/// are replaced — rewritten in place, renamed over, or reached through a swapped symlink, as Kubernetes secret
/// volumes (`..data`) and certbot (`live/` → `archive/`) do — whereas inotify watches directories, not what a path
/// resolves to: a symlink swap changes an entry in a directory that may be two links away from the one the config
/// names, so every directory along every link would need a watch, re-armed whenever a link moves. inotify is also
/// Linux-only, and a Kubernetes secret's update is visible to `stat` the moment it lands. Four `stat` calls a
/// second cost nothing measurable; the price is up to one interval of delay, and a change is loaded only after
/// holding still for one more (``StateMachine``), so a new pair serves 0.5 to 1 s after it is written.
///
/// A pair that cannot serve — a key that is not the certificate's, an unreadable or half-written file — is
/// refused: the old context keeps serving, ``Status/reloadsFailed`` counts it, and it is logged once per distinct
/// reason (`TLS certificate pair refused; the old certificate keeps serving`).
///
/// Thread-safe: ``context`` and ``status`` are read from any thread; ``watch()`` runs on one task.
public final class CertificateStore: Sendable {
    /// What the store has done, for metrics (`corsproxy_tls_*`) and the admin endpoints.
    public struct Status: Sendable, Hashable {
        /// Changes of the files that were loaded and now serve (the load at start is not counted).
        public var reloadsSucceeded = 0
        /// Changes of the files that were refused, the old pair serving on.
        public var reloadsFailed = 0
        /// When the certificate serving now expires (its `notAfter`).
        public var notValidAfter: Date?
    }

    /// The `tls.certificate` file, resolved.
    public let certificatePath: String
    /// The `tls.privateKey` file, resolved.
    public let privateKeyPath: String
    /// How often ``watch()`` stats the files.
    public let pollInterval: Duration
    private let logger: Logger

    private struct State {
        var pair: CertificatePair
        var machine: StateMachine
        var status: Status
        /// The last refusal logged since the last good load, so a failure repeating itself is logged once.
        var lastLogged: CertificatePair.Refusal?
    }

    private let state: NIOLockedValueBox<State>

    /// Loads the pair that serves from the start.
    /// - Parameters:
    ///   - tls: The config's `tls` (paths resolved).
    ///   - logger: For reloads and refusals.
    ///   - pollInterval: How often ``watch()`` stats the files.
    /// - Throws: ``CertificatePair/Refusal`` when the pair cannot serve.
    init(
        tls: ProxyConfig.TLS,
        logger: Logger,
        pollInterval: Duration = .milliseconds(500)
    ) throws(CertificatePair.Refusal) {
        self.certificatePath = tls.certificate
        self.privateKeyPath = tls.privateKey
        self.pollInterval = pollInterval
        self.logger = logger
        let stamps = Stamps(certificate: tls.certificate, privateKey: tls.privateKey)
        let pair = try CertificatePair.load(certificate: tls.certificate, privateKey: tls.privateKey)
        self.state = NIOLockedValueBox(
            State(
                pair: pair,
                machine: StateMachine(loaded: stamps),
                status: Status(notValidAfter: pair.notValidAfter),
                lastLogged: nil
            )
        )
    }

    /// The context new handshakes use.
    var context: NIOSSLContext {
        self.state.withLockedValue { $0.pair.context }
    }

    /// Counters and the expiry of the certificate in force.
    public var status: Status {
        self.state.withLockedValue { $0.status }
    }

    /// Polls the files until the task is cancelled (at the server's shutdown).
    ///
    /// Reading two small files and a `stat` each are blocking calls of microseconds, made on the task's thread.
    public func watch() async {
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: self.pollInterval)
            } catch {
                return
            }
            self.poll()
        }
    }

    /// One poll: stat both files and, once a change has settled, load and swap or refuse.
    func poll() {
        let stamps = Stamps(certificate: self.certificatePath, privateKey: self.privateKeyPath)
        guard self.state.withLockedValue({ $0.machine.polled(stamps) }) == .load else { return }
        do {
            let pair = try CertificatePair.load(certificate: self.certificatePath, privateKey: self.privateKeyPath)
            self.state.withLockedValue { state in
                state.pair = pair
                state.status.reloadsSucceeded += 1
                state.status.notValidAfter = pair.notValidAfter
                state.lastLogged = nil
            }
            self.logger.notice(
                "TLS certificate reloaded",
                metadata: [
                    "tls.certificate": "\(self.certificatePath)",
                    "tls.serial": "\(pair.serialNumber)",
                    "tls.notValidAfter": "\(pair.notValidAfter.formatted(.iso8601))",
                ]
            )
        } catch {
            let isNew = self.state.withLockedValue { state in
                state.status.reloadsFailed += 1
                defer { state.lastLogged = error }
                return state.lastLogged != error
            }
            guard isNew else { return }
            self.logger.warning(
                "TLS certificate pair refused; the old certificate keeps serving",
                metadata: [
                    "tls.reason": "\(error)",
                    "tls.certificate": "\(self.certificatePath)",
                    "tls.privateKey": "\(self.privateKeyPath)",
                ]
            )
        }
    }
}
