internal import FoundationEssentials
internal import Logging
internal import NIOConcurrencyHelpers

/// One reload: read, check, compare, swap or refuse, and log what it did.
extension ConfigReloader {
    /// Called by one round at a time (``StateMachine``), so the snapshot it compares with is the one it replaces.
    func perform(_ trigger: Trigger) -> Result {
        let current = self.store.current
        let data = FileManager.default.contents(atPath: self.path)
        let isNew = self.state.withLockedValue { state in
            defer { state.lastContent = data }
            return data != state.lastContent
        }
        if trigger == .fileChange, !isNew {
            // The watcher saw an event, but the content was tried already (a `touch`, or an editor's second
            // write of the same bytes): nothing to say again.
            return Result(outcome: .unchanged, version: current.version, changes: [], problems: [], warnings: [])
        }
        var config: ProxyConfig
        do {
            guard let data else {
                throw ConfigError(file: self.path, issues: [ConfigIssue(path: "", message: "cannot read the file")])
            }
            config = try ProxyConfig.parse(data, file: self.path, directory: ProxyConfig.directory(of: self.path))
        } catch let error as ConfigError {
            return self.refuse(error.issues.map(\.description), trigger: trigger, version: current.version)
        } catch {
            return self.refuse(["\(error)"], trigger: trigger, version: current.version)
        }
        let fileListen = config.listen
        if let listenOverride = self.listenOverride { config.listen = listenOverride }
        let warnings = config.lint().map(\.description)
        for warning in warnings {
            self.logger.warning(
                "config warning",
                metadata: ["config.file": "\(self.path)", "config.warning": "\(warning)"]
            )
        }

        var changes = ConfigChanges(from: current.config, to: config)
        let previousFileListen = self.state.withLockedValue { state in
            defer { state.fileListen = fileListen }
            return state.fileListen
        }
        if let listenOverride = self.listenOverride, let previousFileListen, previousFileListen != fileListen {
            // With `--listen` the file's `listen` is not the one in force, and comparing the overridden values
            // would hide its change; say it changed in the file and what serves instead.
            changes.needsRestart.insert(
                "listen: \(previousFileListen) → \(fileListen) in the file; serve --listen \(listenOverride) is in force",
                at: 0
            )
        }
        let restartLines = changes.needsRestart.map { "\($0) (needs a restart; not applied)" }
        var version = current.version
        if !changes.applied.isEmpty {
            version += 1
            let applied = ConfigChanges.applying(config, keeping: current.config)
            self.store.replace(with: ConfigSnapshot(config: applied, version: version))
        }
        self.state.withLockedValue { state in
            state.status.version = version
            state.status.succeeded += 1
            state.status.lastSuccess = Date()
        }
        self.metrics?.recordReload(success: true)
        for line in restartLines {
            self.logger.warning(
                "config change needs a restart; not applied",
                metadata: ["config.change": "\(line)", "config.version": "\(version)"]
            )
        }
        for line in changes.applied {
            self.logger.notice(
                "config changed",
                metadata: ["config.change": "\(line)", "config.version": "\(version)"]
            )
        }
        var metadata: Logger.Metadata = [
            "config.file": "\(self.path)",
            "config.trigger": "\(trigger.rawValue)",
            "config.version": "\(version)",
        ]
        if changes.applied.isEmpty {
            self.logger.notice(
                changes.isEmpty ? "config reloaded: no change" : "config reloaded: nothing applied",
                metadata: metadata
            )
        } else {
            metadata["config.changes"] = "\(changes.applied.count)"
            self.logger.notice("config reloaded", metadata: metadata)
        }
        return Result(
            outcome: changes.applied.isEmpty ? .unchanged : .applied,
            version: version,
            changes: changes.applied + restartLines,
            problems: [],
            warnings: warnings
        )
    }

    private func refuse(_ problems: [String], trigger: Trigger, version: Int) -> Result {
        self.state.withLockedValue { state in
            state.status.failed += 1
            state.status.lastFailure = Date()
        }
        self.metrics?.recordReload(success: false)
        for problem in problems {
            self.logger.error(
                "config reload refused; the old config keeps serving",
                metadata: [
                    "config.file": "\(self.path)",
                    "config.problem": "\(problem)",
                    "config.trigger": "\(trigger.rawValue)",
                    "config.version": "\(version)",
                ]
            )
        }
        return Result(outcome: .refused, version: version, changes: [], problems: problems, warnings: [])
    }
}
