extension ConfigReloader {
    /// Decides when a reload runs, so that triggers which overlap coalesce and two reloads never run at once.
    /// Pure: the reloader keeps the waiters and does the reading; this says what each event means.
    ///
    /// A trigger while idle starts a reload. A trigger while one runs cannot join it — that reload may have read
    /// the file before the change that caused the trigger — so it asks for one more round after it; any number of
    /// triggers during one round make one more round, not one each. The round after is an explicit one (read and
    /// reported even if the file is as it was) when any of the triggers that asked for it was explicit.
    struct StateMachine {
        enum RequestAction: Equatable {
            /// Nothing was running: the caller runs the reload now.
            case reload
            /// A reload is running: wait for the round that starts when it ends.
            case waitForNextRound
        }

        enum FinishAction: Equatable {
            /// No trigger came during the round.
            case becomeIdle
            /// Triggers came during the round: run one more, as this trigger.
            case reloadAgain(Trigger)
        }

        private enum State {
            case idle
            case reloading
            /// Reloading, and triggers arrived meanwhile: their merged trigger.
            case reloadingThenAgain(Trigger)
        }

        private var state = State.idle

        var isIdle: Bool {
            if case .idle = self.state { return true }
            return false
        }

        mutating func requested(_ trigger: Trigger) -> RequestAction {
            switch self.state {
            case .idle:
                self.state = .reloading
                return .reload
            case .reloading:
                self.state = .reloadingThenAgain(trigger)
                return .waitForNextRound
            case .reloadingThenAgain(let pending):
                self.state = .reloadingThenAgain(pending.merged(with: trigger))
                return .waitForNextRound
            }
        }

        mutating func finished() -> FinishAction {
            switch self.state {
            case .idle:
                preconditionFailure("a reload finished while none was running")
            case .reloading:
                self.state = .idle
                return .becomeIdle
            case .reloadingThenAgain(let trigger):
                self.state = .reloading
                return .reloadAgain(trigger)
            }
        }
    }
}

extension ConfigReloader.Trigger {
    /// One trigger for two that wait for the same round: an explicit one wins over a file change, so a `SIGHUP`
    /// or `POST /reload` that coalesced with the watcher still reads and reports the file.
    func merged(with other: Self) -> Self {
        self == .fileChange ? other : self
    }
}
