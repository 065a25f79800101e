extension CertificateStore {
    /// The stamps of both files, taken together at one poll.
    struct Stamps: Hashable, Sendable {
        var certificate: FileStamp
        var privateKey: FileStamp

        init(certificate: String, privateKey: String) {
            self.certificate = FileStamp(path: certificate)
            self.privateKey = FileStamp(path: privateKey)
        }
    }

    /// Decides, one poll at a time, when the files are read again. Pure: the store stats, this decides.
    ///
    /// A change is loaded once it has held still for one poll. Tools write the two files one after the other
    /// (certbot, `cp`, an editor), so the moment between the new certificate and the new key is a mismatched
    /// pair that nobody meant; waiting one interval lets both land, and a half-written file that then stays
    /// half-written is refused like any other bad pair. A stamp that was tried, loaded or refused, is not tried
    /// again: a refused pair is read, counted and logged once, not at every poll, and the next change of either
    /// file is tried afresh. With a 500 ms interval a change is picked up 0.5 to 1 s after it happens.
    struct StateMachine {
        enum Action: Equatable {
            case none
            /// Read both files now; the stamps taken before reading are the ones tried.
            case load
        }

        private enum State {
            /// The files are as they were when last tried.
            case steady(tried: Stamps)
            /// They changed at the last poll; loaded if the next poll sees them unchanged.
            case settling(tried: Stamps, seen: Stamps)
        }

        private var state: State

        /// - Parameter loaded: The stamps taken before the pair in force was read.
        init(loaded: Stamps) {
            self.state = .steady(tried: loaded)
        }

        mutating func polled(_ stamps: Stamps) -> Action {
            switch self.state {
            case .steady(let tried):
                if stamps != tried { self.state = .settling(tried: tried, seen: stamps) }
                return .none
            case .settling(let tried, let seen):
                if stamps == tried {
                    // Changed and changed back (a `touch` undone, a rename there and back): nothing to load.
                    self.state = .steady(tried: tried)
                    return .none
                }
                if stamps != seen {
                    self.state = .settling(tried: tried, seen: stamps)
                    return .none
                }
                self.state = .steady(tried: stamps)
                return .load
            }
        }
    }
}
